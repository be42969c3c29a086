#include "daemon/replicator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mapping/path.h"

namespace zks::daemon {

namespace {
// Event passes at once: each is small (one node, or one node's children).
constexpr size_t kMaxEventPasses = 512;
// A refused or unknown write is looked at again after a pause that doubles
// with each failure in a row, up to a cap: a backup that keeps refusing is
// not hammered, and one that recovers is caught up within the cap.
constexpr auto kRetryFirst = std::chrono::milliseconds(100);
constexpr auto kRetryCap = std::chrono::seconds(30);
// Another full pass after one that left writes unresolved or failed.
constexpr auto kFullRetryFirst = std::chrono::milliseconds(500);

std::chrono::milliseconds backoff(std::chrono::milliseconds first, int failures) {
  const int doublings = std::clamp(failures - 1, 0, 20);
  const auto delay = first * (int64_t{1} << doublings);
  return std::min<std::chrono::milliseconds>(delay, kRetryCap);
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct Replicator::Pass {
  std::unique_ptr<reconcile::Reconciler> reconciler;
  bool full = false;
  bool audit = false;
  std::string reason;    // full passes
  DirtyItem item;        // event passes
  std::optional<Watermark::Ticket> ticket;  // event passes: the work they stand for
  // Full passes: the gap and retry tickets open when it started; a clean
  // end closes them.
  std::vector<Watermark::Ticket> closes;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

Replicator::Replicator(EventLoop& loop, zk::Client& primary, zk::Client& backup, const reconcile::Engine& engine,
                       std::vector<zk::Op> fence_prefix, DaemonMetrics& metrics, reconcile::NodeIndex& index,
                       ReplicatorHooks hooks)
    : loop_(loop),
      primary_(primary),
      backup_(backup),
      engine_(engine),
      metrics_(metrics),
      index_(index),
      hooks_(std::move(hooks)),
      applier_(backup, loop,
               apply::ApplierOptions{.prefix = std::move(fence_prefix),
                                     .max_request_bytes = engine.config.sync.max_request_bytes,
                                     .max_ops_per_s = engine.config.sync.max_write_ops_per_s},
               nullptr) {
  // A new leader knows nothing is watched yet: no watermark before its
  // first clean full pass.
  gap_tickets_.push_back(watermark_.open());
}

Replicator::~Replicator() {
  *alive_ = false;
  passes_.clear();
}

void Replicator::stop() {
  stopped_ = true;
  applier_.flush();  // what was planned still goes out; drained() tells when
  passes_.clear();
  dirty_.clear();
  during_full_.clear();
  full_pending_.reset();
  full_running_ = false;
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

void Replicator::adoptSavedCounters(const state::Counters& saved) {
  for (const auto& [path, value] : saved) {
    auto& slot = counters_[path];
    slot = std::max(slot, value);
  }
}

void Replicator::updateGauges() {
  metrics_.queue_depth.set(static_cast<double>(queueDepth()));
  metrics_.parked_nodes.set(static_cast<double>(index_.parked()));
  metrics_.last_applied_zxid.set(static_cast<double>(watermark_.value()));
}

reconcile::ReconcileOptions Replicator::baseOptions() {
  auto o = engine_.options;
  o.shared_applier = &applier_;
  o.index = &index_;
  o.watch_primary = true;
  o.dry_run = false;
  o.on_replicated_node = [this](const std::string& backup_path, const zk::Stat& stat) {
    if (stat.cversion == 0 && stat.num_children == 0) return;
    // The highest counter seen wins: failover raises the backup's counters
    // to at least these, and a raise can only go up.
    auto& slot = counters_[backup_path];
    const int32_t next = state::nextSequence(stat);
    if (next > slot) {
      slot = next;
      counters_changed_ = true;
    }
  };
  return o;
}

void Replicator::startFull() {
  if (stopped_ || !full_pending_ || !connected()) return;
  auto [reason, trust] = *full_pending_;
  full_pending_.reset();
  full_running_ = true;
  auto pass = std::make_unique<Pass>();
  pass->full = true;
  pass->reason = reason;
  pass->audit = !trust && first_done_;
  pass->closes = gap_tickets_;
  if (full_retry_ticket_) pass->closes.push_back(*full_retry_ticket_);
  auto o = baseOptions();
  o.trust_index = trust;
  o.allow_mass_delete = false;
  o.progress_every = 50000;
  o.progress = [reason](size_t nodes, size_t writes) {
    spdlog::info("reconcile ({}): {} primary nodes read, {} writes", reason, nodes, writes);
  };
  Pass* raw = pass.get();
  const bool audit = pass->audit;
  o.on_applied = [this, audit](const plan::Change& c) { onApplied(c, false, audit); };
  o.on_finished = [this, alive = alive_, raw] {
    if (*alive) afterPass(raw);
  };
  spdlog::info("full reconcile started ({}{})", reason, trust ? ", trusting the index" : "");
  pass->reconciler = std::make_unique<reconcile::Reconciler>(loop_, primary_, backup_, std::move(o));
  passes_.push_back(std::move(pass));
  raw->reconciler->start();
}

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
  if (stopped_) return;
  metrics_.events.inc();
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
      // and only a read of the path itself can tell.
      index_.eraseSubtree(event.path);
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
    size_t event_passes = 0;
    for (const auto& p : passes_) event_passes += !p->full;
    DirtyItem item;
    while (event_passes < kMaxEventPasses && dirty_.take(item)) {
      startEventPass(std::move(item));
      ++event_passes;
    }
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
  bool is_root = false;
  for (const auto& r : engine_.options.roots) is_root |= r.source == item.path;

  if (full_running_) during_full_.insert(item.path);
  auto pass = std::make_unique<Pass>();
  pass->item = item;
  pass->ticket = ticket;
  auto o = baseOptions();
  o.roots = {{item.path, mapped.path}};
  o.event_pass = true;
  o.trust_index = true;
  o.root_only = !(item.flags & kDirtyChildren);
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

void Replicator::afterPass(Pass* raw) {
  auto it = std::find_if(passes_.begin(), passes_.end(), [raw](const auto& p) { return p.get() == raw; });
  if (it == passes_.end()) return;
  std::unique_ptr<Pass> pass = std::move(*it);
  passes_.erase(it);
  const auto& report = pass->reconciler->report();

  if (report.fenced) {
    if (hooks_.on_fenced) hooks_.on_fenced();
    return;
  }
  metrics_.mapping_failures.inc(report.mapping_failures);
  metrics_.refused_writes.inc(report.refused + report.unknown);
  if (pass->full) {
    afterFullPass(*pass, report);
  } else {
    afterEventPass(*pass, report);
  }
  metrics_.watches.set(static_cast<double>(index_.size()));
  pumpEvents();
}

void Replicator::afterEventPass(Pass& pass, const reconcile::ReconcileReport& report) {
  dirty_.finish(pass.item.path);
  if (!report.error && !report.needsAnotherPass() && !report.guard_tripped) {
    path_failures_.erase(pass.item.path);
    watermark_.offer(report.max_primary_zxid);
    if (pass.ticket) watermark_.close(*pass.ticket);
    return;
  }
  // A read failed, or writes were refused (for a reason a re-plan settles)
  // or lost: the pass's own path again — with its children, since a
  // refused delete (not empty, or an orphan delete, which carries no
  // primary path) is only redone from there — and every other node whose
  // write did not land. Each holds a watermark ticket opened before this
  // pass's zxid is offered.
  const auto ticket = pass.ticket ? *pass.ticket : watermark_.open();
  retryLater(pass.item.path, kDirtyData | kDirtyChildren, ticket);
  for (const auto& c : report.changes) {
    if (!plan::isWrite(c) || c.reported || c.source_path.empty() || c.source_path == pass.item.path) continue;
    retryLater(c.source_path, kDirtyData | kDirtyChildren, watermark_.open());
  }
  watermark_.offer(report.max_primary_zxid);
}

void Replicator::afterFullPass(Pass& pass, const reconcile::ReconcileReport& report) {
  full_running_ = false;
  for (const auto& path : during_full_) markDirty(path, kDirtyData | kDirtyChildren);
  during_full_.clear();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pass.started).count();
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
  for (const auto& c : report.changes) {
    if (!plan::isWrite(c) || c.reported) continue;
    if (c.source_path.empty()) {
      orphan_unresolved = true;
    } else {
      retryLater(c.source_path, kDirtyData | kDirtyChildren, watermark_.open());
    }
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
  metrics_.delete_guard_tripped.set(report.guard_tripped ? 1 : 0);
  metrics_.last_full_reconcile_converged.set(result != reconcile::ReconcileResult::kNotConverged ? 1 : 0);
  if (result != reconcile::ReconcileResult::kNotConverged) {
    metrics_.last_full_reconcile_timestamp.set(static_cast<double>(nowMs()) / 1000.0);
  }
  metrics_.reported_nodes.set(static_cast<double>(report.reportedNodes()));
  metrics_.unreadable_nodes.set(static_cast<double>(report.unreadable));
  // A root missing on the primary has no node to carry a watch; an exists
  // watch tells when it appears.
  for (const auto& root : engine_.options.roots) primary_.exists(root.source, true, [](zk::StatResult) {});
  if (hooks_.on_full_reconcile_done) hooks_.on_full_reconcile_done(report, pass.reason);
  if (full_pending_) startFull();
}

}  // namespace zks::daemon
