#include "daemon/replicator.h"

#include <spdlog/spdlog.h>

#include "mapping/path.h"

namespace zks::daemon {

namespace {
// Event passes at once: each is small (one node, or one node's children).
constexpr size_t kMaxEventPasses = 512;
// A refused or unknown write is looked at again after this much.
constexpr auto kRetryDelay = std::chrono::milliseconds(100);

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
               nullptr) {}

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
  // A pending untrusted pass covers a trusted one; keep the stronger.
  if (full_pending_ && !full_pending_->second) trust_index = false;
  full_pending_ = {reason, trust_index};
  if (!full_running_) startFull();
}

reconcile::ReconcileOptions Replicator::baseOptions() {
  auto o = engine_.options;
  o.shared_applier = &applier_;
  o.index = &index_;
  o.watch_primary = true;
  o.dry_run = false;
  o.on_replicated_node = [this](const std::string& backup_path, const zk::Stat& stat) {
    if (stat.cversion == 0 && stat.num_children == 0) return;
    auto& slot = counters_[backup_path];
    const int32_t next = state::nextSequence(stat);
    if (slot != next) {
      slot = next;
      counters_changed_ = true;
    }
  };
  return o;
}

void Replicator::startFull() {
  if (stopped_ || !full_pending_) return;
  auto [reason, trust] = *full_pending_;
  full_pending_.reset();
  full_running_ = true;
  auto pass = std::make_unique<Pass>();
  pass->full = true;
  pass->reason = reason;
  pass->audit = !trust && first_done_;
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

void Replicator::onPrimaryEvent(const zk::WatchEvent& event) {
  if (stopped_) return;
  metrics_.events.inc();
  switch (event.type) {
    case zk::EventType::kDataChanged:
      dirty_.mark(event.path, kDirtyData);
      break;
    case zk::EventType::kChildrenChanged:
      dirty_.mark(event.path, kDirtyChildren);
      break;
    case zk::EventType::kDeleted:
      // Looked at directly, not left to the parent's child event: by the time
      // that is handled the node may be back (a new czxid) with new children,
      // and only a read of the path itself can tell.
      index_.eraseSubtree(event.path);
      dirty_.mark(event.path, kDirtyData | kDirtyChildren);
      break;
    case zk::EventType::kCreated:
      dirty_.mark(event.path, kDirtyData | kDirtyChildren);
      break;
    case zk::EventType::kNotWatching:
      break;
  }
  pumpEvents();
}

void Replicator::pumpEvents() {
  if (stopped_) return;
  size_t event_passes = 0;
  for (const auto& p : passes_) event_passes += !p->full;
  DirtyItem item;
  while (event_passes < kMaxEventPasses && dirty_.take(item)) {
    startEventPass(std::move(item));
    ++event_passes;
  }
  metrics_.queue_depth.set(static_cast<double>(queueDepth()));
}

void Replicator::startEventPass(DirtyItem item) {
  const auto mapped = engine_.options.mapper ? engine_.options.mapper(item.path, "")
                                             : reconcile::MappedNode{true, item.path, "", {}, {}};
  if (!mapped.replicated || mapped.path.empty()) {
    dirty_.finish(item.path);
    return;
  }
  bool is_root = false;
  for (const auto& r : engine_.options.roots) is_root |= r.source == item.path;

  if (full_running_) during_full_.insert(item.path);
  auto pass = std::make_unique<Pass>();
  pass->item = item;
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
  if (audit) metrics_.drift_corrections.inc();
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
  metrics_.mapping_failures.inc(report.skipped);
  metrics_.refused_writes.inc(report.refused + report.unknown);
  // Writes refused or lost: look at their nodes again, from the primary.
  for (const auto& c : report.changes) {
    if (!c.source_path.empty() && (c.reason.starts_with("refused") || c.reason.starts_with("outcome unknown"))) {
      auto path = c.source_path;
      loop_.postAfter(kRetryDelay, [this, alive = alive_, path] {
        if (!*alive) return;
        // With its children: a refused delete (not empty) needs them gone first.
        dirty_.mark(path, kDirtyData | kDirtyChildren);
        pumpEvents();
      });
    }
  }
  const bool clean = !report.error && !report.needsAnotherPass();
  if (clean) max_applied_zxid_ = std::max(max_applied_zxid_, report.max_primary_zxid);

  if (pass->full) {
    full_running_ = false;
    for (const auto& path : during_full_) dirty_.mark(path, kDirtyData | kDirtyChildren);
    during_full_.clear();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - pass->started).count();
    metrics_.reconciles(pass->reason).inc();
    metrics_.reconcileSeconds(pass->reason).observe(seconds);
    metrics_.primary_nodes.set(static_cast<double>(report.primary_nodes));
    metrics_.backup_nodes.set(static_cast<double>(report.backup_nodes));
    metrics_.watches.set(static_cast<double>(index_.size()));
    spdlog::info("full reconcile done ({}): {} primary nodes, {} created, {} updated, {} deleted, {} ACLs in {:.2f} s",
                 pass->reason, report.primary_nodes, report.applied.created, report.applied.updated,
                 report.applied.deleted, report.applied.acls_set, seconds);
    if (!report.converged()) {
      spdlog::warn("full reconcile ({}) not converged: {} writes refused, {} unknown, {} not replicated, {} deletes "
                   "blocked, {} conflicts{}{}",
                   pass->reason, report.refused, report.unknown, report.skipped, report.blocked, report.conflicts,
                   report.guard_tripped ? "; " : "", report.guard_reason);
    }
    if (!report.error && report.needsAnotherPass()) {
      // Deletes refused (a child appeared) and writes lost carry no primary
      // path to retry by: another pass, trusting the index, settles them.
      loop_.postAfter(std::chrono::milliseconds(500), [this, alive = alive_, reason = pass->reason] {
        if (*alive) requestFullReconcile(reason, true);
      });
    }
    if (report.error) {
      spdlog::warn("full reconcile ({}) incomplete: {}; retrying", pass->reason, report.error->describe());
      loop_.postAfter(std::chrono::seconds(1), [this, alive = alive_, reason = pass->reason] {
        if (*alive) requestFullReconcile(reason, true);
      });
    } else {
      first_done_ = true;
    }
    // A root missing on the primary has no node to carry a watch; an exists
    // watch tells when it appears.
    for (const auto& root : engine_.options.roots) primary_.exists(root.source, true, [](zk::StatResult) {});
    if (hooks_.on_full_reconcile_done) hooks_.on_full_reconcile_done(report, pass->reason);
    if (full_pending_) startFull();
  } else {
    dirty_.finish(pass->item.path);
    if (report.error) {
      auto item = pass->item;
      loop_.postAfter(kRetryDelay, [this, alive = alive_, item] {
        if (!*alive) return;
        dirty_.mark(item.path, item.flags);
        pumpEvents();
      });
    }
  }
  metrics_.watches.set(static_cast<double>(index_.size()));
  pumpEvents();
}

}  // namespace zks::daemon
