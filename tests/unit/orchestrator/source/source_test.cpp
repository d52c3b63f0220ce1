#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "orchestrator/source/source.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/orchestrator/source/reader_helpers.hpp"

namespace {

using pw::Errc;
using pw::test::big_content;
using pw::test::Chunks;
using pw::test::commit_ok;
using pw::test::open_ok;
using pw::test::read_file;
using pw::test::read_ok;
using pw::test::stream_into;
using pw::test::TempDir;
using pw::test::write_file;
namespace source = pw::source;

// Runs a shell command, returns its stdout (trailing newline removed); fails the test
// if it exits non-zero.
std::string sh(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  int status = ::pclose(pipe);
  INFO(command << "\n" << output);
  REQUIRE(status == 0);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

// The git CLI with a fixed identity, independent of the user's configuration.
std::string git(const std::string& dir, const std::string& args) {
  return sh("git -C '" + dir + "' -c user.name=Cli -c user.email=cli@example.com " +
            "-c commit.gpgsign=false -c tag.gpgsign=false " + args);
}

// open_ok, read_ok, commit_ok, Chunks, stream_into, big_content: reader_helpers.hpp.

// A repository with two commits made by the source module:
//   first:  metadata/root.json = "root v1", metadata/old.json = "old", targets/app.bin
//   second: metadata/root.json = "root v2", metadata/old.json deleted
struct TwoCommitRepo {
  TempDir tmp;
  std::string dir = tmp / "repo";
  std::string first;
  std::string second;

  TwoCommitRepo() {
    REQUIRE(source::init_git(dir).ok());
    write_file(dir + "/metadata/root.json", "root v1");
    write_file(dir + "/metadata/old.json", "old");
    write_file(dir + "/targets/app.bin", "binary");
    first = commit_ok(dir, {"metadata", "targets"}, "first");
    write_file(dir + "/metadata/root.json", "root v2");
    std::filesystem::remove(dir + "/metadata/old.json");
    second = commit_ok(dir, {"metadata", "targets"}, "second");
  }
};

}  // namespace

TEST_CASE("check_relative_path accepts plain relative paths", "[source]") {
  CHECK(source::check_relative_path("a").ok());
  CHECK(source::check_relative_path("metadata/1.root.json").ok());
  CHECK(source::check_relative_path("targets/x/y/z..tar.gz").ok());
  CHECK(source::check_relative_path(".hidden/file").ok());
}

TEST_CASE("check_relative_path refuses unsafe paths", "[source]") {
  const std::vector<std::string> bad = {"",     "/etc/passwd", "../x", "a/../b",
                                        "a//b", "a/",          "./a",  "a/.",
                                        "..",   ".",           "a\\b", std::string("a\0b", 3)};
  for (const auto& path : bad) {
    auto status = source::check_relative_path(path);
    INFO("path of size " << path.size() << ": " << path);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == Errc::invalid_argument);
  }
  auto status = source::check_relative_path("a/../b");
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.error().message, Catch::Contains("\"a/../b\"") && Catch::Contains(".."));
  status = source::check_relative_path(std::string("a\0b", 3));
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.error().message, Catch::Contains("NUL"));
}

TEST_CASE("init_git creates the directory and a repository on main, once", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "a/b/repo";
  CHECK_FALSE(source::is_git_repository(dir));
  REQUIRE(source::init_git(dir).ok());
  CHECK(source::is_git_repository(dir));
  CHECK(std::filesystem::is_directory(dir + "/.git"));
  CHECK(git(dir, "symbolic-ref HEAD") == "refs/heads/main");
  // A second call leaves the repository alone.
  write_file(dir + "/metadata/a.json", "a");
  const std::string id = commit_ok(dir, {"metadata"}, "one");
  REQUIRE(source::init_git(dir).ok());
  CHECK(git(dir, "rev-parse HEAD") == id);
  // A plain directory is not a repository, nor is a subdirectory of a work tree.
  CHECK_FALSE(source::is_git_repository(tmp.path()));
  CHECK_FALSE(source::is_git_repository(dir + "/metadata"));
}

TEST_CASE("git reader reads at HEAD, a branch, a tag, full and short commit ids", "[source][git]") {
  TwoCommitRepo repo;
  git(repo.dir, "tag v1 " + repo.first);
  git(repo.dir, "tag -a v2 -m release-two " + repo.second);

  for (const std::string& spec :
       {repo.dir, repo.dir + "@HEAD", repo.dir + "@main", repo.dir + "@v2",
        repo.dir + "@" + repo.second, repo.dir + "@" + repo.second.substr(0, 10)}) {
    auto reader = open_ok(spec);
    CHECK(read_ok(*reader, "metadata/root.json") == "root v2");
    CHECK(reader->revision() == repo.second);
  }
  for (const std::string& spec :
       {repo.dir + "@v1", repo.dir + "@" + repo.first, repo.dir + "@HEAD~1", repo.dir + "@main^"}) {
    auto reader = open_ok(spec);
    CHECK(read_ok(*reader, "metadata/root.json") == "root v1");
    CHECK(read_ok(*reader, "metadata/old.json") == "old");
    CHECK(reader->revision() == repo.first);
  }
}

TEST_CASE("git reader reads committed content, not the work tree", "[source][git]") {
  TwoCommitRepo repo;
  write_file(repo.dir + "/metadata/root.json", "uncommitted");
  write_file(repo.dir + "/metadata/new.json", "uncommitted");
  auto reader = open_ok(repo.dir);
  CHECK(read_ok(*reader, "metadata/root.json") == "root v2");
  auto missing = reader->read("metadata/new.json", 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("git reader description and revision", "[source][git]") {
  TwoCommitRepo repo;
  auto reader = open_ok(repo.dir + "@main");
  CHECK(reader->revision() == repo.second);
  CHECK(reader->description() ==
        "git " + repo.dir + " at main (commit " + repo.second.substr(0, 12) + ")");
  auto head = open_ok(repo.dir);
  CHECK(head->description() ==
        "git " + repo.dir + " at HEAD (commit " + repo.second.substr(0, 12) + ")");
}

TEST_CASE("deleted files disappear in the next commit", "[source][git]") {
  TwoCommitRepo repo;
  auto reader = open_ok(repo.dir);
  auto gone = reader->read("metadata/old.json", 100);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == Errc::not_found);
  CHECK(read_ok(*reader, "targets/app.bin") == "binary");
  // The git CLI agrees.
  CHECK(git(repo.dir, "ls-tree -r --name-only HEAD") == "metadata/root.json\ntargets/app.bin");
  CHECK(git(repo.dir, "status --porcelain") == "");

  // Removing a whole directory is committed too.
  std::filesystem::remove_all(repo.dir + "/targets");
  commit_ok(repo.dir, {"metadata", "targets"}, "drop targets");
  auto later = open_ok(repo.dir);
  auto dropped = later->read("targets/app.bin", 100);
  REQUIRE_FALSE(dropped.ok());
  CHECK(dropped.error().code == Errc::not_found);
}

TEST_CASE("commit_paths stages only the given directories", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());
  write_file(dir + "/metadata/a.json", "a");
  write_file(dir + "/metadata/deep/nested/b.json", "b");
  write_file(dir + "/metadata2/c.json", "c");
  write_file(dir + "/other.txt", "other");
  write_file(dir + "/.gitignore", "*.json\n");
  commit_ok(dir, {"metadata"}, "only metadata");
  CHECK(git(dir, "ls-tree -r --name-only HEAD") == "metadata/a.json\nmetadata/deep/nested/b.json");
  CHECK(git(dir, "log -1 --format=%s") == "only metadata");
}

TEST_CASE("commit_paths refuses when nothing changed", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());

  // No files at all: nothing to make a first commit of.
  auto empty = source::commit_paths(dir, {"metadata"}, "empty");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::conflict);

  write_file(dir + "/metadata/a.json", "a");
  const std::string first = commit_ok(dir, {"metadata"}, "first");
  auto again = source::commit_paths(dir, {"metadata"}, "again");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::conflict);
  CHECK_THAT(again.error().message, Catch::Contains("nothing to commit"));
  CHECK(git(dir, "rev-parse HEAD") == first);

  // A change outside the committed directories does not count.
  write_file(dir + "/elsewhere/x", "x");
  auto outside = source::commit_paths(dir, {"metadata"}, "outside");
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == Errc::conflict);

  write_file(dir + "/metadata/a.json", "a2");
  const std::string second = commit_ok(dir, {"metadata"}, "second");
  CHECK(second != first);
  CHECK(git(dir, "rev-parse HEAD~1") == first);
}

TEST_CASE("commit_paths refuses bad arguments", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());
  write_file(dir + "/metadata/a.json", "a");
  for (const std::vector<std::string>& subdirs : std::vector<std::vector<std::string>>{
           {}, {"../x"}, {"/abs"}, {"a*"}, {"!metadata"}, {"a b"}}) {
    auto id = source::commit_paths(dir, subdirs, "message");
    REQUIRE_FALSE(id.ok());
    CHECK(id.error().code == Errc::invalid_argument);
  }
  auto no_message = source::commit_paths(dir, {"metadata"}, "  \n");
  REQUIRE_FALSE(no_message.ok());
  CHECK(no_message.error().code == Errc::invalid_argument);

  auto not_repo = source::commit_paths(tmp.path(), {"metadata"}, "message");
  REQUIRE_FALSE(not_repo.ok());
  CHECK(not_repo.error().code == Errc::not_found);
}

TEST_CASE("commit_paths uses the configured identity, else patchwave", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());
  write_file(dir + "/metadata/a.json", "a");
  // Whatever configuration applies outside the repository decides the first commit.
  const bool has_user =
      std::system(("git -C '" + dir + "' config user.name >/dev/null 2>&1 && git -C '" + dir +
                   "' config user.email >/dev/null 2>&1")
                      .c_str()) == 0;
  commit_ok(dir, {"metadata"}, "first");
  if (!has_user) {
    CHECK(git(dir, "log -1 --format='%an <%ae>|%cn <%ce>'") ==
          "patchwave <patchwave@localhost>|patchwave <patchwave@localhost>");
  }

  sh("git -C '" + dir + "' config user.name 'Repo Person'");
  sh("git -C '" + dir + "' config user.email repo@example.com");
  write_file(dir + "/metadata/a.json", "a2");
  commit_ok(dir, {"metadata"}, "second");
  CHECK(git(dir, "log -1 --format='%an <%ae>|%cn <%ce>'") ==
        "Repo Person <repo@example.com>|Repo Person <repo@example.com>");
}

TEST_CASE("repositories made by the git CLI: work tree and bare", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "cli";
  std::filesystem::create_directories(dir);
  git(dir, "init -q -b trunk");
  write_file(dir + "/metadata/root.json", "from cli");
  git(dir, "add metadata");
  git(dir, "commit -q -m cli");
  const std::string head = git(dir, "rev-parse HEAD");

  auto reader = open_ok(dir + "@trunk");
  CHECK(read_ok(*reader, "metadata/root.json") == "from cli");
  CHECK(reader->revision() == head);

  const std::string bare = tmp / "bare.git";
  sh("git clone -q --bare '" + dir + "' '" + bare + "'");
  CHECK(source::is_git_repository(bare));
  auto bare_reader = open_ok(bare);
  CHECK(read_ok(*bare_reader, "metadata/root.json") == "from cli");
  CHECK(bare_reader->revision() == head);
  CHECK_THAT(bare_reader->description(), Catch::StartsWith("git " + bare + " at HEAD"));

  // commit_paths works in a CLI-made repository on its current branch.
  write_file(dir + "/metadata/root.json", "from patchwave");
  const std::string id = commit_ok(dir, {"metadata"}, "patchwave");
  CHECK(git(dir, "rev-parse trunk") == id);
  CHECK(git(dir, "rev-parse trunk~1") == head);

  // commit_paths refuses a bare repository.
  auto bare_commit = source::commit_paths(bare, {"metadata"}, "x");
  REQUIRE_FALSE(bare_commit.ok());
  CHECK(bare_commit.error().code == Errc::invalid_argument);
}

TEST_CASE("git reader opens file:// URLs", "[source][git]") {
  TwoCommitRepo repo;
  auto reader = open_ok("file://" + repo.dir);
  CHECK(read_ok(*reader, "metadata/root.json") == "root v2");
  CHECK_THAT(reader->description(), Catch::StartsWith("git file://" + repo.dir + " at HEAD"));

  auto old = open_ok("file://" + repo.dir + "@" + repo.first);
  CHECK(read_ok(*old, "metadata/root.json") == "root v1");

  auto localhost = open_ok("file://localhost" + repo.dir + "@main");
  CHECK(localhost->revision() == repo.second);

  auto direct = source::open_git("file://" + repo.dir, "main");
  REQUIRE(direct.ok());
  CHECK((*direct)->revision() == repo.second);

  // Percent-escapes are decoded.
  const std::string spaced = repo.tmp / "with space";
  std::filesystem::rename(repo.dir, spaced);
  auto escaped = open_ok("file://" + repo.tmp.path() + "/with%20space@main");
  CHECK(escaped->revision() == repo.second);
}

TEST_CASE("other URL schemes and remote file URLs are unsupported", "[source][git]") {
  for (const std::string& spec :
       {std::string("https://example.com/manifests.git"), std::string("https://example.com/m@main"),
        std::string("ssh://git@example.com/manifests.git"), std::string("git://example.com/m"),
        std::string("file://example.com/srv/manifests")}) {
    auto reader = source::open_reader(spec);
    INFO(spec);
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.error().code == Errc::unsupported);
  }
  auto https = source::open_reader("HTTPS://example.com/x");
  REQUIRE_FALSE(https.ok());
  CHECK(https.error().code == Errc::unsupported);
  CHECK_THAT(https.error().message, Catch::Contains("https"));
}

TEST_CASE("file:// URL of a plain directory or a missing path", "[source][git]") {
  TempDir tmp;
  write_file(tmp / "plain/a.txt", "a");
  auto plain = source::open_reader("file://" + tmp.path() + "/plain");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().code == Errc::invalid_argument);
  auto missing = source::open_reader("file://" + tmp.path() + "/missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  auto bad_escape = source::open_reader("file://" + tmp.path() + "/x%2");
  REQUIRE_FALSE(bad_escape.ok());
  CHECK(bad_escape.error().code == Errc::invalid_argument);
}

TEST_CASE("bad refs are refused with the ref named", "[source][git]") {
  TwoCommitRepo repo;
  for (const std::string& ref : {std::string("no-such-branch"), std::string("v9"),
                                 std::string("0123456789abcdef0123456789abcdef01234567")}) {
    auto reader = source::open_reader(repo.dir + "@" + ref);
    INFO(ref);
    REQUIRE_FALSE(reader.ok());
    CHECK((reader.error().code == Errc::not_found || reader.error().code == Errc::git));
    CHECK_THAT(reader.error().message, Catch::Contains(ref) && Catch::Contains(repo.dir));
  }
  auto empty_ref = source::open_reader(repo.dir + "@");
  REQUIRE_FALSE(empty_ref.ok());
  CHECK(empty_ref.error().code == Errc::invalid_argument);

  // A ref that names a tree, not a commit.
  auto tree = source::open_git(repo.dir, "HEAD^{tree}");
  REQUIRE_FALSE(tree.ok());
  CHECK_THAT(tree.error().message, Catch::Contains("HEAD^{tree}"));
}

TEST_CASE("HEAD of an empty repository is not found", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());
  auto reader = source::open_reader(dir);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code == Errc::not_found);
  CHECK_THAT(reader.error().message, Catch::Contains("HEAD"));
}

TEST_CASE("git reader: missing files, directories, limits", "[source][git]") {
  TwoCommitRepo repo;
  auto reader = open_ok(repo.dir);

  auto missing = reader->read("metadata/nope.json", 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("metadata/nope.json"));

  auto directory = reader->read("metadata", 100);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == Errc::not_found);

  auto under_file = reader->read("metadata/root.json/x", 100);
  REQUIRE_FALSE(under_file.ok());
  CHECK(under_file.error().code == Errc::not_found);

  // "root v2" is 7 bytes.
  CHECK(read_ok(*reader, "metadata/root.json", 7) == "root v2");
  auto too_big = reader->read("metadata/root.json", 6);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == Errc::limit);

  Chunks chunks;
  auto streamed = stream_into(*reader, "metadata/root.json", 6, chunks);
  REQUIRE_FALSE(streamed.ok());
  CHECK(streamed.error().code == Errc::limit);
  CHECK(chunks.parts.empty());

  auto stream_missing = stream_into(*reader, "metadata/nope.json", 100, chunks);
  REQUIRE_FALSE(stream_missing.ok());
  CHECK(stream_missing.error().code == Errc::not_found);
}

TEST_CASE("git reader refuses unsafe paths", "[source][git]") {
  TwoCommitRepo repo;
  auto reader = open_ok(repo.dir);
  for (const std::string& path :
       std::vector<std::string>{"../x", "/etc/passwd", "a/../b", "a//b", "", "metadata/",
                                "./metadata/root.json", "metadata\\root.json"}) {
    auto content = reader->read(path, 100);
    INFO(path);
    REQUIRE_FALSE(content.ok());
    CHECK(content.error().code == Errc::invalid_argument);
    Chunks chunks;
    auto streamed = stream_into(*reader, path, 100, chunks);
    REQUIRE_FALSE(streamed.ok());
    CHECK(streamed.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("git reader streams large blobs in chunks of at most 1 MiB", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  REQUIRE(source::init_git(dir).ok());
  const std::string content = big_content((5u << 20) / 2 + 123);  // 2.5 MiB + 123
  write_file(dir + "/targets/big.bin", content);
  write_file(dir + "/targets/empty.bin", "");
  commit_ok(dir, {"targets"}, "big");
  auto reader = open_ok(dir);

  Chunks chunks;
  REQUIRE(stream_into(*reader, "targets/big.bin", content.size(), chunks).ok());
  CHECK(chunks.parts.size() == 3);
  for (const auto& part : chunks.parts) CHECK(part.size() <= (1u << 20));
  CHECK(chunks.joined() == content);
  CHECK(read_ok(*reader, "targets/big.bin", content.size()) == content);

  Chunks over;
  auto limited = stream_into(*reader, "targets/big.bin", content.size() - 1, over);
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().code == Errc::limit);

  Chunks empty;
  REQUIRE(stream_into(*reader, "targets/empty.bin", 0, empty).ok());
  CHECK(empty.joined().empty());
  CHECK(read_ok(*reader, "targets/empty.bin", 0).empty());

  // An error from the sink stops the stream and is returned.
  int calls = 0;
  auto stopped =
      reader->stream("targets/big.bin", content.size(), [&calls](std::string_view) -> pw::Status {
        ++calls;
        return pw::make_error(Errc::io, "sink full");
      });
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().message == "sink full");
  CHECK(calls == 1);
}

TEST_CASE("git reader refuses symlinks and submodules in the tree", "[source][git]") {
  TempDir tmp;
  const std::string dir = tmp / "repo";
  std::filesystem::create_directories(dir);
  git(dir, "init -q -b main");
  write_file(dir + "/metadata/real.json", "real");
  std::filesystem::create_symlink("/etc/passwd", dir + "/metadata/link.json");
  git(dir, "add metadata");
  // A submodule entry (gitlink) pointing at some commit id.
  git(dir, "update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,sub");
  git(dir, "commit -q -m links");
  auto reader = open_ok(dir);
  CHECK(read_ok(*reader, "metadata/real.json") == "real");
  auto link = reader->read("metadata/link.json", 1000);
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().code == Errc::not_found);
  CHECK_THAT(link.error().message, Catch::Contains("symbolic link"));
  auto submodule = reader->read("sub", 1000);
  REQUIRE_FALSE(submodule.ok());
  CHECK(submodule.error().code == Errc::not_found);
  CHECK_THAT(submodule.error().message, Catch::Contains("submodule"));
  auto inside_submodule = reader->read("sub/file", 1000);
  REQUIRE_FALSE(inside_submodule.ok());
  CHECK(inside_submodule.error().code == Errc::not_found);
}

TEST_CASE("open_reader dispatch and spec errors", "[source]") {
  TempDir tmp;
  write_file(tmp / "plain/a.txt", "a");

  auto with_ref = source::open_reader(tmp / "plain@main");
  REQUIRE_FALSE(with_ref.ok());
  CHECK(with_ref.error().code == Errc::invalid_argument);
  CHECK_THAT(with_ref.error().message, Catch::Contains("a plain directory has no refs"));

  auto missing = source::open_reader(tmp / "missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains(tmp / "missing"));

  auto missing_with_ref = source::open_reader(tmp / "missing@v1");
  REQUIRE_FALSE(missing_with_ref.ok());
  CHECK(missing_with_ref.error().code == Errc::not_found);

  auto file = source::open_reader(tmp / "plain/a.txt");
  REQUIRE_FALSE(file.ok());
  CHECK(file.error().code == Errc::invalid_argument);

  auto empty = source::open_reader("");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == Errc::invalid_argument);

  // An '@' followed by a '/' is part of the path, not a ref.
  write_file(tmp / "at@dir/x/a.txt", "at");
  auto at_path = open_ok(tmp / "at@dir/x");
  CHECK(read_ok(*at_path, "a.txt") == "at");
  CHECK(at_path->description() == "directory " + (tmp / "at@dir/x"));

  // A plain directory with a git directory below it is still a plain directory.
  TwoCommitRepo repo;
  auto parent = open_ok(repo.tmp.path());
  CHECK(parent->revision() == "");
  CHECK(read_ok(*parent, "repo/metadata/root.json") == "root v2");

  auto not_git = source::open_git(tmp / "plain", "HEAD");
  REQUIRE_FALSE(not_git.ok());
  CHECK(not_git.error().code == Errc::invalid_argument);
  auto not_dir = source::open_directory(tmp / "plain/a.txt");
  REQUIRE_FALSE(not_dir.ok());
  CHECK(not_dir.error().code == Errc::invalid_argument);
  auto no_dir = source::open_directory(tmp / "nope");
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().code == Errc::not_found);
}
