#include "apply/applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zks::apply {

namespace {
// Single requests that share one fence check.
constexpr size_t kMaxSinglesPerCheck = 256;

bool isFenceLoss(zk::Code code) { return code == zk::Code::kBadVersion || code == zk::Code::kNoNode; }
}  // namespace

std::string refusedForGoodReason(zk::Code code) {
  return std::string("refused for good (") + std::string(zk::codeName(code)) +
         "): not retried until the primary node changes or the next audit";
}

void ApplierStats::countApplied(plan::ChangeKind kind) {
  switch (kind) {
    case plan::ChangeKind::kCreate: ++created; break;
    case plan::ChangeKind::kUpdate: ++updated; break;
    case plan::ChangeKind::kSetAcl: ++acls_set; break;
    case plan::ChangeKind::kDelete: ++deleted; break;
    default: break;
  }
}

bool refusedForGood(zk::Code code) {
  switch (code) {
    case zk::Code::kNoAuth:
    case zk::Code::kInvalidAcl:
    case zk::Code::kBadArguments:
    case zk::Code::kUnimplemented:
    case zk::Code::kNoChildrenForEphemerals:
      return true;
    default:
      return false;
  }
}

struct Applier::Batch {
  std::vector<Pending> changes;
  // Requests of their own (setAcl, container or TTL creates), sent after a
  // fence check: not a multi.
  bool single = false;

  static std::shared_ptr<Batch> of(Pending change, bool single) {
    auto batch = std::make_shared<Batch>();
    batch->changes.push_back(std::move(change));
    batch->single = single;
    return batch;
  }
};

// serializedSize(toOp(change)) without copying the path and payload: a
// string costs its length prefix and its bytes, so the sizes of both are
// added to the size of the same op without them.
size_t requestBytes(const plan::Change& change) {
  const size_t payload = change.path.size() + (change.after ? change.after->size() : 0);
  switch (change.kind) {
    case plan::ChangeKind::kCreate: {
      // Each ACL entry: perms, and scheme and id with their length prefixes
      // (as zk::serializedSize counts them; the unit test holds the two together).
      static const size_t base = zk::serializedSize(zk::CreateOp{.acl = {}});
      size_t acl = 0;
      for (const auto& a : change.acl) acl += 12 + a.scheme.size() + a.id.size();
      return base + acl + payload;
    }
    case plan::ChangeKind::kUpdate: return zk::serializedSize(zk::SetOp{}) + payload;
    case plan::ChangeKind::kDelete: return zk::serializedSize(zk::DeleteOp{}) + change.path.size();
    default: return zk::serializedSize(zk::CheckOp{}) + change.path.size();
  }
}

zk::Op toOp(const plan::Change& change) {
  switch (change.kind) {
    case plan::ChangeKind::kCreate:
      return zk::CreateOp{.path = change.path,
                          .data = change.after.value_or(""),
                          // Never widened: an empty list is refused by the server (invalid ACL).
                          .acl = change.acl,
                          .mode = change.mode,
                          .ttl_ms = change.ttl_ms};
    case plan::ChangeKind::kUpdate:
      return zk::SetOp{.path = change.path, .data = change.after.value_or(""), .version = change.expected_version};
    case plan::ChangeKind::kDelete:
      return zk::DeleteOp{.path = change.path, .version = change.expected_version};
    default:
      // Not a multi op (setAcl) or not a write: callers never pass these.
      return zk::CheckOp{.path = change.path, .version = -1};
  }
}

Applier::Applier(zk::Client& backup, EventLoop& loop, ApplierOptions options, OutcomeCallback on_outcome)
    : backup_(backup), loop_(loop), options_(std::move(options)), on_outcome_(std::move(on_outcome)) {
  for (const auto& op : options_.prefix) prefix_bytes_ += zk::serializedSize(op);
}

Applier::~Applier() { *alive_ = false; }

bool Applier::idle() const { return current_.empty() && queue_.empty() && in_flight_ == 0; }

void Applier::report(OutcomeKind kind, zk::Code code, Pending pending) {
  switch (kind) {
    case OutcomeKind::kApplied:
      switch (pending.change.kind) {
        case plan::ChangeKind::kCreate: ++stats_.created; break;
        case plan::ChangeKind::kUpdate: ++stats_.updated; break;
        case plan::ChangeKind::kSetAcl: ++stats_.acls_set; break;
        case plan::ChangeKind::kDelete: ++stats_.deleted; break;
        default: break;
      }
      break;
    case OutcomeKind::kRefused: ++stats_.refused; break;
    case OutcomeKind::kUnknown: ++stats_.unknown; break;
    default: break;
  }
  auto& callback = pending.done ? pending.done : on_outcome_;
  if (callback) callback(Outcome{kind, code, std::move(pending.change)});
}

bool Applier::needsOwnRequest(const plan::Change& change) const {
  if (change.kind == plan::ChangeKind::kSetAcl) return true;  // ZooKeeper's multi has no setACL
  const bool special = change.kind == plan::ChangeKind::kCreate && change.mode != zk::CreateMode::kPersistent &&
                       change.mode != zk::CreateMode::kPersistentSequential;
  // The 3.8 C client cannot put a container or TTL create in a multi.
  return special && !backup_.capabilities().special_creates_in_multi;
}

void Applier::enqueue(std::shared_ptr<Batch> batch) {
  queued_changes_ += batch->changes.size();
  queue_.push_back(std::move(batch));
}

std::shared_ptr<Applier::Batch> Applier::dequeue() {
  auto batch = std::move(queue_.front());
  queue_.pop_front();
  queued_changes_ -= batch->changes.size();
  return batch;
}

void Applier::submit(plan::Change change, OutcomeCallback done) {
  Pending pending{std::move(change), std::move(done)};
  if (fenced_) {
    report(OutcomeKind::kFenced, zk::Code::kBadVersion, std::move(pending));
    return;
  }
  if (needsOwnRequest(pending.change)) {
    // Keep submit order: what precedes it goes first; consecutive ones
    // share a fence check.
    closeCurrent();
    if (!queue_.empty() && queue_.back()->single && queue_.back()->changes.size() < kMaxSinglesPerCheck) {
      ++queued_changes_;
      queue_.back()->changes.push_back(std::move(pending));
    } else {
      enqueue(Batch::of(std::move(pending), /*single=*/true));
    }
    sendReady();
    return;
  }
  const size_t size = requestBytes(pending.change);
  if (prefix_bytes_ + size > options_.max_request_bytes) {
    report(OutcomeKind::kTooLarge, zk::Code::kBadArguments, std::move(pending));
    return;
  }
  if (!current_.empty() && (prefix_bytes_ + current_bytes_ + size > options_.max_request_bytes ||
                            current_.size() + options_.prefix.size() >= options_.max_ops_per_batch)) {
    closeCurrent();
  }
  // One allocation per batch rather than ten growths of a vector of changes.
  if (current_.empty()) current_.reserve(options_.max_ops_per_batch);
  current_.push_back(std::move(pending));
  current_bytes_ += size;
  sendReady();
}

// The partial batch goes at the next free slot, not necessarily now: while
// every slot is busy it keeps filling, so many small flushes (one per event
// pass) become one multi — group commit, with no delay when a slot is free.
void Applier::flush() {
  if (!current_.empty()) flush_requested_ = true;
  sendReady();
}

void Applier::closeCurrent() {
  if (current_.empty()) return;
  enqueue(std::make_shared<Batch>(Batch{std::move(current_)}));
  current_.clear();
  current_bytes_ = 0;
  flush_requested_ = false;
}

// Token bucket holding at most one second of ops; a batch goes when the
// bucket is positive and may take it below zero, which later batches wait out.
bool Applier::rateAllows(size_t ops) {
  if (options_.max_ops_per_s <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  const double rate = options_.max_ops_per_s;
  budget_ = std::min(rate, budget_ + rate * std::chrono::duration<double>(now - refilled_).count());
  refilled_ = now;
  if (budget_ > 0) {
    budget_ -= static_cast<double>(ops);
    return true;
  }
  if (!wakeup_pending_) {
    wakeup_pending_ = true;
    const auto wait = std::chrono::milliseconds(static_cast<int64_t>(1000.0 * (-budget_ + 1) / rate) + 1);
    loop_.postAfter(wait, [this, alive = alive_] {
      if (!*alive) return;
      wakeup_pending_ = false;
      sendReady();
    });
  }
  return false;
}

void Applier::sendReady() {
  while (!fenced_ && !awaiting_fence_check_ && in_flight_ < options_.max_batches_in_flight) {
    if (queue_.empty()) {
      if (!flush_requested_) return;
      closeCurrent();
      if (queue_.empty()) return;
    }
    if (!rateAllows(queue_.front()->changes.size())) return;
    auto batch = dequeue();
    if (batch->single) {
      sendFenced(std::move(batch));
    } else {
      send(std::move(batch));
    }
  }
}

void Applier::send(std::shared_ptr<Batch> batch) {
  std::vector<zk::Op> ops = options_.prefix;
  ops.reserve(ops.size() + batch->changes.size());
  for (const auto& c : batch->changes) ops.push_back(toOp(c.change));
  ++in_flight_;
  in_flight_changes_ += batch->changes.size();
  ++stats_.batches;
  backup_.multi(std::move(ops), [this, loop = &loop_, alive = alive_, batch](zk::MultiResult result) {
    loop->post([this, alive, batch, result = std::move(result)]() mutable {
      if (!*alive) return;
      --in_flight_;
      in_flight_changes_ -= batch->changes.size();
      onBatchDone(batch, std::move(result));
      sendReady();
    });
  });
}

void Applier::onBatchDone(std::shared_ptr<Batch> batch, zk::MultiResult result) {
  const size_t prefix = options_.prefix.size();
  if (result.code == zk::Code::kOk) {
    for (auto& c : batch->changes) report(OutcomeKind::kApplied, zk::Code::kOk, std::move(c));
    return;
  }
  if (zk::isRetryable(result.code)) {
    for (auto& c : batch->changes) report(OutcomeKind::kUnknown, result.code, std::move(c));
    return;
  }
  // Op 0 is the fence check. Only its failure with bad version or no node
  // means the fence moved; refused for another reason (say no auth to read
  // the fence node) no change of this batch can land, and each is refused.
  if (prefix > 0 && !result.results.empty()) {
    const zk::Code check = result.results.front().code;
    if (isFenceLoss(check)) {
      spdlog::error("backup write refused: the fence moved ({}); this replicator stops writing", zk::codeName(check));
      for (auto& c : batch->changes) report(OutcomeKind::kFenced, check, std::move(c));
      fenceAll(check);
      return;
    }
    if (check != zk::Code::kOk && check != zk::Code::kRuntimeInconsistency) {
      spdlog::error("backup write refused: the fence check on {} failed ({})", zk::opPath(options_.prefix.front()),
                    zk::codeName(check));
      for (auto& c : batch->changes) report(OutcomeKind::kRefused, check, std::move(c));
      return;
    }
  }
  if (batch->changes.size() == 1) {
    report(OutcomeKind::kRefused, result.code, std::move(batch->changes.front()));
    return;
  }
  ++stats_.batch_fallbacks;
  fallBackToSingles(std::move(batch));
}

// Once fenced, nothing queued will ever be sent: tell every owner now.
void Applier::fenceAll(zk::Code code) {
  fenced_ = true;
  auto queue = std::move(queue_);
  queue_.clear();
  queued_changes_ = 0;
  auto current = std::move(current_);
  current_.clear();
  current_bytes_ = 0;
  for (auto& queued : queue)
    for (auto& c : queued->changes) report(OutcomeKind::kFenced, code, std::move(c));
  for (auto& c : current) report(OutcomeKind::kFenced, code, std::move(c));
}

// Redo a refused batch one change at a time (each behind the fence check) so
// that the changes that can land do, and each refused one learns its reason.
void Applier::fallBackToSingles(std::shared_ptr<Batch> batch) {
  for (auto& c : batch->changes) {
    queued_changes_ += 1;
    queue_.push_front(Batch::of(std::move(c), /*single=*/false));
  }
  // push_front reversed them; restore submit order among the singles.
  std::reverse(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(batch->changes.size()));
}

// A multi of the fence check alone, then (once it passed) the batch's
// requests back to back on the same session. Nothing else is sent in
// between, so submit order holds.
void Applier::sendFenced(std::shared_ptr<Batch> batch) {
  if (options_.prefix.empty()) {
    for (auto& c : batch->changes) applySingle(std::move(c));
    return;
  }
  awaiting_fence_check_ = true;
  ++in_flight_;
  in_flight_changes_ += batch->changes.size();
  backup_.multi(options_.prefix, [this, loop = &loop_, alive = alive_, batch](zk::MultiResult result) {
    loop->post([this, alive, batch, result = std::move(result)]() mutable {
      if (!*alive) return;
      --in_flight_;
      in_flight_changes_ -= batch->changes.size();
      awaiting_fence_check_ = false;
      if (fenced_) {
        // An earlier batch already found the fence moved.
        for (auto& c : batch->changes) report(OutcomeKind::kFenced, zk::Code::kBadVersion, std::move(c));
      } else if (result.code == zk::Code::kOk) {
        for (auto& c : batch->changes) applySingle(std::move(c));
      } else if (zk::isRetryable(result.code)) {
        // Not sent: re-read and re-plan, as after any unknown outcome.
        for (auto& c : batch->changes) report(OutcomeKind::kUnknown, result.code, std::move(c));
      } else {
        const zk::Code check = result.results.empty() ? result.code : result.results.front().code;
        if (isFenceLoss(check)) {
          spdlog::error("backup write refused: the fence moved ({}); this replicator stops writing",
                        zk::codeName(check));
          for (auto& c : batch->changes) report(OutcomeKind::kFenced, check, std::move(c));
          fenceAll(check);
          return;
        }
        spdlog::error("backup write refused: the fence check failed ({})", zk::codeName(check));
        for (auto& c : batch->changes) report(OutcomeKind::kRefused, check, std::move(c));
      }
      sendReady();
    });
  });
}

void Applier::applySingle(Pending pending) {
  ++in_flight_;
  ++in_flight_changes_;
  auto finish = [this, loop = &loop_, alive = alive_](Pending change, zk::Code code) {
    loop->post([this, alive, change = std::move(change), code]() mutable {
      if (!*alive) return;
      --in_flight_;
      --in_flight_changes_;
      if (code == zk::Code::kOk) {
        report(OutcomeKind::kApplied, code, std::move(change));
      } else if (zk::isRetryable(code)) {
        report(OutcomeKind::kUnknown, code, std::move(change));
      } else {
        report(OutcomeKind::kRefused, code, std::move(change));
      }
      sendReady();
    });
  };
  if (pending.change.kind == plan::ChangeKind::kCreate) {
    auto op = std::get<zk::CreateOp>(toOp(pending.change));
    backup_.create(std::move(op), [finish, change = std::move(pending)](zk::CreateResult r) mutable {
      finish(std::move(change), r.code);
    });
    return;
  }
  auto path = pending.change.path;
  auto acl = pending.change.acl;
  const int32_t version = pending.change.expected_version;
  backup_.setAcl(path, std::move(acl), version, [finish, change = std::move(pending)](zk::VoidResult r) mutable {
    finish(std::move(change), r.code);
  });
}

}  // namespace zks::apply
