// Staging releases on this server, asked for by the controller with
// PUT /v1/releases/{sha256}. The request is checked at once (the metadata bundle must
// verify against the pinned root, through the TUF workflow with rollback protection kept
// in <state>/trust; the target with that sha256 must be listed and describe a runnable
// release); the download and extraction then run on a worker thread, one job at a time,
// and their progress and errors show in status. Nothing half-installed: a release is in
// <state>/releases/<sha256>/ complete and checked, or not at all.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agents/daemon/config.hpp"
#include "agents/daemon/identity.hpp"
#include "common/json/json.hpp"
#include "common/release_description/release_description.hpp"
#include "common/trust/client.hpp"

namespace pw::agent {

struct StagedRelease {
  std::string sha256, target, path, staged_at;
  release::ReleaseDescription description;
  json::Value to_json() const;
};

struct Reply {
  int status = 200;
  json::Value body;
};

// {"error": {"code": ..., "message": ...}} with the HTTP status that fits the code.
Reply error_reply(const Error& error);

class Releases {
 public:
  Releases(const AgentConfig& config, const Identity& identity);
  ~Releases();  // finishes the running download step, then stops the worker
  Releases(const Releases&) = delete;
  Releases& operator=(const Releases&) = delete;

  // Loads the records of releases staged by earlier runs; removes leftovers.
  Status load();

  // 200 already staged, 202 accepted (or already in progress), 4xx refused.
  Reply put(const std::string& sha256, const std::string& body);

  std::optional<StagedRelease> find(const std::string& sha256) const;
  json::Value to_json() const;  // {"staged": [...], "jobs": [...]}

  // Stops the worker and deletes every release, download and trusted metadata.
  void wipe();

  struct Job;

 private:
  Status verify_request(const std::string& sha256, const std::string& body, Job& job);
  void worker_loop();
  Status run_job(Job& job);
  Status download(Job& job, const std::string& part);

  AgentConfig config_;
  Identity identity_;
  std::string releases_dir_, records_dir_, downloads_dir_, trust_dir_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, StagedRelease> staged_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::mutex trust_mutex_;  // one TUF update at a time
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace pw::agent
