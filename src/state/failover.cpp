#include "state/failover.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "state/identity.h"
#include "state/store.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

constexpr int kMaxAttempts = 8;

struct RoleChange {
  SiteState before;
  SiteState after;
  std::string history_node;
  bool already = false;  // the site had the target role already; nothing written
};

// Finds the history record a change created, after the answer to its multi
// was lost but the state shows it landed.
std::string findHistoryNode(zk::Client& c, const std::string& state_path, const std::string& change_id) {
  auto entries = readHistory(c, state_path, 0);
  if (!entries) return {};
  for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
    if (it->record.change_id == change_id) return StatePaths(state_path).history + "/" + it->name;
  }
  return {};
}

// One multi: versioned state set + fence move + history record. Re-reads and
// redoes it when a daemon's state write slipped in between; recognises its
// own landed write by change id after an unknown outcome.
Result<RoleChange> changeRole(zk::Client& c, const std::string& state_path, Role to, HistoryRecord record,
                              const std::function<void(SiteState&)>& edit) {
  const StatePaths p(state_path);
  const std::string change_id = randomId();
  record.change_id = change_id;
  auto acl = recordAcl(c, state_path);
  if (!acl) return std::unexpected(acl.error());
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto stored = readState(c, state_path);
    if (!stored) return std::unexpected(stored.error());
    RoleChange change{.before = stored->state};
    if (stored->state.change_id == change_id) {  // our earlier attempt landed
      change.after = stored->state;
      change.history_node = findHistoryNode(c, state_path, change_id);
      return change;
    }
    if (stored->state.role == to) {
      change.after = stored->state;
      change.already = true;
      return change;
    }
    SiteState next = stored->state;
    next.role = to;
    next.epoch = stored->state.epoch + 1;
    next.leader.clear();
    next.updated_ms = record.time_ms;
    next.role_changed_ms = record.time_ms;
    next.role_changed_by = record.who;
    next.change_id = change_id;
    edit(next);
    record.epoch = next.epoch;
    record.from_role = stored->state.role;
    record.to_role = to;
    record.last_applied_zxid = stored->state.last_applied_zxid;
    record.last_full_sync_ms = stored->state.last_full_sync_ms;

    std::vector<zk::Op> ops;
    if (stored->exists()) {
      ops.push_back(zk::SetOp{p.state, toJson(next), stored->version});
    } else {
      ops.push_back(zk::CreateOp{.path = p.state, .data = toJson(next)});
    }
    // The fence's data names who moved it last; its version is what counts.
    ops.push_back(zk::SetOp{p.fence, record.action + " " + change_id + " by " + record.who});
    ops.push_back(historyCreateOp(state_path, record, *acl));
    // A role change ends any lease (the final sync's, once it is done).
    ops.push_back(zk::SetOp{p.lease, ""});
    auto r = zk::multiSync(c, std::move(ops));
    if (r.code == zk::Code::kOk) {
      change.after = next;
      change.history_node = r.results.size() > 2 ? r.results[2].path : std::string();
      return change;
    }
    // A daemon wrote the state in between (kBadVersion), or the answer was
    // lost: re-read; the change id tells whether ours landed.
    if (r.code == zk::Code::kBadVersion || r.code == zk::Code::kNodeExists || zk::isRetryable(r.code)) continue;
    return std::unexpected(recordError("changing the site role failed", r.code, p.state));
  }
  return fail(ErrorCode::kConflict, "changing the site role kept racing with other writers", p.state);
}

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keeps the final sync's lease alive while the hook runs: renews it every
// third of its lifetime on its own thread, and stops when destroyed.
class LeaseKeeper {
 public:
  LeaseKeeper(zk::Client& c, std::string state_path, FenceLease lease, std::chrono::milliseconds ttl)
      : c_(c), state_path_(std::move(state_path)), lease_(std::move(lease)), ttl_(ttl) {
    thread_ = std::thread([this] { run(); });
  }
  ~LeaseKeeper() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, ttl_ / 3, [this] { return stop_; })) {
      lock.unlock();
      FenceLease renewed = lease_;
      const int64_t now = systemNowMs();
      renewed.until_ms = now + ttl_.count();
      // A failed renewal is retried at the next tick; the lease lasts until then.
      (void)takeFenceLease(c_, state_path_, renewed, now);
      lock.lock();
    }
  }

  zk::Client& c_;
  const std::string state_path_;
  const FenceLease lease_;
  const std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The final sync, holding the lease: it takes the fence for its reconcile
// under `final_sync_holder`, and no other forward writer can take it back
// until the role change clears the lease (or it expires).
Result<std::string> runFinalSync(zk::Client& backup, const FailoverOptions& o) {
  const FenceLease lease{.holder = o.final_sync_holder,
                         .purpose = "failover --final-sync by " + o.who,
                         .until_ms = systemNowMs() + o.lease_ttl.count()};
  if (auto s = takeFenceLease(backup, o.state_path, lease, systemNowMs()); !s) {
    return fail(s.error().code, "final sync: " + s.error().describe() + "; nothing changed");
  }
  Result<std::string> summary;
  {
    LeaseKeeper keeper(backup, o.state_path, lease, o.lease_ttl);
    summary = o.final_sync();
  }
  if (!summary) {
    (void)releaseFenceLease(backup, o.state_path, o.final_sync_holder);
    return fail(summary.error().code, "final sync failed: " + summary.error().describe() + "; nothing changed");
  }
  return summary;
}

// Resume's part on the rebuilt primary; problems go to report.primary_error.
void resumeOnPrimary(zk::Client& backup, const ResumeOptions& o, const std::string& change_id, ResumeReport& report) {
  zk::Client& primary = *o.primary;
  const std::string note = "resume " + change_id + " by " + o.who;
  if (auto s = moveFence(primary, o.state_path, note); !s) {
    report.primary_error = "moving the fence on the primary failed: " + s.error().describe();
    return;
  }
  report.primary_fenced = true;
  auto collected = collectCounters(backup, o.backup_roots, o.excluded, o.raise.reads_in_flight);
  if (!collected.failures.empty()) {
    report.primary_error = "reading the active site's counters failed: " + collected.failures.front().describe();
    return;
  }
  Counters desired;
  for (const auto& [path, value] : collected.counters) {
    if (value <= 0) continue;
    auto mapped = o.to_primary ? o.to_primary(path) : std::optional<std::string>(path);
    if (!mapped) continue;
    auto [it, inserted] = desired.emplace(*mapped, value);
    if (!inserted) it->second = std::max(it->second, value);
  }
  report.counters_collected = desired.size();
  RaiseOptions raise = o.raise;
  raise.scan_roots = o.primary_roots;
  auto raised = raiseCounters(primary, desired, raise);
  if (!raised) {
    report.primary_error = "raising the sequence counters on the primary failed: " + raised.error().describe();
    return;
  }
  report.raise = std::move(*raised);
  // Nodes of the active site this identity may not read: counted with the
  // primary's, since their counters could not be carried over either.
  if (collected.unreadable > 0) {
    if (report.raise->unreadable_nodes == 0) report.raise->unreadable_example = collected.unreadable_example;
    report.raise->unreadable_nodes += collected.unreadable;
  }
}

}  // namespace

std::string summarizeRaise(const RaiseReport& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "raised %zu of %zu parents (%lld pairs) in %.2f s", r.raised, r.parents,
                static_cast<long long>(r.pairs), static_cast<double>(r.elapsed.count()) / 1000.0);
  std::string out = buf;
  if (r.scanned_nodes > 0) {
    out += "; " + std::to_string(r.scanned_nodes) + " nodes scanned, " + std::to_string(r.scanned_parents) +
           " parents found by their children's names";
  }
  if (r.missing > 0) out += ", " + std::to_string(r.missing) + " absent";
  if (r.unreadable_nodes > 0) {
    out += ", " + std::to_string(r.unreadable_nodes) + " nodes this identity may not read (e.g. " +
           r.unreadable_example + "): their children were not checked";
  }
  if (r.ignored_names > 0) {
    out += ", " + std::to_string(r.ignored_names) + " names ending in ten digits not taken for sequence numbers (e.g. " +
           r.ignored_example + ")";
  }
  if (!r.failures.empty()) out += ", " + std::to_string(r.failures.size()) + " FAILED";
  return out;
}

Result<FailoverReport> runFailover(zk::Client& backup, const FailoverOptions& o) {
  if (auto s = ensureLayout(backup, o.state_path); !s) return std::unexpected(s.error());
  auto stored = readState(backup, o.state_path);
  if (!stored) return std::unexpected(stored.error());

  FailoverReport report;
  report.before = stored->state;
  if (stored->state.role == Role::kActive) {
    report.already_active = true;
    report.after = stored->state;
    if (o.final_sync) report.warnings.push_back("the site is already active: final sync skipped");
  } else {
    if (o.final_sync) {
      auto summary = runFinalSync(backup, o);
      if (!summary) return std::unexpected(summary.error());
      report.final_sync = *summary;
    }
    HistoryRecord record{.action = "failover",
                         .time_ms = o.now_ms,
                         .reason = o.reason,
                         .who = o.who,
                         .final_sync = report.final_sync};
    auto change = changeRole(backup, o.state_path, Role::kActive, record, [](SiteState&) {});
    if (!change) {
      // Nothing changed: let the daemons have the fence back now rather than at expiry.
      if (o.final_sync) (void)releaseFenceLease(backup, o.state_path, o.final_sync_holder);
      return std::unexpected(change.error());
    }
    report.before = change->before;
    report.after = change->after;
    report.history_node = change->history_node;
    report.already_active = change->already;
  }

  // From here the site is active: failures are reported, not returned.
  // Saved counters that cannot be read must not stop a failover (a rerun
  // would fail the same way): the walk of the target roots still covers
  // every sequential name the backup holds.
  Counters saved_counters;
  if (auto saved = loadCounters(backup, o.state_path); !saved) {
    report.warnings.push_back("the saved sequence counters could not be read (" + saved.error().describe() +
                              "): counters raised from the names of the replicated children only");
  } else {
    saved_counters = std::move(saved->counters);
    report.counters_saved = saved_counters.size();
    report.counters_saved_ms = saved->saved_ms;
    for (const auto& problem : saved->problems) report.warnings.push_back("saved sequence counters: " + problem);
    if (saved->saved_ms == 0) {
      report.warnings.push_back(
          "no sequence counters were ever saved on this backup: counters raised from the names of the replicated "
          "children only");
    }
  }
  auto raised = raiseCounters(backup, saved_counters, o.raise);
  if (!raised) {
    report.raise_error = "raising the sequence counters failed: " + raised.error().describe();
    return report;
  }
  report.raise = *raised;
  if (!raised->failures.empty()) {
    report.raise_error = std::to_string(raised->failures.size()) +
                         " sequence counters could not be raised, first: " + raised->failures.front().describe();
  }
  if (!report.history_node.empty()) {
    // Best effort: the record already says that the failover happened.
    auto got = zk::getSync(backup, report.history_node);
    if (got.code == zk::Code::kOk) {
      if (auto record = historyRecordFromJson(got.data)) {
        record->counters = summarizeRaise(*raised);
        (void)zk::setSync(backup, zk::SetOp{report.history_node, toJson(*record), got.stat.version});
      }
    }
  }
  return report;
}

Result<ResumeReport> runResume(zk::Client& backup, const ResumeOptions& o) {
  if (auto s = ensureLayout(backup, o.state_path); !s) return std::unexpected(s.error());
  HistoryRecord record{.action = "resume", .time_ms = o.now_ms, .reason = o.reason, .who = o.who};
  auto change = changeRole(backup, o.state_path, Role::kStandby, record, [](SiteState& s) {
    s.last_applied_zxid = 0;
    s.last_full_sync_ms = 0;
  });
  if (!change) return std::unexpected(change.error());
  ResumeReport report{.already_standby = change->already,
                      .before = change->before,
                      .after = change->after,
                      .history_node = change->history_node};
  if (o.primary != nullptr) {
    resumeOnPrimary(backup, o, change->after.change_id.empty() ? randomId() : change->after.change_id, report);
  }
  return report;
}

}  // namespace zks::state
