#include "orchestrator/store/audit_log.hpp"

#include "common/crypto/hash.hpp"
#include "common/log/log.hpp"

namespace pw::store {
namespace {

constexpr const char* kColumns = "seq, time, actor, action, inputs, outcome, prev_hash, hash";

Result<StoredEvent> from_row(const Statement& row) {
  StoredEvent event;
  event.seq = row.integer(0);
  event.time = row.text(1);
  event.actor = row.text(2);
  event.action = row.text(3);
  auto inputs = json::parse(row.text(4));
  if (!inputs.ok()) {
    return make_error(Errc::parse, "event " + std::to_string(event.seq) + ": inputs are not JSON");
  }
  event.inputs = std::move(*inputs);
  event.outcome = row.text(5);
  event.prev_hash = row.text(6);
  event.hash = row.text(7);
  return event;
}

}  // namespace

json::Value StoredEvent::to_json() const {
  return {{"seq", seq},       {"time", time},       {"actor", actor},         {"action", action},
          {"inputs", inputs}, {"outcome", outcome}, {"prev_hash", prev_hash}, {"hash", hash}};
}

Result<std::string> event_hash(const StoredEvent& event) {
  json::Value document = {{"seq", event.seq},       {"time", event.time},
                          {"actor", event.actor},   {"action", event.action},
                          {"inputs", event.inputs}, {"outcome", event.outcome},
                          {"prev", event.prev_hash}};
  PW_TRY_ASSIGN(std::string canonical, json::canonical(document));
  return crypto::sha256_hex(canonical);
}

AuditLog::AuditLog(Database& db, Clock clock) : db_(&db), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return log::now_rfc3339(); };
}

Result<StoredEvent> AuditLog::append(const Event& event) {
  StoredEvent stored;
  auto status = db_->transaction([&]() -> Status {
    PW_TRY_ASSIGN(stored, append_in_transaction(event));
    return Ok{};
  });
  if (!status.ok()) return std::move(status).error();
  return stored;
}

Result<StoredEvent> AuditLog::append_in_transaction(const Event& event) {
  StoredEvent stored;
  auto status = [&]() -> Status {
    PW_TRY_ASSIGN(Statement last,
                  db_->prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"));
    PW_TRY_ASSIGN(bool has_last, last.step());
    stored.seq = has_last ? last.integer(0) + 1 : 1;
    stored.prev_hash = has_last ? last.text(1) : kGenesisHash;
    stored.time = clock_();
    stored.actor = event.actor;
    stored.action = event.action;
    stored.inputs = event.inputs.is_null() ? json::Value::object() : event.inputs;
    stored.outcome = event.outcome;
    PW_TRY_ASSIGN(stored.hash, event_hash(stored));
    PW_TRY_ASSIGN(std::string inputs, json::canonical(stored.inputs));
    PW_TRY_ASSIGN(Statement insert,
                  db_->prepare("INSERT INTO events (seq, time, actor, action, inputs, outcome, "
                               "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    insert.bind(1, stored.seq)
        .bind(2, stored.time)
        .bind(3, stored.actor)
        .bind(4, stored.action)
        .bind(5, inputs)
        .bind(6, stored.outcome)
        .bind(7, stored.prev_hash)
        .bind(8, stored.hash);
    return insert.run();
  }();
  if (!status.ok()) return std::move(status).error().with_context("appending an audit event");
  return stored;
}

Result<std::vector<StoredEvent>> AuditLog::read(std::int64_t from, std::size_t limit) const {
  std::string sql = std::string("SELECT ") + kColumns + " FROM events WHERE seq >= ?1 ORDER BY seq";
  if (limit > 0) sql += " LIMIT ?2";
  PW_TRY_ASSIGN(Statement query, db_->prepare(sql));
  query.bind(1, from);
  if (limit > 0) query.bind(2, static_cast<std::int64_t>(limit));
  std::vector<StoredEvent> out;
  for (;;) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    PW_TRY_ASSIGN(StoredEvent event, from_row(query));
    out.push_back(std::move(event));
  }
  return out;
}

Result<std::optional<StoredEvent>> AuditLog::at(std::int64_t seq) const {
  PW_TRY_ASSIGN(Statement query,
                db_->prepare(std::string("SELECT ") + kColumns + " FROM events WHERE seq = ?1"));
  query.bind(1, seq);
  PW_TRY_ASSIGN(bool row, query.step());
  if (!row) return std::optional<StoredEvent>();
  PW_TRY_ASSIGN(StoredEvent event, from_row(query));
  return std::optional<StoredEvent>(std::move(event));
}

Result<std::optional<StoredEvent>> AuditLog::head() const {
  PW_TRY_ASSIGN(Statement query, db_->prepare(std::string("SELECT ") + kColumns +
                                              " FROM events ORDER BY seq DESC LIMIT 1"));
  PW_TRY_ASSIGN(bool row, query.step());
  if (!row) return std::optional<StoredEvent>();
  PW_TRY_ASSIGN(StoredEvent event, from_row(query));
  return std::optional<StoredEvent>(std::move(event));
}

Result<ChainReport> AuditLog::verify() const {
  ChainReport report;
  PW_TRY_ASSIGN(Statement query,
                db_->prepare(std::string("SELECT ") + kColumns + " FROM events ORDER BY seq"));
  std::string prev = kGenesisHash;
  std::int64_t expected_seq = 1;
  auto broken = [&](std::int64_t seq, std::string reason) {
    report.intact = false;
    report.first_broken = seq;
    report.reason = std::move(reason);
    return report;  // events and head_hash: the last event that checked
  };
  for (;; ++expected_seq) {
    PW_TRY_ASSIGN(bool row, query.step());
    if (!row) break;
    std::int64_t seq = query.integer(0);
    if (seq != expected_seq) {
      return broken(expected_seq, "event " + std::to_string(expected_seq) +
                                      " is missing (the next one is " + std::to_string(seq) + ")");
    }
    auto event = from_row(query);
    if (!event.ok()) return broken(seq, event.error().message);
    if (event->prev_hash != prev) {
      return broken(seq, "event " + std::to_string(seq) +
                             " does not link to the one before it (prev_hash differs)");
    }
    auto hash = event_hash(*event);
    if (!hash.ok()) return broken(seq, hash.error().message);
    if (*hash != event->hash) {
      return broken(seq, "event " + std::to_string(seq) +
                             " was changed after it was written (its hash does not match its "
                             "content)");
    }
    prev = event->hash;
    report.events = seq;
    report.head_hash = prev;
  }
  return report;
}

}  // namespace pw::store
