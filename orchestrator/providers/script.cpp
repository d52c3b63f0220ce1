#include "orchestrator/providers/script.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/async_pipe.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/start_dir.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "agents/service/child_setup.hpp"
#include "agents/service/command.hpp"
#include "common/posix/sigpipe_guard.hpp"

namespace pw::providers {
namespace {

namespace asio = boost::asio;
namespace bp = boost::process;
namespace spawn = pw::agent::spawn_detail;

constexpr std::size_t kStdoutCap = 1 << 20;
constexpr std::size_t kStderrTail = 1024;
constexpr std::chrono::milliseconds kDrainTime{250};  // output still read after exit

using pw::agent::spawn_detail::ChildSetup;
using pw::agent::spawn_detail::set_cloexec;

// SIGPIPE is blocked while the script runs (posix::SigpipeGuard): a script that exits
// without reading its stdin must not kill the controller.
using posix::SigpipeGuard;

struct RunResult {
  std::string out, err;
  int native_status = -1;
  bool timed_out = false, too_much = false;
};

RunResult run_spawned(const std::string& program, const std::vector<std::string>& argv,
                      const std::string& working_dir, char** envp, const std::string& input,
                      std::chrono::milliseconds timeout, std::error_code& spawn_error) {
  asio::io_context io;
  bp::async_pipe in(io), out(io), err(io);
  for (auto* pipe : {&in, &out, &err}) {
    set_cloexec(pipe->native_source());
    set_cloexec(pipe->native_sink());
  }
  asio::steady_timer deadline(io), drain(io);
  RunResult result;
  bool ended = false;
  int open_pipes = 2;
  pid_t pid = 0;
  std::optional<bp::child> child;
  std::array<char, 16384> out_buffer{}, err_buffer{};
  auto kill_group = [&] {
    if (pid > 0) ::kill(-pid, SIGKILL);
  };
  auto on_exit = [&](int, const std::error_code& error) {
    ended = true;
    if (!error && child) result.native_status = child->native_exit_code();
    deadline.cancel();
    kill_group();  // whatever it left behind in its process group
    boost::system::error_code ignored;
    in.close(ignored);
    if (open_pipes == 0) return;
    drain.expires_after(kDrainTime);
    drain.async_wait([&](const boost::system::error_code& cancelled) {
      boost::system::error_code ignore;
      if (cancelled) return;
      out.close(ignore);
      err.close(ignore);
    });
  };
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  child.emplace(bp::exe = program, bp::args = args, bp::start_dir = working_dir, (bp::std_in < in),
                (bp::std_out > out), (bp::std_err > err), io, bp::on_exit(on_exit),
                ChildSetup(envp), spawn_error);
  if (spawn_error) return result;
  pid = child->id();
  deadline.expires_after(timeout);
  deadline.async_wait([&](const boost::system::error_code& cancelled) {
    if (cancelled || ended) return;
    result.timed_out = true;
    kill_group();
  });
  asio::async_write(in, asio::buffer(input), [&](const boost::system::error_code&, std::size_t) {
    boost::system::error_code ignored;
    in.close(ignored);  // EOF for the script; a script that did not read gives EPIPE here
  });
  auto pipe_done = [&] {
    if (--open_pipes == 0) drain.cancel();
  };
  std::function<void()> read_out = [&] {
    out.async_read_some(asio::buffer(out_buffer),
                        [&](const boost::system::error_code& error, std::size_t n) {
                          result.out.append(out_buffer.data(), n);
                          if (result.out.size() > kStdoutCap && !result.too_much) {
                            result.too_much = true;
                            kill_group();
                          }
                          if (!error && !result.too_much) return read_out();
                          boost::system::error_code ignored;
                          out.close(ignored);
                          pipe_done();
                        });
  };
  std::function<void()> read_err = [&] {
    err.async_read_some(asio::buffer(err_buffer),
                        [&](const boost::system::error_code& error, std::size_t n) {
                          result.err.append(err_buffer.data(), n);
                          if (result.err.size() > 16 * kStderrTail)
                            result.err.erase(0, result.err.size() - kStderrTail);
                          if (!error) return read_err();
                          pipe_done();
                        });
  };
  read_out();
  read_err();
  io.run();  // until it was reaped, its output read and the timers done
  if (result.err.size() > kStderrTail) result.err.erase(0, result.err.size() - kStderrTail);
  return result;
}

std::string stderr_note(const std::string& err) {
  if (err.empty()) return " (stderr empty)";
  return "; stderr (last 1 KiB): " + err;
}

const std::set<std::string>& answer_keys() {
  static const std::set<std::string> keys = {"name",  "region",  "address",
                                             "state", "details", "provider_id"};
  return keys;
}

}  // namespace

ScriptProvider::ScriptProvider(ScriptOptions options) : options_(std::move(options)) {}

std::string ScriptProvider::label() const {
  return "provider script " +
         (options_.command.empty() ? std::string("(none)") : options_.command[0]);
}

Result<json::Value> ScriptProvider::call(const json::Value& request) {
  std::string what = label();
  std::string working_dir = options_.working_dir;
  std::error_code ec;
  if (working_dir.empty()) working_dir = std::filesystem::current_path(ec).string();
  auto program = spawn::resolve_executable(options_.command, working_dir);
  if (!program.ok()) return std::move(program).error().with_context(what);
  PW_TRY_ASSIGN(std::vector<std::string> entries,
                spawn::environment_entries({{"PATH", "/usr/bin:/bin"}}));
  std::vector<char*> envp = spawn::native_pointers(entries);
  std::string input = request.dump() + "\n";
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout);
  spawn::ensure_sigchld_not_ignored();
  RunResult run;
  std::error_code spawn_error;
  try {
    SigpipeGuard guard;
    run = run_spawned(*program, options_.command, working_dir, envp.data(), input, timeout,
                      spawn_error);
  } catch (const std::exception& e) {
    return make_error(Errc::io, what + ": " + e.what());
  }
  if (spawn_error) return make_error(Errc::io, spawn::exec_failure(*program, spawn_error.value()));
  if (run.timed_out) {
    return make_error(Errc::io, what + ": no answer within " +
                                    std::to_string(options_.timeout.count()) +
                                    " s; its process group was killed" + stderr_note(run.err));
  }
  if (run.too_much) {
    return make_error(Errc::limit,
                      what + ": printed more than 1 MiB on stdout; its process group was killed");
  }
  auto info = spawn::decode_wait_status(run.native_status);
  if (info.signal) {
    return make_error(Errc::io, what + ": killed by signal " + std::to_string(*info.signal) +
                                    stderr_note(run.err));
  }
  if (!info.exit_code) return make_error(Errc::io, what + ": exit status unknown");
  if (*info.exit_code != 0) {
    return make_error(Errc::io, what + ": exited with code " + std::to_string(*info.exit_code) +
                                    stderr_note(run.err));
  }
  if (run.out.find_first_not_of(" \t\r\n") == std::string::npos &&
      request.value("action", "") == "decommission") {
    return json::Value::object();
  }
  json::ParseLimits limits;
  limits.max_bytes = kStdoutCap;
  limits.allow_floats = true;
  auto answer = json::parse(run.out, limits);
  if (!answer.ok()) {
    std::string start = run.out.substr(0, 120);
    return make_error(Errc::parse, what + ": stdout is not a JSON document (" +
                                       answer.error().to_string() + "); it starts with: " + start);
  }
  if (!answer->is_object()) {
    return make_error(Errc::parse, what + ": the answer must be a JSON object");
  }
  return std::move(answer).value();
}

Result<std::vector<Server>> ScriptProvider::servers_from(const json::Value& answer,
                                                         const std::string& region) {
  std::string what = label() + ": answer";
  auto list = json::get_array(answer, "servers", what);
  if (!list.ok()) return make_error(Errc::parse, list.error().message);
  std::vector<Server> servers;
  std::size_t i = 0;
  for (const auto& item : **list) {
    std::string where = what + " servers[" + std::to_string(i++) + "]";
    if (!item.is_object()) return make_error(Errc::parse, where + ": expected an object");
    Server server;
    const std::pair<const char*, std::string*> fields[] = {{"name", &server.name},
                                                           {"address", &server.address},
                                                           {"provider_id", &server.provider_id},
                                                           {"state", &server.state}};
    for (const auto& [key, into] : fields) {
      auto text = json::get_string(item, key, where);
      if (!text.ok()) return make_error(Errc::parse, text.error().message);
      *into = *text;
    }
    if (server.name.empty()) return make_error(Errc::parse, where + ": field 'name' is empty");
    if (!valid_state(server.state)) {
      return make_error(Errc::parse, where + ": field 'state': '" + server.state +
                                         "' is not running, stopped or unknown");
    }
    server.region = region;
    if (item.contains("region")) {
      if (!item["region"].is_string()) {
        return make_error(Errc::parse, where + ": field 'region': expected a string");
      }
      server.region = item["region"].get<std::string>();
    }
    if (item.contains("details")) {
      if (!item["details"].is_object()) {
        return make_error(Errc::parse, where + ": field 'details': expected an object");
      }
      server.details = item["details"];
    }
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (answer_keys().count(it.key()) == 0) server.details[it.key()] = it.value();
    }
    servers.push_back(std::move(server));
  }
  return servers;
}

Result<std::vector<Server>> ScriptProvider::provision(const std::string& region,
                                                      const std::vector<ServerRequest>& requests,
                                                      const ProvisionContext& context) {
  std::string where = label() + ": provision in region " + region;
  json::Value servers = json::Value::array();
  std::vector<std::string> names;
  for (const auto& request : requests) {
    auto name = request_name(region, request);
    if (!name.ok()) return std::move(name).error().with_context(where);
    names.push_back(*name);
    servers.push_back({{"name", *name},
                       {"token", request.enrollment_token},
                       {"rollout_id", request.rollout_id},
                       {"index", request.index}});
  }
  json::Value request = {{"action", "provision"},
                         {"region", region},
                         {"servers", servers},
                         {"context",
                          {{"controller_url", context.controller_url},
                           {"controller_ca_file", context.controller_ca_file},
                           {"pinned_root_file", context.pinned_root_file},
                           {"controller_name", context.controller_name}}},
                         {"params", options_.params}};
  auto answer = call(request);
  if (!answer.ok()) return std::move(answer).error().with_context("provision in region " + region);
  auto listed = servers_from(*answer, region);
  if (!listed.ok()) return std::move(listed).error().with_context("provision in region " + region);
  std::vector<Server> result;
  for (const auto& name : names) {
    auto found = std::find_if(listed->begin(), listed->end(),
                              [&](const Server& server) { return server.name == name; });
    if (found == listed->end()) {
      return make_error(Errc::parse, label() + ": answer lacks the requested server " + name);
    }
    if (found->address.empty()) {
      return make_error(Errc::parse, label() + ": answer gives server " + name + " no address");
    }
    result.push_back(*found);
  }
  return result;
}

Status ScriptProvider::decommission(const Server& server) {
  json::Value request = {{"action", "decommission"},
                         {"region", server.region},
                         {"servers", json::Value::array({to_json(server)})},
                         {"context", json::Value::object()},
                         {"params", options_.params}};
  auto answer = call(request);
  if (!answer.ok()) return std::move(answer).error().with_context("decommission " + server.name);
  return Ok{};
}

Result<std::vector<Server>> ScriptProvider::list(const std::string& region) {
  json::Value request = {{"action", "list"},
                         {"region", region},
                         {"servers", json::Value::array()},
                         {"context", json::Value::object()},
                         {"params", options_.params}};
  auto answer = call(request);
  if (!answer.ok()) return std::move(answer).error().with_context("list region " + region);
  auto servers = servers_from(*answer, region);
  if (!servers.ok()) return std::move(servers).error().with_context("list region " + region);
  return servers;
}

}  // namespace pw::providers
