#include "daemon/replicator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mapping/path.h"

namespace zks::daemon {

namespace {
// Event and node passes at once: each is small (one node, or one node's children).
constexpr size_t kMaxEventPasses = 512;
// A refused or unknown write is looked at again after a pause that doubles
// with each failure in a row, up to a cap: a backup that keeps refusing is
// not hammered, and one that recovers is caught up within the cap.
constexpr auto kRetryFirst = std::chrono::milliseconds(100);
constexpr auto kRetryCap = std::chrono::seconds(30);
// Another full pass after one that left writes unresolved or failed.
constexpr auto kFullRetryFirst = std::chrono::milliseconds(500);
// addWatch refused for a reason other than "not implemented": again after this.
constexpr auto kSubscribeRetry = std::chrono::seconds(1);
// A re-verification reads with few requests in flight, so that a live
// event's read never queues behind more than a few of them on the primary
// session, and plans few writes ahead, so that a live event's write never
// queues behind many of them in the applier.
constexpr size_t kReverifyReads = 256;
constexpr size_t kReverifyBatches = 2;
constexpr size_t kReverifyBatchOps = 100;
constexpr size_t kReverifyPendingWrites = 1000;

std::chrono::milliseconds backoff(std::chrono::milliseconds first, int failures) {
  const int doublings = std::clamp(failures - 1, 0, 20);
  const auto delay = first * (int64_t{1} << doublings);
  return std::min<std::chrono::milliseconds>(delay, kRetryCap);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string parentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Paces a re-verification (see kReverify*).
void pace(reconcile::ReconcileOptions& o) {
  o.max_outstanding_reads = kReverifyReads;
  o.max_pending_writes = kReverifyPendingWrites;
  o.read_batches_in_flight = kReverifyBatches;
  o.read_batch_ops = kReverifyBatchOps;
}
}  // namespace

std::string_view watchModeName(WatchMode mode) {
  return mode == WatchMode::kRecursive ? "recursive" : "per_node";
}

struct Replicator::Pass {
  enum class Kind : uint8_t { kFull, kEvent, kNode };
  Kind kind = Kind::kFull;
  std::unique_ptr<reconcile::Reconciler> reconciler;  // full and event passes
  std::unique_ptr<NodePass> node;                     // node passes
  bool audit = false;
  bool reverify = false;
  std::string reason;                       // full passes
  DirtyItem item;                           // event and node passes
  std::optional<Watermark::Ticket> ticket;  // event and node passes: the work they stand for
  // Event and node passes: a full pass ran when it started (fifo_merge.h I7).
  bool during_full = false;
  // Full passes: the gap and retry tickets open when it started; a clean
  // end closes them.
  std::vector<Watermark::Ticket> closes;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  const reconcile::ReconcileReport& report() const { return node ? node->report() : reconciler->report(); }
};

Replicator::Replicator(EventLoop& loop, zk::Client& primary, zk::Client& backup, const reconcile::Engine& engine,
                       std::vector<zk::Op> fence_prefix, DaemonMetrics& metrics, reconcile::NodeIndex& index,
                       ReplicatorHooks hooks, WatchMode mode)
    : loop_(loop),
      primary_(primary),
      backup_(backup),
      engine_(engine),
      metrics_(metrics),
      index_(index),
      hooks_(std::move(hooks)),
      mode_(mode),
      applier_(backup, loop,
               apply::ApplierOptions{.prefix = std::move(fence_prefix),
                                     .max_request_bytes = engine.config.sync.max_request_bytes,
                                     .max_ops_per_s = engine.config.sync.max_write_ops_per_s},
               nullptr) {
  // A new leader knows nothing is watched yet: no watermark before its
  // first clean full pass.
  gap_tickets_.push_back(watermark_.open());
  // Only per-node event passes erase whole subtrees from the index.
  index_.keepPaths(!recursive());
  metrics_.mode_recursive.set(recursive() ? 1 : 0);
  metrics_.mode_per_node.set(recursive() ? 0 : 1);
  spdlog::info("watching the {}: {}", "primary",
               recursive() ? "one persistent recursive watch per root" : "a data and a child watch per node");
}

Replicator::~Replicator() {
  *alive_ = false;
  passes_.clear();
}

void Replicator::stop() {
  if (!stopped_ && recursive() && watched_generation_ != 0 && watched_generation_ == primary_.generation()) {
    // A follower's session must not keep receiving every event of the tree.
    for (const auto& root : engine_.options.roots) primary_.removeWatches(root.source, [](zk::VoidResult) {});
  }
  stopped_ = true;
  watched_generation_ = 0;
  watched_roots_ = 0;
  applier_.flush();  // what was planned still goes out; drained() tells when
  passes_.clear();
  event_passes_ = 0;
  dirty_.clear();
  during_full_.clear();
  full_pending_.reset();
  full_running_ = false;
  ledger_.fullPassEnded();
  reverify_running_ = false;
  metrics_.reverify_running.set(0);
}

bool Replicator::drained() const { return applier_.idle(); }

void Replicator::reload(const reconcile::Engine& engine) {
  engine_ = engine;
  requestFullReconcile("reload", false);
}

void Replicator::requestFullReconcile(const std::string& reason, bool trust_index) {
  if (stopped_) return;
  // A pending untrusted pass covers any other request: it stays as it is.
  if (!full_pending_ || full_pending_->second) full_pending_ = {reason, trust_index};
  if (!full_running_) startFull();
}

void Replicator::primaryGap() { gap_tickets_.push_back(watermark_.open()); }

void Replicator::primaryReconnected() {
  if (stopped_ || !recursive()) return;
  // The client re-added the watches (SetWatches2); the server sent nothing
  // for what changed while the connection was down.
  spdlog::info("primary connection back (same session): live events resume; re-verifying the tree in the background");
  primaryGap();
  requestFullReconcile("reconnect", true);
}

void Replicator::setConnected(bool primary, bool backup) {
  const bool was = connected();
  primary_connected_ = primary;
  backup_connected_ = backup;
  if (connected() && !was) {
    spdlog::info("both sites connected: replication resumes");
    if (!full_running_) startFull();
    pumpEvents();
  }
}

state::Counters Replicator::takeCounterChanges() {
  state::Counters out;
  out.swap(counter_changes_);
  return out;
}

size_t Replicator::unreadableNodes() const { return full_unreadable_ + event_unreadable_.size(); }

std::string Replicator::firstUnreadable() const {
  return event_unreadable_.empty() ? full_first_unreadable_ : *event_unreadable_.begin();
}

void Replicator::setWatchGauge() {
  if (recursive()) {
    metrics_.watches.set(static_cast<double>(watched_roots_));
  } else {
    metrics_.watches.set(static_cast<double>(hooks_.watch_count ? hooks_.watch_count() : index_.size()));
  }
}

void Replicator::updateGauges() {
  metrics_.queue_depth.set(static_cast<double>(queueDepth()));
  metrics_.parked_nodes.set(static_cast<double>(index_.parked()));
  metrics_.last_applied_zxid.set(static_cast<double>(watermark_.value()));
  metrics_.unreadable_nodes.set(static_cast<double>(unreadableNodes()));
  setWatchGauge();
}

reconcile::ReconcileOptions Replicator::baseOptions() {
  auto o = engine_.options;
  o.shared_applier = &applier_;
  o.index = &index_;
  // Recursive mode sets no watch with any read (I9, ZOOKEEPER-4466).
  o.watch_primary = !recursive();
  o.dry_run = false;
  o.on_replicated_node = [this](const std::string& backup_path, const zk::Stat& stat) {
    if (stat.cversion == 0 && stat.num_children == 0) return;
    // The highest counter seen wins: failover raises the backup's counters
    // to at least these, and a raise can only go up.
    const int32_t next = state::nextSequence(stat);
    auto [it, fresh] = counter_changes_.try_emplace(backup_path, next);
    if (!fresh) it->second = std::max(it->second, next);
  };
  o.next_read_seq = [this] { return seq_.next(); };
  return o;
}

// ---- full passes ----

void Replicator::subscribe() {
  if (subscribing_ || stopped_) return;
  subscribing_ = true;
  const uint64_t generation = primary_.generation();
  struct Round {
    std::vector<zk::Code> codes;
    size_t remaining = 0;
  };
  auto round = std::make_shared<Round>();
  round->codes.resize(engine_.options.roots.size(), zk::Code::kOk);
  round->remaining = round->codes.size();
  if (round->remaining == 0) {
    onSubscribed(generation, {});
    return;
  }
  for (size_t i = 0; i < engine_.options.roots.size(); ++i) {
    primary_.addWatch(engine_.options.roots[i].source, zk::AddWatchMode::kPersistentRecursive,
                      [this, loop = &loop_, alive = alive_, round, i, generation](zk::VoidResult r) {
                        loop->post([this, alive, round, i, generation, code = r.code] {
                          if (!*alive) return;
                          seq_.next();  // a primary reply (I1)
                          round->codes[i] = code;
                          if (--round->remaining == 0) onSubscribed(generation, round->codes);
                        });
                      });
  }
}

void Replicator::onSubscribed(uint64_t generation, const std::vector<zk::Code>& codes) {
  subscribing_ = false;
  if (stopped_) return;
  bool unimplemented = false, failed = false;
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] == zk::Code::kUnimplemented) {
      unimplemented = true;
    } else if (codes[i] != zk::Code::kOk) {
      failed = true;
      spdlog::warn("primary: watching {} recursively failed: {}; retrying", engine_.options.roots[i].source,
                   zk::codeName(codes[i]));
    }
  }
  if (unimplemented) {
    spdlog::warn("primary: the server has no persistent watches (addWatch, ZooKeeper 3.6+): falling back to a data "
                 "and a child watch per node");
    mode_ = WatchMode::kPerNode;
    index_.keepPaths(true);  // filled again by the full pass that follows
    metrics_.mode_recursive.set(0);
    metrics_.mode_per_node.set(1);
    watched_roots_ = 0;
    setWatchGauge();
    startFull();
    return;
  }
  if (failed || generation != primary_.generation()) {
    loop_.postAfter(failed ? kSubscribeRetry : std::chrono::milliseconds(0), [this, alive = alive_] {
      if (*alive) startFull();
    });
    return;
  }
  watched_generation_ = generation;
  watched_roots_ = codes.size();
  setWatchGauge();
  spdlog::info("primary: watching {} root(s) recursively (session {})", codes.size(), generation);
  startFull();
}

void Replicator::startFull() {
  if (stopped_ || !full_pending_ || !connected() || full_running_) return;
  // Recursive mode: the watches of this session first, then the read (I5).
  if (recursive() && watched_generation_ != primary_.generation()) {
    subscribe();
    return;
  }
  auto [reason, trust] = *full_pending_;
  full_pending_.reset();
  full_running_ = true;
  full_numbered_ = false;
  pending_verdict_.reset();  // the new pass decides
  ledger_.fullPassStarted();
  auto pass = std::make_unique<Pass>();
  pass->kind = Pass::Kind::kFull;
  pass->reason = reason;
  pass->audit = !trust && first_done_;
  // The first read of a leadership is the one /readyz waits for: at full
  // speed. Everything after it runs beside live events: paced.
  pass->reverify = first_done_ && (trust || pass->audit);
  pass->closes = gap_tickets_;
  if (full_retry_ticket_) pass->closes.push_back(*full_retry_ticket_);
  auto o = baseOptions();
  o.trust_index = trust;
  o.allow_mass_delete = false;
  o.progress_every = pass->reverify ? 10000 : 50000;
  o.next_read_seq = [this] {
    full_numbered_ = true;
    return seq_.next();
  };
  o.may_plan = [this](const std::string& source, const std::string& backup, uint64_t seq) {
    return ledger_.mayPlan(source, backup, seq);
  };
  o.may_delete_orphan = [this](const std::string& backup, uint64_t listing_seq) {
    return ledger_.mayDeleteOrphan(backup, listing_seq);
  };
  const bool reverify = pass->reverify;
  if (reverify) {
    pace(o);
    reverify_running_ = true;
    reverify_nodes_ = 0;
    metrics_.reverify_running.set(1);
  }
  o.progress = [this, reason, reverify](size_t nodes, size_t writes) {
    if (reverify && nodes > reverify_nodes_) {
      metrics_.reverify_nodes.inc(nodes - reverify_nodes_);
      reverify_nodes_ = nodes;
    }
    if (nodes % 50000 == 0) spdlog::info("reconcile ({}): {} primary nodes read, {} writes", reason, nodes, writes);
  };
  Pass* raw = pass.get();
  const bool audit = pass->audit;
  o.on_applied = [this, audit](const plan::Change& c) { onApplied(c, false, audit); };
  o.on_finished = [this, alive = alive_, raw] {
    if (*alive) afterPass(raw);
  };
  spdlog::info("full reconcile started ({}{}{})", reason, trust ? ", trusting the index" : "",
               reverify ? ", paced beside live events" : "");
  pass->reconciler = std::make_unique<reconcile::Reconciler>(loop_, primary_, backup_, std::move(o));
  passes_.push_back(std::move(pass));
  raw->reconciler->start();
}

// ---- events ----

void Replicator::markDirty(const std::string& path, uint8_t flags, std::optional<Watermark::Ticket> ticket) {
  dirty_.mark(path, flags);
  auto [it, fresh] = waiting_tickets_.try_emplace(path, 0);
  if (fresh) {
    it->second = ticket ? *ticket : watermark_.open();
  } else if (ticket) {
    // One piece of work now stands for both: keep the older ticket.
    watermark_.close(std::max(it->second, *ticket));
    it->second = std::min(it->second, *ticket);
  }
}

void Replicator::retryLater(const std::string& path, uint8_t flags, Watermark::Ticket ticket) {
  const auto delay = backoff(kRetryFirst, ++path_failures_[path]);
  loop_.postAfter(delay, [this, alive = alive_, path, flags, ticket] {
    if (!*alive || stopped_) return;
    markDirty(path, flags, ticket);
    pumpEvents();
  });
}

void Replicator::onPrimaryEvent(const zk::WatchEvent& event) {
  seq_.next();  // I1: the event's place in the session's order
  if (stopped_) return;
  metrics_.event(event.type);
  const auto& o = engine_.options;
  if (event.type != zk::EventType::kNotWatching && o.excluded_primary && o.excluded_primary(event.path)) return;
  if (recursive()) {
    switch (event.type) {
      case zk::EventType::kDataChanged:
        markDirty(event.path, kDirtyData);
        break;
      case zk::EventType::kCreated:
        markDirty(event.path, kDirtyFull);
        break;
      case zk::EventType::kDeleted:
        // I6: one entry; the descendants had their own events.
        index_.erase(event.path);
        markDirty(event.path, kDirtyFull);
        break;
      case zk::EventType::kChildrenChanged:
        // I9: a child's creation and deletion have their own events
        // (ZOOKEEPER-4475 sends this type where it should not).
        return;
      case zk::EventType::kNotWatching:
        // The server dropped a persistent watch: add it again, and cover
        // the window with a re-verification.
        spdlog::warn("primary: the watch on {} was removed by the server; adding it again", event.path);
        watched_generation_ = 0;
        primaryGap();
        requestFullReconcile("watch", true);
        return;
    }
    pumpEvents();
    return;
  }
  switch (event.type) {
    case zk::EventType::kDataChanged:
      markDirty(event.path, kDirtyData);
      break;
    case zk::EventType::kChildrenChanged:
      markDirty(event.path, kDirtyChildren);
      break;
    case zk::EventType::kDeleted:
      // Looked at directly, not left to the parent's child event: by the time
      // that is handled the node may be back (a new czxid) with new children,
      // and only a read of the path itself can tell. Every descendant had a
      // data watch and fired its own NodeDeleted (I6).
      index_.erase(event.path);
      markDirty(event.path, kDirtyData | kDirtyChildren);
      break;
    case zk::EventType::kCreated:
      markDirty(event.path, kDirtyData | kDirtyChildren);
      break;
    case zk::EventType::kNotWatching:
      break;
  }
  pumpEvents();
}

void Replicator::pumpEvents() {
  if (stopped_) return;
  if (connected()) {
    DirtyItem item;
    // I4: whatever full pass runs, events start their passes at once.
    while (event_passes_ < kMaxEventPasses && dirty_.take(item)) startEventPass(std::move(item));
  }
  updateGauges();
}

void Replicator::startEventPass(DirtyItem item) {
  std::optional<Watermark::Ticket> ticket;
  if (auto it = waiting_tickets_.find(item.path); it != waiting_tickets_.end()) {
    ticket = it->second;
    waiting_tickets_.erase(it);
  }
  const auto mapped = engine_.options.mapper ? engine_.options.mapper(item.path, "")
                                             : reconcile::MappedNode{true, item.path, "", {}, {}};
  if (!mapped.replicated || mapped.path.empty()) {
    dirty_.finish(item.path);
    if (ticket) watermark_.close(*ticket);
    return;
  }
  // One node: a NodePass. Its children (per-node mode), or its whole
  // subtree (recursive mode, a parent replicated late): a Reconciler pass.
  if (!(item.flags & kDirtyChildren)) return startNodePass(std::move(item), ticket);
  startSubtreePass(std::move(item), ticket, mapped.path);
}

void Replicator::startNodePass(DirtyItem item, std::optional<Watermark::Ticket> ticket) {
  auto pass = std::make_unique<Pass>();
  pass->kind = Pass::Kind::kNode;
  pass->item = item;
  pass->ticket = ticket;
  pass->during_full = full_running_;
  Pass* raw = pass.get();
  NodePassRequest request{
      .path = item.path,
      .data_only = item.flags == kDirtyData,
      .watch = !recursive(),
      .on_planned = [this](const std::string& source, const std::string& backup,
                           uint64_t seq) { ledger_.planned(source, backup, seq); },
      .on_applied = [this](const plan::Change& c) { onApplied(c, true, false); },
      .on_finished =
          [this, alive = alive_, raw] {
            if (*alive) afterPass(raw);
          },
  };
  pass->node = std::make_unique<NodePass>(NodePassContext{loop_, primary_, backup_, applier_, index_, seq_, engine_.options},
                                          std::move(request));
  passes_.push_back(std::move(pass));
  ++event_passes_;
  raw->node->start();
}

void Replicator::startSubtreePass(DirtyItem item, std::optional<Watermark::Ticket> ticket,
                                  const std::string& backup_path) {
  bool is_root = false;
  for (const auto& r : engine_.options.roots) is_root |= r.source == item.path;
  auto pass = std::make_unique<Pass>();
  pass->kind = Pass::Kind::kEvent;
  pass->item = item;
  pass->ticket = ticket;
  pass->during_full = full_running_;
  auto o = baseOptions();
  o.roots = {{item.path, backup_path}};
  // What an event pass plans is newer than any full pass's read of the
  // same nodes (it reads after the event): recorded, never refused (I2).
  o.may_plan = [this](const std::string& source, const std::string& backup, uint64_t seq) {
    ledger_.planned(source, backup, seq);
    return true;
  };
  o.may_delete_orphan = [this](const std::string& backup, uint64_t seq) {
    ledger_.planned({}, backup, seq);
    return true;
  };
  if (recursive()) {
    // A subtree never replicated (its parent was not): read it whole.
    o.trust_index = false;
  } else {
    // A children event: new children are read with their subtrees, known
    // ones are left to their own watches, missing ones deleted.
    o.event_pass = true;
    o.trust_index = true;
  }
  // An event names a change the primary made: its deletes are real. The
  // guard still watches a root that vanished.
  o.allow_mass_delete = !is_root;
  o.max_outstanding_reads = 256;
  Pass* raw = pass.get();
  o.on_applied = [this](const plan::Change& c) { onApplied(c, true, false); };
  o.on_finished = [this, alive = alive_, raw] {
    if (*alive) afterPass(raw);
  };
  pass->reconciler = std::make_unique<reconcile::Reconciler>(loop_, primary_, backup_, std::move(o));
  passes_.push_back(std::move(pass));
  ++event_passes_;
  raw->reconciler->start();
}

void Replicator::onApplied(const plan::Change& change, bool event_pass, bool audit) {
  metrics_.applied(change.kind);
  // Drift: the backup differed from what this replicator had written for a
  // primary node unchanged since; not a primary change the audit found.
  if (audit && change.drift) metrics_.drift_corrections.inc();
  if (event_pass && change.source_mtime_ms > 0) {
    metrics_.lag.observe(static_cast<double>(std::max<int64_t>(0, nowMs() - change.source_mtime_ms)) / 1000.0);
  }
}

// ---- after a pass ----

void Replicator::afterPass(Pass* raw) {
  auto it = std::find_if(passes_.begin(), passes_.end(), [raw](const auto& p) { return p.get() == raw; });
  if (it == passes_.end()) return;
  std::unique_ptr<Pass> pass = std::move(*it);
  passes_.erase(it);
  if (pass->kind != Pass::Kind::kFull) --event_passes_;
  const auto& report = pass->report();

  if (report.fenced) {
    if (hooks_.on_fenced) hooks_.on_fenced();
    return;
  }
  metrics_.mapping_failures.inc(report.mapping_failures);
  metrics_.refused_writes.inc(report.refused + report.unknown);
  if (pass->kind == Pass::Kind::kFull) {
    afterFullPass(*pass, report);
  } else {
    if (pass->node) afterNodePass(*pass->node);
    // I7: a full pass may have a create queued that this pass could not
    // see; a full pass that did not number its reads (no merge hooks) may
    // even land an older plan after this one. Look again after it. A
    // subtree pass (per-node mode: a children event, or a NodeDeleted)
    // cannot tell which of its nodes it found gone without a copy: all of
    // them are looked at again.
    const bool overlapped = pass->during_full || full_running_;
    const bool look_again = !full_numbered_ || !pass->node || pass->node->goneWithoutCopy();
    if (overlapped && look_again) {
      if (full_running_) during_full_.insert(pass->item.path);
      else markDirty(pass->item.path, retryFlags());
    }
    afterEventPass(*pass, report);
  }
  updateGauges();
  pumpEvents();
}

void Replicator::afterNodePass(const NodePass& node) {
  const auto& path = node.request().path;
  if (node.unreadable()) {
    if (event_unreadable_.insert(path).second) {
      spdlog::warn("primary node {} cannot be read by this replicator (no READ permission): its changes are not "
                   "replicated, and the server sends no events for it",
                   path);
    }
  } else if (node.readable()) {
    event_unreadable_.erase(path);
  }
  if (node.rootVanished()) {
    spdlog::warn("root {} is gone from the primary: a full reconcile decides about its target (delete guard)", path);
    requestFullReconcile("root", false);
  }
  if (node.skippedForParent()) waiting_for_parent_.insert(parentOf(path));
  if (node.createdCopy() && waiting_for_parent_.erase(path) > 0) {
    // Its children's creates were left alone while it was missing.
    markDirty(path, kDirtyChildren);
  }
}

void Replicator::afterEventPass(Pass& pass, const reconcile::ReconcileReport& report) {
  dirty_.finish(pass.item.path);
  if (!report.error && !report.needsAnotherPass() && !report.guard_tripped) {
    path_failures_.erase(pass.item.path);
    watermark_.offer(report.max_primary_zxid);
    if (pass.ticket) watermark_.close(*pass.ticket);
    settleFullVerdict(pass.item.path);
    return;
  }
  // A read failed, or writes were refused (for a reason a re-plan settles)
  // or lost: the pass's own path again — in per-node mode with its
  // children, since a refused delete (not empty, or an orphan delete, which
  // carries no primary path) is only redone from there — and every other
  // node whose write did not land. Each holds a watermark ticket opened
  // before this pass's zxid is offered.
  const auto ticket = pass.ticket ? *pass.ticket : watermark_.open();
  retryLater(pass.item.path, retryFlags(), ticket);
  for (const auto& c : report.changes) {
    if (!plan::isWrite(c) || c.reported || c.source_path.empty() || c.source_path == pass.item.path) continue;
    retryLater(c.source_path, retryFlags(), watermark_.open());
  }
  watermark_.offer(report.max_primary_zxid);
}

void Replicator::afterFullPass(Pass& pass, const reconcile::ReconcileReport& report) {
  full_running_ = false;
  ledger_.fullPassEnded();
  for (const auto& path : during_full_) markDirty(path, retryFlags());
  during_full_.clear();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pass.started).count();
  if (pass.reverify) {
    if (report.primary_nodes > reverify_nodes_) metrics_.reverify_nodes.inc(report.primary_nodes - reverify_nodes_);
    reverify_nodes_ = report.primary_nodes;
    reverify_running_ = false;
    metrics_.reverify_running.set(0);
  }
  metrics_.reconciles(pass.reason).inc();
  metrics_.reconcileSeconds(pass.reason).observe(seconds);
  metrics_.primary_nodes.set(static_cast<double>(report.primary_nodes));
  metrics_.backup_nodes.set(static_cast<double>(report.backup_nodes));
  spdlog::info("full reconcile done ({}): {} primary nodes, {} created, {} updated, {} deleted, {} ACLs in {:.2f} s",
               pass.reason, report.primary_nodes, report.applied.created, report.applied.updated,
               report.applied.deleted, report.applied.acls_set, seconds);
  const auto result = report.result();
  if (result == reconcile::ReconcileResult::kConvergedExceptReported) {
    spdlog::warn("full reconcile ({}) converged except {} reported nodes: {} not mappable, {} too large, {} unreadable, "
                 "{} ACLs not copied (redacted), {} refused for good, {} deletes blocked, {} held by standby "
                 "ephemerals",
                 pass.reason, report.reportedNodes(), report.mapping_failures, report.too_large,
                 report.unreadable + report.backup_unreadable, report.redacted_acls, report.parked, report.blocked,
                 report.held_by_ephemeral);
  } else if (result == reconcile::ReconcileResult::kNotConverged) {
    spdlog::warn("full reconcile ({}) not converged: {} writes refused, {} unknown, {} conflicts{}{}{}", pass.reason,
                 report.refused, report.unknown, report.conflicts, report.guard_tripped ? "; " : "",
                 report.guard_reason, report.error ? "; " + report.error->describe() : "");
  }

  // Writes refused or lost: look at their nodes again, from the primary.
  // Deletes of orphans carry no primary path: another full pass settles
  // them, and holds the watermark until it does.
  bool orphan_unresolved = false;
  std::unordered_set<std::string> unresolved;
  for (const auto& c : report.changes) {
    if (!plan::isWrite(c) || c.reported) continue;
    if (c.source_path.empty()) {
      orphan_unresolved = true;
    } else {
      unresolved.insert(c.source_path);
      retryLater(c.source_path, retryFlags(), watermark_.open());
    }
  }
  // A pass whose only open items are writes refused for a reason a re-read
  // settles (a node an event pass created meanwhile: node exists) is
  // converged once their retries are: its verdict waits for them.
  pending_verdict_.reset();
  if (!report.error && !report.guard_tripped && !orphan_unresolved && report.conflicts == 0 &&
      report.acl_unknown == 0 && !unresolved.empty()) {
    auto amended = report;
    amended.refused = amended.unknown = 0;
    std::erase_if(amended.changes, [](const plan::Change& c) { return plan::isWrite(c) && !c.reported; });
    pending_verdict_ = PendingVerdict{std::move(amended), pass.reason, std::move(unresolved)};
  }
  // Every piece of work left unresolved holds a ticket opened before this
  // offer, so the pass's zxid may be offered whatever its outcome. Only a
  // pass that read the whole tree without error and left no orphan delete
  // unresolved covers the primary gaps open when it began.
  // Deletes the guard held back wait for an operator: they hold it too.
  const bool incomplete = report.error || orphan_unresolved || report.guard_tripped;
  if (incomplete && !full_retry_ticket_) full_retry_ticket_ = watermark_.open();
  watermark_.offer(report.max_primary_zxid);
  if (!incomplete) {
    for (auto t : pass.closes) {
      watermark_.close(t);
      std::erase(gap_tickets_, t);
      if (full_retry_ticket_ == t) full_retry_ticket_.reset();
    }
  }
  if (!report.error && !report.needsAnotherPass()) {
    full_failures_ = 0;
  } else if (report.error || orphan_unresolved) {
    const auto delay = backoff(report.error ? std::chrono::milliseconds(1000) : kFullRetryFirst, ++full_failures_);
    if (report.error) {
      spdlog::warn("full reconcile ({}) incomplete: {}; retrying in {} ms", pass.reason, report.error->describe(),
                   delay.count());
    }
    loop_.postAfter(delay, [this, alive = alive_, reason = pass.reason] {
      if (*alive) requestFullReconcile(reason, true);
    });
  }
  if (!report.error) first_done_ = true;
  // Unreadable nodes: the full pass read them all; event passes add to it.
  full_unreadable_ = report.unreadable;
  full_first_unreadable_.clear();
  for (const auto& c : report.changes) {
    if (c.reported && c.kind == plan::ChangeKind::kSkipped && !c.source_path.empty() && c.source_path == c.path &&
        c.reason.find("not authorized") != std::string::npos) {
      full_first_unreadable_ = c.source_path;
      break;
    }
  }
  event_unreadable_.clear();
  publishVerdict(report);
  if (!recursive()) {
    // A root missing on the primary has no node to carry a watch; an exists
    // watch tells when it appears. (Recursive mode: the persistent watch
    // does, and a one-shot watch would replace it, ZOOKEEPER-4466.)
    for (const auto& root : engine_.options.roots) primary_.exists(root.source, true, [](zk::StatResult) {});
  }
  if (hooks_.on_full_reconcile_done) hooks_.on_full_reconcile_done(report, pass.reason);
  if (full_pending_) startFull();
}

void Replicator::publishVerdict(const reconcile::ReconcileReport& report) {
  const auto result = report.result();
  metrics_.delete_guard_tripped.set(report.guard_tripped ? 1 : 0);
  metrics_.last_full_reconcile_converged.set(result != reconcile::ReconcileResult::kNotConverged ? 1 : 0);
  if (result != reconcile::ReconcileResult::kNotConverged) {
    metrics_.last_full_reconcile_timestamp.set(static_cast<double>(nowMs()) / 1000.0);
  }
  metrics_.reported_nodes.set(static_cast<double>(report.reportedNodes()));
}

void Replicator::settleFullVerdict(const std::string& path) {
  if (!pending_verdict_ || pending_verdict_->unresolved.erase(path) == 0 || !pending_verdict_->unresolved.empty()) {
    return;
  }
  auto verdict = std::move(*pending_verdict_);
  pending_verdict_.reset();
  spdlog::info("full reconcile ({}): its refused writes are settled by their retries: {}", verdict.reason,
               reconcile::resultName(verdict.report.result()));
  publishVerdict(verdict.report);
  if (hooks_.on_full_reconcile_done) hooks_.on_full_reconcile_done(verdict.report, verdict.reason);
}

}  // namespace zks::daemon
