#include "state/failover.h"

#include <cstdio>

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
    ops.push_back(historyCreateOp(state_path, record));
    auto r = zk::multiSync(c, std::move(ops));
    if (r.code == zk::Code::kOk) {
      change.after = next;
      change.history_node = r.results.size() > 2 ? r.results[2].path : std::string();
      return change;
    }
    // A daemon wrote the state in between (kBadVersion), or the answer was
    // lost: re-read; the change id tells whether ours landed.
    if (r.code == zk::Code::kBadVersion || r.code == zk::Code::kNodeExists || zk::isRetryable(r.code)) continue;
    return std::unexpected(zkError("changing the site role failed", r.code, p.state));
  }
  return fail(ErrorCode::kConflict, "changing the site role kept racing with other writers", p.state);
}

}  // namespace

std::string summarizeRaise(const RaiseReport& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "raised %zu of %zu parents (%lld pairs) in %.2f s", r.raised, r.parents,
                static_cast<long long>(r.pairs), static_cast<double>(r.elapsed.count()) / 1000.0);
  std::string out = buf;
  if (r.missing > 0) out += ", " + std::to_string(r.missing) + " absent on the backup";
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
      auto summary = o.final_sync();
      if (!summary) {
        return fail(summary.error().code, "final sync failed: " + summary.error().describe() + "; nothing changed");
      }
      report.final_sync = *summary;
    }
    HistoryRecord record{.action = "failover",
                         .time_ms = o.now_ms,
                         .reason = o.reason,
                         .who = o.who,
                         .final_sync = report.final_sync};
    auto change = changeRole(backup, o.state_path, Role::kActive, record, [](SiteState&) {});
    if (!change) return std::unexpected(change.error());
    report.before = change->before;
    report.after = change->after;
    report.history_node = change->history_node;
    report.already_active = change->already;
  }

  // From here the site is active: failures are reported, not returned.
  auto saved = loadCounters(backup, o.state_path);
  if (!saved) {
    report.raise_error = "loading the saved sequence counters failed: " + saved.error().describe();
    return report;
  }
  report.counters_saved = saved->counters.size();
  report.counters_saved_ms = saved->saved_ms;
  if (saved->saved_ms == 0) {
    report.warnings.push_back(
        "no sequence counters were ever saved on this backup (the daemon never ran here): none raised");
  }
  auto raised = raiseCounters(backup, saved->counters, o.raise);
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
  return ResumeReport{.already_standby = change->already,
                      .before = change->before,
                      .after = change->after,
                      .history_node = change->history_node};
}

}  // namespace zks::state
