#include "orchestrator/providers/local.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "orchestrator/providers/local_process.hpp"

namespace pw::providers {
namespace {

namespace fs = std::filesystem;
using local_detail::agent_alive;
using local_detail::read_pid;

constexpr int kMaxIndex = 254 * 256 - 1;

Error io_error(const std::string& what, const std::string& why) {
  return make_error(Errc::io, what + ": " + why);
}

// Creates `path` (it must not exist) with exactly `mode` and writes `content`.
Status write_new_file(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return io_error(path, std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  int saved = errno;
  ::close(fd);
  if (!ok) return io_error(path, std::strerror(saved));
  return Ok{};
}

Result<std::string> read_text(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, path + ": cannot open");
  std::string text;
  text.resize(max_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) return make_error(Errc::limit, path + ": larger than expected");
  return text;
}

// Removes a directory completely: renamed out of the way first, so that a crash in the
// middle never leaves a half-removed directory under a server's name.
Status remove_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return Ok{};
  fs::path trash = dir.parent_path() / (".trash-" + dir.filename().string());
  fs::remove_all(trash, ec);
  fs::rename(dir, trash, ec);
  if (ec) return io_error(dir.string(), "cannot move aside for removal: " + ec.message());
  fs::remove_all(trash, ec);
  if (ec) return io_error(trash.string(), "cannot remove: " + ec.message());
  return Ok{};
}

struct Record {
  std::string name, region, rollout_id, address;
  int index = 0;
};

Result<Record> read_record(const fs::path& dir) {
  std::string file = (dir / "server.json").string();
  PW_TRY_ASSIGN(std::string text, read_text(file, 64 * 1024));
  auto parsed = json::parse(text);
  if (!parsed.ok()) return std::move(parsed).error().with_context(file);
  Record record;
  PW_TRY_ASSIGN(record.name, json::get_string(*parsed, "name", file));
  PW_TRY_ASSIGN(record.region, json::get_string(*parsed, "region", file));
  PW_TRY_ASSIGN(record.rollout_id, json::get_string(*parsed, "rollout_id", file));
  PW_TRY_ASSIGN(record.address, json::get_string(*parsed, "address", file));
  PW_TRY_ASSIGN(std::uint64_t index, json::get_uint(*parsed, "index", file));
  record.index = static_cast<int>(std::min<std::uint64_t>(index, kMaxIndex));
  return record;
}

Server server_from(const fs::path& dir, const Record& record) {
  std::string config = (dir / "agent.json").string();
  long pid = read_pid((dir / "agent.pid").string());
  bool running = agent_alive(pid, config);
  Server server;
  server.name = record.name;
  server.region = record.region;
  server.address = record.address;
  server.provider_id = "local:" + record.name + ":" + std::to_string(pid);
  server.state = running ? "running" : "stopped";
  server.details = {{"dir", dir.string()},
                    {"pid", pid},
                    {"log", (dir / "agent.log").string()},
                    {"rollout_id", record.rollout_id},
                    {"index", record.index}};
  return server;
}

Status copy_context_file(const std::string& from, const fs::path& to, const char* what) {
  if (from.empty()) return make_error(Errc::invalid_argument, std::string(what) + " is required");
  auto text = read_text(from, 1024 * 1024);
  if (!text.ok()) return std::move(text).error().with_context(what);
  return write_new_file(to.string(), *text, 0644);
}

// A minimal environment. In a sanitizer build (the tests' ASan/UBSan and TSan builds),
// the sanitizers' options go along, so that an agent reports where the controller does
// (TSan's log_path collects every process's reports; docs/RELIABILITY.md).
std::map<std::string, std::string> agent_environment() {
  std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"}};
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
#endif
  return env;
}

}  // namespace

int local_region_number(const std::string& region) {
  std::uint32_t hash = 2166136261u;
  for (char c : region) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return 1 + static_cast<int>(hash % 254u);
}

Result<std::string> local_address(int region_number, int index) {
  if (region_number < 1 || region_number > 254) {
    return make_error(Errc::invalid_argument,
                      "region number " + std::to_string(region_number) + " is outside 1..254");
  }
  if (index < 0 || index > kMaxIndex) {
    return make_error(Errc::invalid_argument, "server index " + std::to_string(index) +
                                                  " is outside 0.." + std::to_string(kMaxIndex));
  }
  return "127." + std::to_string(region_number) + "." + std::to_string(index / 254) + "." +
         std::to_string(1 + index % 254);
}

bool local_agent_alive(long pid, const std::string& config_path) {
  return agent_alive(pid, config_path);
}

LocalProvider::LocalProvider(LocalOptions options) : options_(std::move(options)) {
  std::error_code ec;
  if (!options_.base_dir.empty()) options_.base_dir = fs::absolute(options_.base_dir, ec).string();
  if (!options_.agent_binary.empty()) {
    options_.agent_binary = fs::absolute(options_.agent_binary, ec).string();
  }
}

Result<std::vector<Server>> LocalProvider::provision(const std::string& region,
                                                     const std::vector<ServerRequest>& requests,
                                                     const ProvisionContext& context) {
  std::lock_guard lock(mutex_);
  if (options_.base_dir.empty()) return make_error(Errc::invalid_argument, "base_dir is empty");
  if (options_.port < 1 || options_.port > 65535) {
    return make_error(Errc::invalid_argument, "port " + std::to_string(options_.port));
  }
  if (fs::path(options_.agent_binary).filename().string().find("patchwave-agent") ==
      std::string::npos) {
    // Agents are recognised by their command line; another name would never be verified.
    return make_error(Errc::invalid_argument,
                      "agent_binary '" + options_.agent_binary +
                          "': its file name must contain 'patchwave-agent'");
  }
  if (context.controller_url.empty()) {
    return make_error(Errc::invalid_argument, "controller_url is required");
  }
  std::error_code ec;
  fs::create_directories(options_.base_dir, ec);
  if (ec || ::chmod(options_.base_dir.c_str(), 0700) != 0) {
    return io_error(options_.base_dir, ec ? ec.message() : std::strerror(errno));
  }
  auto holders = read_holders();
  if (!holders.ok()) {
    return std::move(holders).error().with_context("local provider: provision in region " + region);
  }
  std::vector<Server> servers;
  for (const auto& request : requests) {
    auto server = provision_one(region, request, context, *holders);
    if (!server.ok()) {
      return std::move(server).error().with_context("local provider: provision in region " +
                                                    region);
    }
    servers.push_back(std::move(server).value());
  }
  return servers;
}

Result<Server> LocalProvider::provision_one(const std::string& region, const ServerRequest& request,
                                            const ProvisionContext& context, Holders& holders) {
  PW_TRY_ASSIGN(std::string name, request_name(region, request));
  fs::path dir = fs::path(options_.base_dir) / name;
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir, ec))) {
    auto record = read_record(dir);
    long pid = read_pid((dir / "agent.pid").string());
    if (record.ok() && agent_alive(pid, (dir / "agent.json").string())) {
      if (record->region != region) {
        return make_error(Errc::conflict, "server " + name + " exists in region " + record->region +
                                              ", not " + region);
      }
      return server_from(dir, *record);  // exists and runs: idempotent
    }
    // A leftover is never reused: its agent (alive only when the record is unreadable)
    // is stopped and the directory removed.
    PW_TRY(local_detail::stop_agent(pid, (dir / "agent.json").string(), options_.stop_grace));
    PW_TRY(remove_dir(dir));
  }
  int r = options_.region_number != 0 ? options_.region_number : local_region_number(region);
  // The server's own slot when it is free; otherwise the first free one, so that a
  // region's new servers can run beside the old ones they replace.
  for (int slot = request.index; slot <= kMaxIndex; ++slot) {
    PW_TRY_ASSIGN(std::string address, local_address(r, slot));
    std::string listen = address + ":" + std::to_string(options_.port);
    auto free = check_address_free(name, listen, holders);
    if (free.ok()) {
      auto made = create(name, region, request, address, context);
      if (made.ok()) holders[listen] = Holder{name, region};
      return made;
    }
    if (free.error().code != Errc::conflict || slot == kMaxIndex) return std::move(free).error();
  }
  return make_error(Errc::limit, "no free address left in region " + region);
}

Result<LocalProvider::Holders> LocalProvider::read_holders() {
  Holders holders;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.base_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with('.') || !entry.is_directory(ec)) continue;
    auto record = read_record(entry.path());
    if (record.ok()) holders[record->address] = Holder{name, record->region};
  }
  if (ec) return io_error(options_.base_dir, ec.message());
  return holders;
}

Status LocalProvider::check_address_free(const std::string& name, const std::string& listen,
                                         const Holders& holders) {
  auto held = holders.find(listen);
  if (held == holders.end() || held->second.name == name) return Ok{};
  return make_error(Errc::conflict, "address " + listen + " of server " + name +
                                        " is held by server " + held->second.name + " (region " +
                                        held->second.region +
                                        "); set region_number or decommission it");
}

Result<Server> LocalProvider::create(const std::string& name, const std::string& region,
                                     const ServerRequest& request, const std::string& address,
                                     const ProvisionContext& context) {
  if (request.enrollment_token.empty()) {
    return make_error(Errc::invalid_argument, "server " + name + ": enrollment token is empty");
  }
  fs::path dir = fs::path(options_.base_dir) / name;
  fs::path building = fs::path(options_.base_dir) / (".new-" + name);
  std::error_code ec;
  fs::remove_all(building, ec);
  if (::mkdir(building.c_str(), 0700) != 0) return io_error(building, std::strerror(errno));
  auto fail = [&](Error error) {
    fs::remove_all(building, ec);
    return std::move(error).with_context("server " + name);
  };
  std::string listen = address + ":" + std::to_string(options_.port);
  json::Value record = {{"name", name},
                        {"region", region},
                        {"rollout_id", request.rollout_id},
                        {"index", request.index},
                        {"address", listen}};
  json::Value agent = {{"name", name},
                       {"state_dir", (dir / "state").string()},
                       {"listen", listen},
                       {"controller_url", context.controller_url},
                       {"controller_ca", (dir / "controller-ca.pem").string()},
                       {"controller_name", context.controller_name},
                       {"pinned_root", (dir / "root.json").string()},
                       {"enrollment_token_file", (dir / "token").string()},
                       {"certificate_ips", json::Value::array({address})},
                       {"log_format", "json"}};
  const std::pair<std::string, std::string> files[] = {{"server.json", record.dump(2) + "\n"},
                                                       {"agent.json", agent.dump(2) + "\n"}};
  for (const auto& [file, text] : files) {
    if (auto written = write_new_file((building / file).string(), text, 0600); !written.ok()) {
      return fail(std::move(written).error());
    }
  }
  if (auto written = write_new_file((building / "token").string(), request.enrollment_token, 0600);
      !written.ok()) {
    return fail(std::move(written).error());
  }
  if (auto copied = copy_context_file(context.controller_ca_file, building / "controller-ca.pem",
                                      "controller_ca_file");
      !copied.ok()) {
    return fail(std::move(copied).error());
  }
  if (auto copied =
          copy_context_file(context.pinned_root_file, building / "root.json", "pinned_root_file");
      !copied.ok()) {
    return fail(std::move(copied).error());
  }
  fs::rename(building, dir, ec);
  if (ec) return fail(io_error(dir.string(), "cannot move into place: " + ec.message()));
  // From here the directory exists under its name; a crash leaves a leftover that the
  // next provision removes. The agent writes its own pid before it execs.
  std::vector<std::string> argv = {options_.agent_binary, "run", "--config",
                                   (dir / "agent.json").string()};
  auto pid =
      local_detail::spawn_detached(argv, dir.string(), agent_environment(),
                                   (dir / "agent.log").string(), (dir / "agent.pid").string());
  if (!pid.ok()) {
    (void)remove_dir(dir);
    return std::move(pid).error().with_context("server " + name + ": starting the agent");
  }
  Record made{name, region, request.rollout_id, listen, request.index};
  Server server = server_from(dir, made);
  server.state = "running";  // exec succeeded; it may exit later (e.g. enrollment refused)
  server.provider_id = "local:" + name + ":" + std::to_string(*pid);
  server.details["pid"] = *pid;
  return server;
}

Status LocalProvider::decommission(const Server& server) {
  std::lock_guard lock(mutex_);
  auto where = "local provider: decommission " + server.name;
  if (auto valid = check_server_name(server.name); !valid.ok()) {
    return std::move(valid).error().with_context(where);
  }
  fs::path dir = fs::path(options_.base_dir) / server.name;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return Ok{};  // gone already
  if (auto record = read_record(dir);
      record.ok() && !server.region.empty() && record->region != server.region) {
    return make_error(Errc::conflict, "server " + server.name + " belongs to region " +
                                          record->region + ", not " + server.region)
        .with_context(where);
  }
  long pid = read_pid((dir / "agent.pid").string());
  if (auto stopped =
          local_detail::stop_agent(pid, (dir / "agent.json").string(), options_.stop_grace);
      !stopped.ok()) {
    return std::move(stopped).error().with_context(where);
  }
  if (auto killed = local_detail::kill_left_behind(dir.string()); !killed.ok()) {
    return std::move(killed).error().with_context(where);
  }
  if (auto removed = remove_dir(dir); !removed.ok()) {
    return std::move(removed).error().with_context(where);
  }
  return Ok{};
}

Result<std::vector<Server>> LocalProvider::list(const std::string& region) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<Record, Server>> found;
  std::error_code ec;
  if (!fs::exists(options_.base_dir, ec)) return std::vector<Server>{};
  for (const auto& entry : fs::directory_iterator(options_.base_dir, ec)) {
    if (entry.path().filename().string().starts_with('.') || !entry.is_directory(ec)) continue;
    auto record = read_record(entry.path());
    if (!record.ok() || record->region != region) continue;
    found.emplace_back(*record, server_from(entry.path(), *record));
  }
  if (ec) return io_error(options_.base_dir, ec.message()).with_context("local provider: list");
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.rollout_id, a.first.index, a.first.name) <
           std::tie(b.first.rollout_id, b.first.index, b.first.name);
  });
  std::vector<Server> servers;
  for (auto& [record, server] : found) servers.push_back(std::move(server));
  return servers;
}

}  // namespace pw::providers
