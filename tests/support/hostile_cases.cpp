// The catalogue of hostile archives: one entry per class of the hardened-staging issue.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/support/hostile_archives.hpp"

namespace pw::test {
namespace {

using W = TarWriter;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void truncate_half(const std::string& path, Compression) {
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
}

// Damage that each format is guaranteed to notice.
void corrupt(const std::string& path, Compression compression) {
  std::string bytes = read_all(path);
  auto at = [&](std::size_t offset) -> char& {
    if (offset >= bytes.size()) throw std::runtime_error("corrupt: file too short");
    return bytes[offset];
  };
  switch (compression) {
    case Compression::none:  // the second header's name: its checksum no longer matches
      at(1024) = static_cast<char>(at(1024) ^ 0x20);
      break;
    case Compression::gzip:  // first deflate block header: BTYPE 11 is reserved
      if (at(3) != 0) throw std::runtime_error("corrupt: unexpected gzip header flags");
      at(10) = static_cast<char>(0xFF);
      break;
    case Compression::xz:  // inside the first block's LZMA2 data (CRC64-checked)
      at(40) = static_cast<char>(at(40) ^ 0x55);
      break;
    case Compression::zstd: {  // first block header: block type 3 is reserved
      auto fhd = static_cast<unsigned char>(at(4));
      bool single_segment = (fhd & 0x20) != 0;
      std::size_t did[] = {0, 1, 2, 4};
      std::size_t fcs[] = {single_segment ? 1u : 0u, 2, 4, 8};
      std::size_t block = 5 + (single_segment ? 0 : 1) + did[fhd & 3] + fcs[fhd >> 6];
      at(block) = static_cast<char>(at(block) | 0x06);
      break;
    }
  }
  write_all(path, bytes);
}

HostileCase refused(std::string name, std::optional<std::string> entry, std::string rule,
                    std::function<void(W&)> build, Errc code = Errc::invalid_argument) {
  HostileCase c;
  c.name = std::move(name);
  c.entry = std::move(entry);
  c.rule = std::move(rule);
  c.build = std::move(build);
  c.code = code;
  return c;
}

std::string long_pax_path(std::size_t components, std::size_t length) {
  std::string path;
  for (std::size_t i = 0; i < components; ++i) path += std::string(length, 'p') + "/";
  return path + "f";
}

}  // namespace

std::vector<HostileCase> hostile_cases(const std::string& outside) {
  const std::string canary = outside + "/canary";
  std::vector<HostileCase> cases;
  auto add = [&](HostileCase c) { cases.push_back(std::move(c)); };

  add(refused("absolute path", canary, "absolute path", [=](W& w) {
    w.dir("ok/");
    w.file("ok/first", "written before the hostile entry");
    w.file(canary, "pwned");
    w.end();
  }));
  add(refused("'..' in a name", "../canary", "'..' component", [](W& w) {
    w.file("ok", "fine");
    w.file("../canary", "pwned");
    w.end();
  }));
  add(refused("'..' nested in a name", "ok/../../canary", "'..' component", [](W& w) {
    w.dir("ok/");
    w.file("ok/../../canary", "pwned");
    w.end();
  }));
  const std::string long_name = std::string(120, 'd') + "/../../canary";
  add(refused("'..' via a GNU long name", long_name, "'..' component", [=](W& w) {
    w.gnu_long_name(long_name);
    W::Header h;
    h.name = "placeholder";
    h.size = 5;
    h.gnu_magic = true;
    w.header(h);
    w.data("pwned");
    w.pad();
    w.end();
  }));
  add(refused("'..' via a PAX path", "../canary", "'..' component", [](W& w) {
    w.pax({{"path", "../canary"}});
    w.file("innocent.txt", "pwned");
    w.end();
  }));
  add(refused("symlink leaving the tree (absolute)", "escape",
              "symlink leaves the release tree (absolute target)", [=](W& w) {
                w.symlink("escape", outside);
                w.file("escape/created", "pwned");
                w.end();
              }));
  add(refused("symlink leaving the tree (relative)", "sub/escape",
              "symlink leaves the release tree", [](W& w) {
                w.dir("sub/");
                w.symlink("sub/escape", "../../canary");
                w.end();
              }));
  add(refused("symlink leaving the tree via a PAX linkpath", "link",
              "symlink leaves the release tree", [](W& w) {
                w.pax({{"linkpath", "../canary"}});
                w.symlink("link", "harmless");
                w.end();
              }));
  add(refused("hardlink leaving the tree (absolute)", "hl", "hardlink leaves the release tree",
              [=](W& w) {
                w.hardlink("hl", canary);
                w.end();
              }));
  add(refused("hardlink leaving the tree (relative)", "hl", "hardlink leaves the release tree",
              [](W& w) {
                w.hardlink("hl", "../canary");
                w.end();
              }));
  add(refused("hardlink to a later entry", "hl", "hardlink target is not an earlier file",
              [](W& w) {
                w.hardlink("hl", "later");
                w.file("later", "x");
                w.end();
              }));
  add(refused("hardlink to itself", "hl", "hardlink target is not an earlier file", [](W& w) {
    w.hardlink("hl", "hl");
    w.end();
  }));
  // "escape" looks in-tree (a/b/up/.. is a/b, lexically) but a/b/up is the root, so
  // escape is the root's parent.
  add(refused("writing through an in-tree-looking symlink that points outside", "escape/canary",
              "writes through symlink 'escape'", [](W& w) {
                w.dir("a/");
                w.dir("a/b/");
                w.symlink("a/b/up", "../..");
                w.symlink("escape", "a/b/up/..");
                w.file("escape/canary", "pwned");
                w.end();
              }));
  add(refused("symlink chain leaving the tree", "escape",
              "symlink leaves the release tree (through symlink 'a/b/up')", [](W& w) {
                w.dir("a/");
                w.dir("a/b/");
                w.symlink("a/b/up", "../..");
                w.symlink("escape", "a/b/up/..");
                w.end();
              }));
  add(refused("symlink to a directory, then a file under it", "d/file",
              "writes through symlink 'd'", [](W& w) {
                w.dir("real/");
                w.symlink("d", "real");
                w.file("d/file", "x");
                w.end();
              }));
  auto special = [](const std::string& name, char type, std::uint32_t major) {
    return [=](W& w) {
      W::Header h;
      h.name = name;
      h.type = type;
      h.mode = 0666;
      h.dev_major = major;
      w.header(h);
      w.end();
    };
  };
  add(refused("character device", "dev/tty9", "device node (character device)",
              special("dev/tty9", '3', 4)));
  add(refused("block device", "dev/sda9", "device node (block device)",
              special("dev/sda9", '4', 8)));
  add(refused("FIFO", "fifo", "FIFO", special("fifo", '6', 0)));
  add(refused("setuid bit", "bin/tool", "setuid bit", [](W& w) {
    w.file("bin/tool", "#!/bin/sh\n", 04755);
    w.end();
  }));
  add(refused("setgid bit", "bin/tool", "setgid bit", [](W& w) {
    w.file("bin/tool", "#!/bin/sh\n", 02755);
    w.end();
  }));
  add(refused("duplicate file", "a", "duplicate entry", [](W& w) {
    w.file("a", "one");
    w.file("a", "two");
    w.end();
  }));
  add(refused("file replaced by a symlink", "a",
              "duplicate entry (a symlink replaces an earlier file)", [](W& w) {
                w.file("a", "one");
                w.symlink("a", "b");
                w.end();
              }));
  add(refused("directory replaced by a symlink", "d",
              "duplicate entry (a symlink replaces an earlier directory)", [](W& w) {
                w.dir("d/");
                w.file("d/x", "x");
                w.symlink("d", ".");
                w.end();
              }));
  add(refused("path through a file", "a/b", "path goes through file 'a'", [](W& w) {
    w.file("a", "x");
    w.file("a/b", "y");
    w.end();
  }));
  add(refused("invalid UTF-8 name", "bad\\xff\\xfe.txt", "name is not valid UTF-8", [](W& w) {
    w.file("bad\xff\xfe.txt", "x");
    w.end();
  }));
  add(refused("invalid UTF-8 name via a PAX path", "caf\\xc3(.txt", "name is not valid UTF-8",
              [](W& w) {
                w.pax({{"path", "caf\xc3\x28.txt"}});
                w.file("placeholder", "x");
                w.end();
              }));
  add(refused("empty component", "a//b", "empty component", [](W& w) {
    w.file("a//b", "x");
    w.end();
  }));
  const std::string overlong_component = "a/" + std::string(256, 'x');
  add(refused(
      "overlong component", overlong_component, "a component is 256 bytes",
      [=](W& w) {
        w.pax({{"path", overlong_component}});
        w.file("placeholder", "x");
        w.end();
      },
      Errc::limit));
  const std::string overlong_path = long_pax_path(5, 250);
  add(refused(
      "overlong path", overlong_path, "path is 1256 bytes",
      [=](W& w) {
        w.pax({{"path", overlong_path}});
        w.file("placeholder", "x");
        w.end();
      },
      Errc::limit));
  add(refused(
      "truncated archive", "big", "corrupt or truncated archive",
      [](W& w) {
        w.file("first", "ok");
        W::Header h;
        h.name = "big";
        h.size = 100000;
        w.header(h);
        w.data(pattern_bytes(5000));
      },
      Errc::parse));
  HostileCase cut = refused(
      "truncated compressed stream", std::nullopt, "corrupt or truncated archive",
      [](W& w) {
        w.file("a", random_bytes(300000, 1));
        w.file("b", random_bytes(300000, 2));
        w.end();
      },
      Errc::parse);
  cut.damage = truncate_half;
  add(cut);
  HostileCase damaged = refused(
      "corrupt stream (gzip, xz, zstd data; a tar header checksum when uncompressed)", std::nullopt,
      "corrupt or truncated archive",
      [](W& w) {
        w.file("a", "hello");
        w.file("b", pattern_bytes(2000));
        w.end();
      },
      Errc::parse);
  damaged.damage = corrupt;
  add(damaged);
  add(refused(
      "not an archive (random bytes)", "", "not a tar archive",
      [](W& w) { w.raw(random_bytes(65536, 7)); }, Errc::parse));
  add(refused(
      "not an archive (plain text)", "", "not a tar archive",
      [](W& w) {
        for (int i = 0; i < 200; ++i) w.raw("This is not a tarball, just a text file.\n");
      },
      Errc::parse));
  HostileCase bomb = refused(
      "decompression bomb", "bomb", "compression ratio above 10",
      [](W& w) {
        W::Header h;
        h.name = "bomb";
        h.size = 64ull << 20;
        w.header(h);
        w.zeros(h.size);
        w.end();
      },
      Errc::limit);
  bomb.limits.max_ratio = 10;
  bomb.needs_compression = true;
  add(bomb);
  // libarchive reads a sparse map into memory while it parses the header (about 80 bytes
  // per hole): the per-header budget stops it.
  add(refused(
      "sparse map bomb", "", "a header takes more than 1048576 bytes",
      [](W& w) {
        const int holes = 300000;
        std::string map = std::to_string(holes) + "\n";
        for (int i = 0; i < holes; ++i) map += std::to_string(2 * i) + "\n1\n";
        w.pax({{"GNU.sparse.major", "1"},
               {"GNU.sparse.minor", "0"},
               {"GNU.sparse.name", "sparse"},
               {"GNU.sparse.realsize", std::to_string(2 * holes)}});
        W::Header h;
        h.name = "GNUSparseFile.0/sparse";
        h.size = (map.size() + 511) / 512 * 512 + holes;
        w.header(h);
        w.data(map);
        w.pad();
        w.zeros(holes);
        w.pad();
        w.end();
      },
      Errc::limit));
  HostileCase many = refused(
      "too many entries", "f100", "more than 100 entries",
      [](W& w) {
        for (int i = 0; i <= 100; ++i) {
          char name[16];
          std::snprintf(name, sizeof name, "f%03d", i);
          w.file(name, "");
        }
        w.end();
      },
      Errc::limit);
  many.limits.max_entries = 100;
  add(many);
  add(refused(
      "too many total bytes (one declared size)", "huge", "files total more than 8589934592 bytes",
      [](W& w) {
        W::Header h;
        h.name = "huge";
        h.size = 9ull << 30;
        w.header(h);
        w.data(pattern_bytes(4096));
      },
      Errc::limit));
  HostileCase total = refused(
      "too many total bytes (sum)", "b", "files total more than 1048576 bytes",
      [](W& w) {
        w.file("a", pattern_bytes(600 << 10));
        w.file("b", pattern_bytes(600 << 10));
        w.end();
      },
      Errc::limit);
  total.limits.max_total_bytes = 1 << 20;
  add(total);
  return cases;
}

}  // namespace pw::test
