#pragma once

// Turns planned changes into ZooKeeper writes on the backup: multi batches
// bounded by serialized bytes, several in flight at once, each led by the
// fence check so a fenced or deposed writer cannot land one more node.
//
// Threading: submit(), flush() and the outcome callback all run on the
// owner's EventLoop thread; client completions are posted there.
//
// Requests that cannot go inside a multi — setACL, and container and TTL
// creates when the backup client cannot put those in one
// (Capabilities::special_creates_in_multi) — go out only after a multi of
// the fence check alone has succeeded on the same session. Replies come in
// order (FIFO), so such a write lands at most one round trip after a fence
// check that passed: a failover can no longer be followed by seconds of
// them. Consecutive ones share one check.
//
// Failure handling (level-triggered, never a blind retry):
//  - a batch whose fence check (op 0) fails with bad version or no node:
//    every change gets kFenced and the applier stops sending. The check
//    refused for another reason (no auth) is a refusal of the batch, not a
//    moved fence;
//  - a batch refused on one of its changes (an answer such as node exists or
//    bad version): the batch is redone change by change, each still behind
//    the fence check, so every change learns its own answer;
//  - a batch whose outcome is unknown (connection loss, timeout, session
//    expired): every change is reported kUnknown; the caller re-reads those
//    paths and plans again.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "plan/change.h"
#include "zk/client.h"

namespace zks::apply {

enum class OutcomeKind : uint8_t {
  kApplied,   // written
  kRefused,   // the server answered no (code says why); re-read and re-plan
  kUnknown,   // outcome unknown; re-read and re-plan
  kFenced,    // the fence moved: stop writing
  kTooLarge,  // the change alone exceeds the request limit; never sent
};

// A refusal no re-read and re-plan can change (no auth, invalid ACL, bad
// arguments, ...): the change's node is reported, not retried until it
// changes. The others (bad version, node exists, no node, not empty) mean
// the backup moved under the plan: re-read and re-plan.
bool refusedForGood(zk::Code code);
// The reason a change refused for good is reported with.
std::string refusedForGoodReason(zk::Code code);

struct Outcome {
  OutcomeKind kind;
  zk::Code code = zk::Code::kOk;
  plan::Change change;
};

struct ApplierOptions {
  std::vector<zk::Op> prefix;  // the fence check, first in every batch
  size_t max_request_bytes = 1024 * 1024 - 4096;
  size_t max_ops_per_batch = 1000;
  size_t max_batches_in_flight = 8;
  // Write ops per second toward the backup (sync.max_write_ops_per_s), to
  // protect it during a full resync; 0: unlimited.
  int max_ops_per_s = 0;
};

struct ApplierStats {
  uint64_t created = 0, updated = 0, acls_set = 0, deleted = 0;
  uint64_t refused = 0, unknown = 0, batches = 0, batch_fallbacks = 0;
  uint64_t writes() const { return created + updated + acls_set + deleted; }
  // Counts one applied change of `kind` (a non-write kind counts nothing).
  void countApplied(plan::ChangeKind kind);
};

class Applier {
 public:
  using OutcomeCallback = std::function<void(const Outcome&)>;

  Applier(zk::Client& backup, EventLoop& loop, ApplierOptions options, OutcomeCallback on_outcome);
  ~Applier();
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Queues one write change (plan::isWrite). Changes are applied in submit
  // order. `done`, when given, hears this change's outcome instead of the
  // applier-wide callback (several reconcilers can share one applier).
  void submit(plan::Change change, OutcomeCallback done = {});
  // Sends the partial batch at the next free slot (now if one is free);
  // changes submitted meanwhile join it.
  void flush();

  // Nothing queued, batched or in flight.
  bool idle() const;
  bool fenced() const { return fenced_; }
  // Writes (changes, not batches) not yet answered: being batched, queued
  // or in flight.
  size_t pendingWrites() const { return queued_changes_ + current_.size() + in_flight_changes_; }
  const ApplierStats& stats() const { return stats_; }

 private:
  struct Pending {
    plan::Change change;
    OutcomeCallback done;
  };
  struct Batch;
  void sendReady();
  void closeCurrent();  // the batch being filled joins the queue
  void enqueue(std::shared_ptr<Batch> batch);
  std::shared_ptr<Batch> dequeue();
  void send(std::shared_ptr<Batch> batch);
  void onBatchDone(std::shared_ptr<Batch> batch, zk::MultiResult result);
  void fallBackToSingles(std::shared_ptr<Batch> batch);
  void report(OutcomeKind kind, zk::Code code, Pending pending);
  // setAcl, container and TTL creates: after a fence check (sendFenced),
  // then one request each (applySingle).
  void sendFenced(std::shared_ptr<Batch> batch);
  void applySingle(Pending pending);
  void fenceAll(zk::Code code);
  bool needsOwnRequest(const plan::Change& change) const;

  zk::Client& backup_;
  EventLoop& loop_;
  ApplierOptions options_;
  OutcomeCallback on_outcome_;
  size_t prefix_bytes_ = 0;

  std::vector<Pending> current_;  // the batch being filled
  size_t current_bytes_ = 0;
  bool flush_requested_ = false;  // send current_ at the next free slot
  std::deque<std::shared_ptr<Batch>> queue_;  // full batches waiting for a slot
  size_t queued_changes_ = 0;     // changes in queue_
  size_t in_flight_ = 0;          // requests in flight
  size_t in_flight_changes_ = 0;  // changes they carry
  // A fence check for single requests is in flight: nothing else is sent
  // until they are (they must keep their place in submit order).
  bool awaiting_fence_check_ = false;
  bool fenced_ = false;
  ApplierStats stats_;
  // Rate limit: ops may be sent while budget_ > 0; it refills with time.
  double budget_ = 0;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
  bool wakeup_pending_ = false;
  bool rateAllows(size_t ops);
  // Completions arriving after destruction must not touch this object.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The ZooKeeper op that carries out a write change.
zk::Op toOp(const plan::Change& change);
// zk::serializedSize(toOp(change)), without building the op.
size_t requestBytes(const plan::Change& change);

}  // namespace zks::apply
