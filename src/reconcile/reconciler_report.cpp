// The Reconciler's outcomes: writes handed to the applier and what came of
// them, the index settled from them, reported nodes, the deletes after the
// walk (delete guard, FIFO rule) and the end of the pass.

#include <spdlog/spdlog.h>

#include <unordered_set>

#include "plan/delete_guard.h"
#include "reconcile/reconciler_internal.h"

namespace zks::reconcile {

std::string_view resultName(ReconcileResult result) {
  switch (result) {
    case ReconcileResult::kConverged: return "converged";
    case ReconcileResult::kConvergedExceptReported: return "converged_except_reported";
    case ReconcileResult::kNotConverged: return "not_converged";
  }
  return "not_converged";
}

bool ReconcileReport::anyReported() const {
  return mapping_failures || too_large || unreadable || backup_unreadable || redacted_acls || parked || blocked ||
         held_by_ephemeral;
}

ReconcileResult ReconcileReport::result() const {
  if (fenced || error || guard_tripped) return ReconcileResult::kNotConverged;
  if (refused || unknown || conflicts || acl_unknown) return ReconcileResult::kNotConverged;
  return anyReported() ? ReconcileResult::kConvergedExceptReported : ReconcileResult::kConverged;
}

size_t ReconcileReport::reportedNodes() const {
  std::unordered_set<std::string_view> paths;
  for (const auto& c : changes) {
    if (c.reported) paths.insert(c.path);
  }
  return paths.size();
}

void Reconciler::noteZxid(const zk::Stat& stat, bool root) {
  const int64_t zxid = std::max(stat.mzxid, stat.pzxid);
  report_.max_primary_zxid = std::max(report_.max_primary_zxid, zxid);
  if (root) {
    report_.root_zxid = roots_read_++ == 0 ? zxid : std::min(report_.root_zxid, zxid);
  }
}

void Reconciler::emit(plan::Change change, std::shared_ptr<NodeWrites> node) {
  if (!plan::isWrite(change)) {
    recordReport(std::move(change));
    return;
  }
  ++report_.planned_writes;
  if (options_.dry_run) {
    report_.changes.push_back(std::move(change));
    return;
  }
  ++writes_pending_;
  applier()->submit(std::move(change), [this, alive = alive_, node](const apply::Outcome& o) {
    if (!*alive) return;
    --writes_pending_;
    onOutcome(o, node);
    // Reading waits while too many writes are pending: it may go on.
    const bool resume_reading = writes_pending_ + 1 == options_.max_pending_writes;
    if (node && --node->pending == 0) {
      if (!node->failed) {
        settleIndex(node->source_path, node->stat, true);
      } else if (node->retry) {
        settleIndex(node->source_path, node->stat, false);
      } else if (options_.index) {
        // Refused for good: parked until the primary node changes. The
        // index holds it as seen (not a copy), so a trusted pass leaves it
        // alone and reports it again.
        options_.index->put(node->source_path, IndexEntry::of(node->stat, false));
      }
    }
    if (resume_reading) pump();
  });
}

void Reconciler::settleIndex(const std::string& source_path, const zk::Stat& stat, bool ok, bool replicated) {
  if (!options_.index || options_.dry_run) return;
  if (ok) {
    auto entry = IndexEntry::of(stat, replicated);
    // The index's pzxid says up to where the children were reconciled; a
    // data-only pass did not look at them.
    if (options_.event_pass && options_.root_only) {
      const auto before = options_.index->find(source_path);
      entry.pzxid = before ? before->pzxid : 0;
    }
    options_.index->put(source_path, entry);
  } else {
    options_.index->erase(source_path);
  }
}

// A node found gone. A full pass drops only its own entry: its
// descendants' entries no longer match any node read (a re-created node
// has a new czxid) and go at the sweep. The per-node daemon's event passes
// take an indexed child as replicated without reading it, so for them
// (LEGACY) the whole subtree goes at once.
void Reconciler::forgetIndex(const std::string& source_path, bool subtree) {
  if (!options_.index || options_.dry_run) return;
  if (subtree && (options_.event_pass || options_.watch_primary)) {
    options_.index->eraseSubtree(source_path);
  } else {
    options_.index->erase(source_path);
  }
}

void Reconciler::recordReport(plan::Change change) {
  if (change.kind == plan::ChangeKind::kSkipped || change.kind == plan::ChangeKind::kBlocked) {
    spdlog::warn("{} {}: {}", plan::changeKindName(change.kind), change.path, change.reason);
  } else if (change.kind == plan::ChangeKind::kConflict) {
    spdlog::warn("conflict {}: {}", change.path, change.reason);
  }
  report_.changes.push_back(std::move(change));
}

void Reconciler::countReported(ReportedKind kind) {
  switch (kind) {
    case ReportedKind::kMappingFailure: ++report_.mapping_failures; break;
    case ReportedKind::kTooLarge: ++report_.too_large; break;
    case ReportedKind::kUnreadable: ++report_.unreadable; break;
    case ReportedKind::kBackupUnreadable: ++report_.backup_unreadable; break;
    case ReportedKind::kRedactedAcl: ++report_.redacted_acls; break;
    case ReportedKind::kParked: ++report_.parked; break;
    case ReportedKind::kBlocked: ++report_.blocked; break;
    case ReportedKind::kHeldByEphemeral: ++report_.held_by_ephemeral; break;
  }
}

void Reconciler::reportNode(ReportedKind kind, plan::Change change, const zk::Stat* primary_stat) {
  change.reported = true;
  countReported(kind);
  if (primary_stat && options_.index && !options_.dry_run && !change.source_path.empty()) {
    options_.index->hold(change.source_path, kind, change);
  }
  recordReport(std::move(change));
}

void Reconciler::reportHeld(const std::string& source_path) {
  if (!options_.index) return;
  if (const auto* held = options_.index->held(source_path)) {
    for (const auto& [kind, change] : *held) {
      countReported(kind);
      report_.changes.push_back(change);
    }
  }
}

void Reconciler::onOutcome(const apply::Outcome& outcome, const std::shared_ptr<NodeWrites>& node) {
  // The last answer may end the pass; the applier is mid-callback, so the
  // finish line is looked at once it is done.
  if (writes_pending_ == 0) {
    loop_.post([this, alive = alive_] {
      if (*alive) maybeFinish();
    });
  }
  if (outcome.kind != apply::OutcomeKind::kApplied && node) node->failed = true;
  switch (outcome.kind) {
    case apply::OutcomeKind::kApplied:
      if (options_.on_applied) options_.on_applied(outcome.change);
      report_.applied.countApplied(outcome.change.kind);
      return;
    case apply::OutcomeKind::kFenced:
      report_.fenced = true;
      return;
    case apply::OutcomeKind::kRefused: {
      auto c = outcome.change;
      if (apply::refusedForGood(outcome.code)) {
        // No re-plan changes the answer: reported, and parked until the
        // primary node changes (or the next audit).
        c.reason = apply::refusedForGoodReason(outcome.code);
        reportNode(ReportedKind::kParked, std::move(c), node ? &node->stat : nullptr);
        return;
      }
      ++report_.refused;
      if (node) node->retry = true;
      c.reason = std::string("refused: ") + std::string(zk::codeName(outcome.code));
      spdlog::info("{} {} refused ({}); will re-read and re-plan", plan::changeKindName(c.kind), c.path,
                   zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kUnknown: {
      ++report_.unknown;
      if (node) node->retry = true;
      auto c = outcome.change;
      c.reason = std::string("outcome unknown: ") + std::string(zk::codeName(outcome.code));
      report_.changes.push_back(std::move(c));
      return;
    }
    case apply::OutcomeKind::kTooLarge: {
      auto c = outcome.change;
      c.reason = "the write alone exceeds the request limit (max_request_bytes)";
      reportNode(ReportedKind::kTooLarge, std::move(c), node ? &node->stat : nullptr);
      return;
    }
  }
}

void Reconciler::readFailed(zk::Code code, const std::string& path, const char* what, bool primary_site) {
  if (code == zk::Code::kNoAuth) {
    reportNode(primary_site ? ReportedKind::kUnreadable : ReportedKind::kBackupUnreadable,
               plan::Change{.kind = plan::ChangeKind::kSkipped,
                            .path = path,
                            .source_path = primary_site ? path : std::string(),
                            .reason = std::string(what) + ": not authorized (check auth for the " +
                                      (primary_site ? "primary" : "backup") + " site)"});
    return;
  }
  if (!report_.error) {
    report_.error = Error{ErrorCode::kZooKeeper, std::string(what) + " failed: " + std::string(zk::codeName(code)), path};
  }
}

void Reconciler::withBackupDirAcl(const DirPtr& dir, std::function<void(const zk::AclList*)> then) {
  if (dir->backup_acl) return then(&*dir->backup_acl);
  dir->acl_waiters.push_back(std::move(then));
  if (dir->acl_waiters.size() > 1) return;  // already being read
  // A root's virtual directory stands for the target's backup parent.
  std::string path = dir->backup_path;
  if (dir->root) {
    const auto slash = dir->root->target.rfind('/');
    path = slash == 0 ? "/" : dir->root->target.substr(0, slash);
  }
  getAcl(backup_, path, [this, dir, path](zk::AclResult r) {
    if (r.code == zk::Code::kOk) {
      dir->backup_acl = std::move(r.acl);
    } else {
      readFailed(r.code, path, "read backup ACL", false);
    }
    auto waiters = std::move(dir->acl_waiters);
    dir->acl_waiters.clear();
    for (auto& w : waiters) w(dir->backup_acl ? &*dir->backup_acl : nullptr);
  });
}

void Reconciler::finishWalk() {
  walk_done_ = true;
  const auto verdict = plan::checkDeleteGuard(deletes_.size(), report_.backup_nodes, options_.max_delete_fraction,
                                              options_.allow_mass_delete);
  report_.planned_deletes = deletes_.size();
  if (!verdict.allowed) {
    report_.guard_tripped = true;
    report_.guard_reason = verdict.reason;
    spdlog::error("{}", verdict.reason);
    if (options_.dry_run) {
      for (auto& [d, seq] : deletes_) report_.changes.push_back(std::move(d));
    }
  } else if (!report_.error) {
    // FIFO rule: an orphan an event pass planned (re-created) after this
    // pass listed its primary parent is that pass's now; it stays, and so
    // do the orphans above it (children come first in deletes_).
    std::vector<std::string> kept;
    for (auto& [d, seq] : deletes_) {
      const std::string below = d.path == "/" ? "/" : d.path + "/";
      const bool above_kept =
          std::any_of(kept.begin(), kept.end(), [&](const std::string& k) { return k.starts_with(below); });
      if (above_kept || (options_.may_delete_orphan && !options_.may_delete_orphan(d.path, seq))) {
        ++report_.orphans_kept;
        kept.push_back(d.path);
        continue;
      }
      emit(std::move(d));
    }
  } else if (!deletes_.empty()) {
    spdlog::warn("not deleting {} backup nodes: the walk was incomplete", deletes_.size());
  }
  deletes_.clear();
  if (applier()) applier()->flush();
}

void Reconciler::maybeFinish() {
  if (finished_) return;
  if (!walk_done_) {
    if (open_work_ == 0 && nodes_in_flight_ == 0 && reads_out_ == 0 && dirs_.empty()) {
      finishWalk();
    } else {
      return;
    }
  }
  if (writes_pending_ > 0) {
    applier()->flush();
    return;
  }
  if (own_applier_) {
    report_.applied.batches = own_applier_->stats().batches;
    report_.applied.batch_fallbacks = own_applier_->stats().batch_fallbacks;
  }
  // A root not read (missing, or its read failed) proves nothing.
  if (roots_read_ < options_.roots.size()) report_.root_zxid = 0;
  // Every node of the tree was read and settled: what the index holds
  // beyond that is of nodes gone from the primary.
  if (sweep_ && !report_.error && !report_.fenced && roots_read_ == options_.roots.size()) {
    options_.index->sweep();
  }
  finished_ = true;
  if (options_.on_finished) loop_.post(options_.on_finished);
}

}  // namespace zks::reconcile
