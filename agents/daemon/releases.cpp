#include "agents/daemon/releases.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "agents/daemon/files.hpp"
#include "agents/daemon/part_file.hpp"
#include "agents/daemon/pipeline.hpp"
#include "common/archive/archive.hpp"
#include "common/log/log.hpp"
#include "common/net/http.hpp"
#include "common/staging/staging.hpp"
#include "common/trust/bundle.hpp"
#include "common/trust/hash_check.hpp"

namespace pw::agent {
namespace fs = std::filesystem;

struct Releases::Job {
  std::string sha256, target, artifact_url;
  trust::TargetFile info;
  release::ReleaseDescription description;
  std::string state = "queued";  // queued, downloading, extracting, staged, failed
  std::uint64_t bytes_done = 0;
  std::uint64_t attempts = 0;
  std::int64_t download_ms = 0, extract_ms = 0;
  std::string started_at, finished_at;
  std::optional<Error> error;

  json::Value to_json() const {
    json::Value out = {
        {"sha256", sha256},         {"target", target},           {"state", state},
        {"bytes_done", bytes_done}, {"bytes_total", info.length}, {"attempts", attempts},
        {"started_at", started_at}};
    if (!finished_at.empty()) out["finished_at"] = finished_at;
    if (download_ms > 0) out["download_ms"] = download_ms;
    if (extract_ms > 0) out["extract_ms"] = extract_ms;
    if (error) {
      out["error"] = {{"code", errc_name(error->code)}, {"message", error->to_string()}};
    }
    return out;
  }
};

namespace {

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

int http_status_for(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::parse:
      return 400;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
      return 409;
    case Errc::limit:
      return 413;
    case Errc::signature:
    case Errc::expired:
    case Errc::rollback:
    case Errc::mismatch:
    case Errc::unsupported:
    case Errc::permission:
      return 422;
    default:
      return 500;
  }
}

json::Value describe(const release::ReleaseDescription& description) {
  json::Value env = json::Value::object();
  for (const auto& [k, v] : description.run.env) env[k] = v;
  return {{"app", description.app},
          {"version", description.version.text},
          {"urgency", release::urgency_name(description.urgency)},
          {"cves", description.cves},
          {"run", {{"argv", description.run.argv}, {"env", env}}},
          {"health",
           {{"kind", release::health_kind_name(description.health.kind)},
            {"port", description.health.port},
            {"path", description.health.path},
            {"argv", description.health.argv},
            {"interval_ms", description.health.interval_ms},
            {"timeout_ms", description.health.timeout_ms},
            {"successes", description.health.successes}}}};
}

// argv[0] must name an executable regular file inside the release (symlinks in the
// release already stay inside it: the archive module guarantees that).
Status check_runnable(const std::string& release_dir, const release::ReleaseDescription& d) {
  if (d.run.argv.empty()) return make_error(Errc::invalid_argument, "the release has no run.argv");
  const std::string& program = d.run.argv.front();
  if (program.empty() || program.front() == '/' || program.find("..") != std::string::npos) {
    return make_error(Errc::invalid_argument,
                      "run.argv[0] '" + program + "' must be a relative path inside the release");
  }
  std::string path = release_dir + "/" + program;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) || (info.st_mode & 0111) == 0) {
    return make_error(Errc::invalid_argument, "the release has no runnable command: run.argv[0] '" +
                                                  program +
                                                  "' is not an executable file in the artifact");
  }
  return Ok{};
}

}  // namespace

json::Value StagedRelease::to_json() const {
  return {{"sha256", sha256},
          {"target", target},
          {"path", path},
          {"staged_at", staged_at},
          {"release", describe(description)}};
}

Reply error_reply(const Error& error) {
  return {http_status_for(error.code),
          {{"error", {{"code", errc_name(error.code)}, {"message", error.to_string()}}}}};
}

Releases::Releases(const AgentConfig& config, const Identity& identity)
    : config_(config),
      identity_(identity),
      releases_dir_(config.state_dir + "/releases"),
      records_dir_(config.state_dir + "/release-records"),
      downloads_dir_(config.state_dir + "/downloads"),
      trust_dir_(config.state_dir + "/trust") {
  worker_ = std::thread([this] { worker_loop(); });
}

Releases::~Releases() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status Releases::load() {
  for (const auto* dir : {&releases_dir_, &records_dir_, &downloads_dir_, &trust_dir_}) {
    PW_TRY(ensure_private_dir(*dir));
  }
  std::lock_guard lock(mutex_);
  for (const auto& entry : fs::directory_iterator(records_dir_)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 69 || name.substr(64) != ".json") continue;
    std::string sha = name.substr(0, 64);
    if (!fs::is_directory(releases_dir_ + "/" + sha)) continue;  // a record without its tree
    PW_TRY_ASSIGN(std::string text, read_file_limited(entry.path().string(), 1u << 20));
    PW_TRY_ASSIGN(json::Value record, json::parse(text));
    auto description = release::from_json(record["release"], name);
    if (!description.ok()) return std::move(description).error().with_context(entry.path());
    staged_[sha] = StagedRelease{sha, record.value("target", ""), releases_dir_ + "/" + sha,
                                 record.value("staged_at", ""), std::move(*description)};
  }
  // A release directory without a record was interrupted between extraction and the
  // record: it is complete, but its description is gone; it is staged again on request.
  for (const auto& entry : fs::directory_iterator(releases_dir_)) {
    std::string name = entry.path().filename().string();
    if (is_sha256_hex(name) && !staged_.count(name)) fs::remove_all(entry.path());
    if (name.rfind(".", 0) == 0) fs::remove_all(entry.path());  // staging leftovers
  }
  return Ok{};
}

Status Releases::verify_request(const std::string& sha256, const std::string& body, Job& job) {
  auto parsed = json::parse(body);
  if (!parsed.ok()) return std::move(parsed).error().with_context("request body");
  const json::Value& request = *parsed;
  if (!request.is_object() || !request.contains("artifact_url") ||
      !request["artifact_url"].is_string() || !request.contains("metadata") ||
      !request["metadata"].is_object()) {
    return make_error(Errc::invalid_argument,
                      "request body: expected {\"metadata\": {FILE: TEXT, ...}, "
                      "\"artifact_url\": URL, \"target\": NAME (optional)}");
  }
  job.artifact_url = request["artifact_url"].get<std::string>();
  PW_TRY_ASSIGN(net::Url url, net::parse_url(job.artifact_url));
  if (url.scheme != "https") {
    return make_error(Errc::invalid_argument, "artifact_url: must be https (mutual TLS)");
  }
  trust::MetadataBundle bundle;
  for (auto it = request["metadata"].begin(); it != request["metadata"].end(); ++it) {
    if (!it.value().is_string()) {
      return make_error(Errc::invalid_argument,
                        "metadata." + it.key() + ": must be the file's text");
    }
    bundle.files[it.key()] = it.value().get<std::string>();
  }

  std::lock_guard trust_lock(trust_mutex_);
  PW_TRY_ASSIGN(std::string pinned, read_file_limited(config_.pinned_root, trust::kMaxRootBytes));
  auto store = trust::directory_store(trust_dir_);
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  PW_TRY_ASSIGN(trust::Client client, trust::Client::create(pinned, *store, {now}));
  auto refreshed = client.refresh(bundle);
  if (!refreshed.ok()) return std::move(refreshed).error().with_context("verifying the metadata");

  std::string wanted = request.value("target", std::string());
  const auto& targets = client.targets()->targets;
  for (const auto& [name, info] : targets) {
    auto hash = info.hashes.find("sha256");
    if (hash == info.hashes.end() || hash->second != sha256) continue;
    if (!wanted.empty() && wanted != name) continue;
    job.target = name;
    job.info = info;
    break;
  }
  if (job.target.empty()) {
    return make_error(Errc::not_found, "no signed target has sha256 " + sha256 +
                                           (wanted.empty() ? "" : " under the name " + wanted));
  }
  auto description = release::from_custom(job.info.custom, job.target);
  if (!description.ok()) return std::move(description).error();
  if (!description->has_value()) {
    return make_error(Errc::invalid_argument,
                      "target " + job.target + ": no custom.release, so nothing to run");
  }
  job.description = std::move(**description);
  if (job.description.run.argv.empty()) {
    return make_error(Errc::invalid_argument, "target " + job.target + ": no runnable command");
  }
  PW_TRY(archive::limits_from_custom(job.info.custom));
  return Ok{};
}

Reply Releases::put(const std::string& sha256, const std::string& body) {
  if (!is_sha256_hex(sha256)) {
    return error_reply(make_error(
        Errc::invalid_argument,
        "release id '" + sha256 + "' must be the target's sha256: 64 lowercase hex digits"));
  }
  {
    std::lock_guard lock(mutex_);
    if (auto it = staged_.find(sha256); it != staged_.end()) {
      return {200, {{"state", "staged"}, {"release", it->second.to_json()}}};
    }
    if (auto it = jobs_.find(sha256); it != jobs_.end() && it->second->state != "failed") {
      return {202, it->second->to_json()};
    }
  }
  auto job = std::make_shared<Job>();
  job->sha256 = sha256;
  if (auto verified = verify_request(sha256, body, *job); !verified.ok()) {
    log::warn("release_refused", {{"sha256", sha256}, {"error", verified.error().to_string()}});
    return error_reply(verified.error());
  }
  job->started_at = log::now_rfc3339();
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(sha256); it != jobs_.end() && it->second->state != "failed") {
    return {202, it->second->to_json()};  // a concurrent identical PUT won
  }
  jobs_[sha256] = job;
  queue_.push_back(job);
  wake_.notify_all();
  log::info("release_accepted", {{"sha256", sha256}, {"target", job->target}});
  return {202, job->to_json()};
}

void Releases::worker_loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
    }
    Status result = run_job(*job);
    std::lock_guard lock(mutex_);
    job->finished_at = log::now_rfc3339();
    if (result.ok()) {
      job->state = "staged";
      log::info("release_staged", {{"sha256", job->sha256}, {"target", job->target}});
    } else {
      job->state = "failed";
      job->error = std::move(result).error();
      log::error("staging_failed", {{"sha256", job->sha256}, {"error", job->error->to_string()}});
    }
  }
}

Status Releases::run_job(Job& job) {
  std::string part = downloads_dir_ + "/" + job.sha256 + ".part";
  {
    std::lock_guard lock(mutex_);
    job.state = "downloading";
  }
  auto elapsed_ms = [](std::chrono::steady_clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 since)
        .count();
  };
  auto began = std::chrono::steady_clock::now();
  auto downloaded = download(job, part);
  if (!downloaded.ok()) return downloaded;
  {
    std::lock_guard lock(mutex_);
    job.state = "extracting";
    job.download_ms = elapsed_ms(began);
  }
  began = std::chrono::steady_clock::now();
  PW_TRY_ASSIGN(archive::Limits limits, archive::limits_from_custom(job.info.custom));
  auto staged = staging::extract_verified_file(part, job.sha256, releases_dir_, limits);
  ::unlink(part.c_str());
  {
    std::lock_guard lock(mutex_);
    job.extract_ms = elapsed_ms(began);
  }
  if (!staged.ok()) return std::move(staged).error().with_context("extracting " + job.target);
  if (auto runnable = check_runnable(staged->path, job.description); !runnable.ok()) {
    std::error_code ignored;
    fs::remove_all(staged->path, ignored);
    return runnable;
  }
  StagedRelease record{job.sha256, job.target, staged->path, log::now_rfc3339(), job.description};
  json::Value saved = record.to_json();
  saved["release"] = describe(job.description);
  auto& release_json = saved["release"];
  release_json.erase("urgency");
  release_json["urgency"] = release::urgency_name(job.description.urgency);
  PW_TRY(write_file_atomic(records_dir_ + "/" + job.sha256 + ".json", saved.dump(), 0600));
  std::lock_guard lock(mutex_);
  staged_[job.sha256] = std::move(record);
  return Ok{};
}

// Downloads into `part` while hashing; resumes with range requests after a cut. Bytes
// already in `part` (from an earlier run) are hashed first. Any mismatch deletes it.
Status Releases::download(Job& job, const std::string& part) {
  PW_TRY_ASSIGN(PartFile file, PartFile::open(part));
  auto remove_part = [&] { ::unlink(part.c_str()); };

  auto check = std::make_unique<trust::HashCheck>(job.info.length, job.info.hashes);
  if (!check->supported()) {
    remove_part();
    return make_error(Errc::unsupported, "target " + job.target + ": no supported hash");
  }
  std::vector<char> buffer(1u << 20);
  for (;;) {  // hash what an earlier run left
    ssize_t n = ::read(file.read_fd(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::io, part + ": " + std::strerror(errno));
    if (n == 0) break;
    check->update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  }
  buffer = {};
  std::uint64_t have = check->seen();
  file.seek_end(have);
  if (have > job.info.length) {
    remove_part();
    return make_error(Errc::mismatch, part + ": longer than the signed length");
  }
  net::Client client(
      net::TlsFiles{config_.controller_ca, identity_.certificate_file, identity_.key_file},
      std::chrono::milliseconds(config_.network_timeout_ms));
  Error last = make_error(Errc::io, "no attempt made");
  // Only attempts that brought no new byte count against the limit, and the waits
  // between them double (0.2 s up to 5 s): a controller restarting takes seconds, and a
  // download that keeps moving is never given up.
  std::uint64_t stalled = 0;
  std::uint64_t progress_mark = have;
  while (have < job.info.length || job.attempts == 0) {
    if (have > progress_mark) stalled = 0;
    progress_mark = have;
    if (stalled >= config_.download_attempts) {
      return std::move(last).with_context(
          "downloading " + job.artifact_url + " (gave up after " + std::to_string(stalled) +
          " attempts in a row without progress, " + std::to_string(job.attempts) + " in all)");
    }
    if (job.attempts > 0) {
      std::uint64_t doublings = std::min<std::uint64_t>(stalled > 0 ? stalled - 1 : 0, 5);
      auto wait = std::chrono::milliseconds(200) * (1u << doublings);
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(5000)));
      log::warn("download_resuming", {{"sha256", job.sha256}, {"offset", have}});
    }
    ++stalled;
    {
      std::lock_guard lock(mutex_);
      ++job.attempts;
    }
    // The network thread decrypts into the pipeline's buffers and checks the length;
    // the pipeline's threads hash and write them, in order (pipeline.hpp): TLS, sha256
    // and the disk then overlap.
    std::uint64_t received = have;
    Status written = Ok{};
    Result<net::DownloadResult> result = make_error(Errc::internal, "not run");
    {
      std::lock_guard lock(mutex_);
      job.bytes_done = have;
    }
    {
      PipelinedWriter writer({[&](std::string_view chunk) -> Status {
                                check->update(chunk);
                                return Ok{};
                              },
                              [&](std::string_view chunk) -> Status {
                                PW_TRY(file.append(chunk));
                                std::lock_guard lock(mutex_);
                                job.bytes_done += chunk.size();
                                return Ok{};
                              }});
      // A resumed download first fills up to a block boundary, so that the following
      // full buffers are written directly (part_file.hpp).
      std::size_t first = file.to_alignment();
      net::BodySink sink{[&]() -> Result<std::span<char>> {
                           PW_TRY_ASSIGN(std::span<char> into, writer.acquire());
                           if (first > 0) into = into.first(std::min(first, into.size()));
                           first = 0;
                           return into;
                         },
                         [&](std::size_t filled) -> Status {
                           if (received + filled > job.info.length) {
                             (void)writer.commit(0);
                             return make_error(Errc::mismatch,
                                               "the artifact is longer than the signed length of " +
                                                   std::to_string(job.info.length) + " bytes");
                           }
                           received += filled;
                           return writer.commit(filled);
                         }};
      result = client.download(job.artifact_url, have, sink);
      written = writer.finish();
    }
    if (!written.ok()) return written;
    if (!result.ok()) {
      last = std::move(result).error();
      if (last.code == Errc::mismatch || last.code == Errc::signature) break;
      have = check->seen();
      continue;
    }
    have = check->seen();
    if (have >= job.info.length) break;
    last = make_error(Errc::io, "the server sent " + std::to_string(have) + " of " +
                                    std::to_string(job.info.length) + " bytes");
  }
  if (last.code == Errc::mismatch || last.code == Errc::signature) {
    remove_part();
    return std::move(last).with_context("downloading " + job.artifact_url);
  }
  if (auto finished = check->finish("target '" + job.target + "'"); !finished.ok()) {
    remove_part();
    return finished;
  }
  // No fsync: the file is only an input to extraction, which makes its own output
  // durable; after a crash a damaged download fails its hash check and is fetched again.
  return Ok{};
}

std::optional<StagedRelease> Releases::find(const std::string& sha256) const {
  std::lock_guard lock(mutex_);
  auto it = staged_.find(sha256);
  if (it == staged_.end()) return std::nullopt;
  return it->second;
}

json::Value Releases::to_json() const {
  std::lock_guard lock(mutex_);
  json::Value staged = json::Value::array();
  for (const auto& [sha, release] : staged_) staged.push_back(release.to_json());
  json::Value jobs = json::Value::array();
  for (const auto& [sha, job] : jobs_) jobs.push_back(job->to_json());
  return {{"staged", staged}, {"jobs", jobs}};
}

void Releases::wipe() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  std::error_code ignored;
  for (const auto* dir : {&releases_dir_, &records_dir_, &downloads_dir_, &trust_dir_}) {
    fs::remove_all(*dir, ignored);
  }
  staged_.clear();
  jobs_.clear();
}

}  // namespace pw::agent
