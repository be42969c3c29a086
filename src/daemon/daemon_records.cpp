// The daemon's records on the written site — the site state record, the
// sequence counters, the backup's role in reverse mode, the election's
// candidates — read and written on the state worker, never on the loop.

#include <spdlog/spdlog.h>

#include "daemon/daemon_impl.h"

namespace zks::daemon {

namespace {

constexpr auto kRetry = std::chrono::seconds(1);
constexpr auto kStateEvery = std::chrono::seconds(5);
// Sequence counters are saved right after each full reconcile, and within
// kCountersCheckEvery + kCountersMinGap (5 s) of a change: a failover soon
// after a leader change or a first pass must find them.
constexpr auto kCountersCheckEvery = std::chrono::seconds(1);
constexpr auto kCountersMinGap = std::chrono::seconds(4);

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Daemon::postFenced() {
  loop_.post([this, alive = alive_] {
    if (*alive) onFenced();
  });
}

// ---- the written site is connected: role first, then the election ----

void Daemon::onWriteConnected() {
  auto retry = [this] {
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && rs_.write_connected) onWriteConnected();
    });
  };
  if (options_.reverse) {
    // Failback writes to the rebuilt primary: only while the backup is the
    // active site. Its role is on the backup, which reverse mode reads.
    if (!reverse_role_checked_) {
      if (!rs_.read_connected) return retry();
      checkReverseRole([this, retry](bool active) {
        if (!active) return retry();
        reverse_role_checked_ = true;
        if (!election_started_) joinElection();
      });
      return;
    }
    if (!election_started_) joinElection();
    return;
  }
  worker_.run([this, alive = alive_, client = &write(), state_path = state_path_, retry] {
    auto stored = state::readState(*client, state_path);
    loop_.post([this, alive, stored = std::move(stored), retry] {
      if (!*alive || exit_code_) return;
      if (!stored) {
        spdlog::warn("reading the site state: {}; retrying", stored.error().describe());
        return retry();
      }
      metrics_.epoch.set(static_cast<double>(stored->state.epoch));
      metrics_.role_active.set(stored->state.role == state::Role::kActive ? 1 : 0);
      if (stored->state.role == state::Role::kActive) {
        rs_.fenced = true;
        publish();
        exitWith(kExitFenced, "the backup site is active (failed over at epoch " + std::to_string(stored->state.epoch) +
                                  "); forward replication refused. Fail back with `run --reverse`, then `resume`.");
        return;
      }
      if (election_started_) return;  // the election re-enters by itself after a new session
      joinElection();
    });
  });
}

// ---- reverse mode: the backup's role decides (issue 12 item 2) ----

void Daemon::checkReverseRole(std::function<void(bool active)> then) {
  worker_.run([this, alive = alive_, client = &read(), state_path = state_path_, then = std::move(then)] {
    auto stored = state::readState(*client, state_path);
    loop_.post([this, alive, stored = std::move(stored), then] {
      if (!*alive || exit_code_) return;
      if (!stored) {
        spdlog::warn("reading the backup site's role: {}; retrying", stored.error().describe());
        return then(false);
      }
      metrics_.epoch.set(static_cast<double>(stored->state.epoch));
      metrics_.role_active.set(stored->state.role == state::Role::kActive ? 1 : 0);
      if (stored->state.role == state::Role::kActive) return then(true);
      rs_.fenced = true;
      publish();
      exitWith(kExitRoleStandby,
               "run --reverse: the backup site's role is standby (epoch " + std::to_string(stored->state.epoch) +
                   "): failback replicates only while the backup is active (after `failover`), and stops when "
                   "`resume` returns the roles; exiting 4");
    });
  });
}

// `failover` and `resume` move the backup's fence in the same multi as the
// role: a watch on it re-checks the role at once. (Outside every root, so
// never on a recursively watched path.)
void Daemon::armBackupFenceWatch() { read().exists(backup_fence_path_, true, [](zk::StatResult) {}); }

// ---- the election's candidates ----

void Daemon::checkStandingBy() {
  if (standby_check_running_) return;
  auto election = currentElection();
  if (!election || rs_.leader || election->isLeader()) {
    if (rs_.standing_by) {
      rs_.standing_by = false;
      publish();
    }
    return;
  }
  standby_check_running_ = true;
  worker_.run([this, alive = alive_, election, client = &write(), state_path = state_path_] {
    std::optional<bool> standing_by;  // unknown: keep what was known
    const std::string node = election->nodePath();
    if (node.empty()) {
      standing_by = false;
    } else if (auto candidates = state::readCandidates(*client, state_path); candidates) {
      const std::string name = node.substr(node.rfind('/') + 1);
      bool registered = false;
      for (const auto& c : *candidates) registered |= c.node == name;
      standing_by = registered && !candidates->empty() && candidates->front().node != name;
    }
    loop_.post([this, alive, standing_by] {
      if (!*alive) return;
      standby_check_running_ = false;
      const bool now = standing_by.value_or(rs_.standing_by) && !rs_.leader;
      if (now != rs_.standing_by) {
        rs_.standing_by = now;
        publish();
      }
    });
  });
}

void Daemon::pollStandingBy(int tries_left) {
  checkStandingBy();
  if (rs_.leader || rs_.standing_by || tries_left <= 0) return;
  loop_.postAfter(std::chrono::milliseconds(200), [this, alive = alive_, tries_left] {
    if (*alive && !exit_code_) pollStandingBy(tries_left - 1);
  });
}

// ---- periodic ----

void Daemon::scheduleAudit() {
  const int every = engine_.config.sync.audit_interval_s;
  if (every <= 0) return;
  loop_.postAfter(std::chrono::seconds(every), [this, alive = alive_] {
    if (!*alive) return;
    if (replicator_ && replicator_->firstReconcileDone()) replicator_->requestFullReconcile("audit", false);
    scheduleAudit();
  });
}

void Daemon::scheduleStateUpdate() {
  loop_.postAfter(kStateEvery, [this, alive = alive_] {
    if (!*alive) return;
    stateTick();
    scheduleStateUpdate();
  });
}

void Daemon::stateTick() {
  if (replicator_) replicator_->updateGauges();
  if (auto election = currentElection(); election && !election->nodePath().empty()) {
    // Registered again after an error: the election works. The backoff
    // starts over only after a quiet minute, so an error that comes back
    // each time keeps its growing pause.
    rs_.election_ok = true;
    rs_.election_error.clear();
    if (std::chrono::steady_clock::now() - election_error_at_ > std::chrono::seconds(60)) election_failures_ = 0;
  }
  if (rs_.write_connected && !rs_.leader) checkStandingBy();
  publish();
  if (!rs_.write_connected || !election_started_ || exit_code_ || tick_running_) return;
  if (options_.reverse) {
    if (rs_.read_connected) checkReverseRole([](bool) {});
    return;
  }
  tick_running_ = true;
  if (replicator_ && fence_) {
    // The leader keeps its fields fresh: leader, updated_ms, and the
    // applied-zxid watermark once one is proven.
    worker_.run([this, alive = alive_, client = &write(), state_path = state_path_, fence = *fence_,
                 zxid = replicator_->maxAppliedZxid()] {
      auto r = state::updateState(*client, state_path, fence, [&](state::SiteState& s) {
        s.last_applied_zxid = std::max(s.last_applied_zxid, zxid);
      });
      if (!r && r.error().code == ErrorCode::kFenced) postFenced();
      loop_.post([this, alive, r = std::move(r)] {
        if (!*alive) return;
        tick_running_ = false;
        if (r) metrics_.epoch.set(static_cast<double>(r->epoch));
        else if (r.error().code != ErrorCode::kFenced) spdlog::warn("updating the site state: {}", r.error().describe());
      });
    });
    return;
  }
  // Followers watch the role too: a failover is theirs to obey as well.
  worker_.run([this, alive = alive_, client = &write(), state_path = state_path_] {
    auto s = state::readState(*client, state_path);
    loop_.post([this, alive, s = std::move(s)] {
      if (!*alive) return;
      tick_running_ = false;
      if (!s || exit_code_) return;
      metrics_.epoch.set(static_cast<double>(s->state.epoch));
      metrics_.role_active.set(s->state.role == state::Role::kActive ? 1 : 0);
      if (s->state.role == state::Role::kActive) {
        rs_.fenced = true;
        publish();
        exitWith(kExitFenced, "the backup site was failed over; exiting 3");
      }
    });
  });
}

// ---- after a full reconcile: counters, then the state record, then /readyz ----

void Daemon::onFullReconcileDone(const reconcile::ReconcileReport& report) {
  if (!replicator_) return;
  const auto result = report.result();
  ReadinessState after;
  after.last_result = std::string(reconcile::resultName(result));
  after.guard_tripped = report.guard_tripped;
  if (report.guard_tripped) {
    after.not_converged_reason = report.guard_reason;
  } else if (report.error) {
    after.not_converged_reason = report.error->describe();
  } else if (result == reconcile::ReconcileResult::kNotConverged) {
    after.not_converged_reason = std::to_string(report.refused + report.unknown) + " writes unresolved, " +
                                 std::to_string(report.conflicts + report.acl_unknown) + " conflicts";
  }
  after.reported_nodes = report.reportedNodes();
  const bool first_done = !report.error;
  const int64_t reported = static_cast<int64_t>(report.reportedNodes());
  const bool write_records = fence_.has_value() && !options_.reverse;
  // Counters first: once /readyz says the first pass is done, a failover
  // finds them saved.
  worker_.run([this, alive = alive_, client = &write(), state_path = state_path_, keeper = keeper_,
               fence = fence_, write_records, result, reported, delta = replicator_->takeCounterChanges(),
               zxid = replicator_->maxAppliedZxid(), after, first_done, replicator = replicator_.get()] {
    bool saved = false;
    if (write_records && keeper) {
      keeper->merge(delta);
      if (auto s = keeper->save(fence, nowMs()); s) {
        saved = true;
      } else if (s.error().code == ErrorCode::kFenced) {
        return postFenced();
      } else {
        spdlog::warn("saving sequence counters: {}", s.error().describe());
      }
    }
    if (write_records) {
      const int64_t now = nowMs();
      auto r = state::updateState(*client, state_path, *fence, [&](state::SiteState& s) {
        s.last_full_reconcile_ms = now;
        s.last_full_reconcile_result = std::string(reconcile::resultName(result));
        s.reported_nodes = reported;
        if (result != reconcile::ReconcileResult::kNotConverged) s.last_full_sync_ms = now;
        s.last_applied_zxid = std::max(s.last_applied_zxid, zxid);
      });
      if (!r) {
        if (r.error().code == ErrorCode::kFenced) return postFenced();
        spdlog::warn("updating the site state: {}", r.error().describe());
      }
    }
    loop_.post([this, alive, after, first_done, saved, replicator] {
      // Still the leadership that ran the pass.
      if (!*alive || replicator_.get() != replicator || rs_.fenced) return;
      if (saved) metrics_.counters_saved_timestamp.set(static_cast<double>(nowMs()) / 1000.0);
      if (first_done) rs_.first_done = true;
      rs_.last_result = after.last_result;
      rs_.guard_tripped = after.guard_tripped;
      rs_.not_converged_reason = after.not_converged_reason;
      rs_.reported_nodes = after.reported_nodes;
      rs_.parked_nodes = replicator_->parkedNodes();
      publish();
    });
  });
}

// ---- sequence counters ----

void Daemon::loadSavedCounters() {
  worker_.run([keeper = keeper_] {
    if (!keeper) return;
    if (auto s = keeper->load(); !s) {
      spdlog::warn("loading the saved sequence counters: {}; not saving before they could be read",
                   s.error().describe());
    }
  });
}

void Daemon::saveCounters(bool now) {
  if (!replicator_ || !fence_ || !keeper_ || options_.reverse || !rs_.write_connected) return;
  auto delta = replicator_->takeCounterChanges();
  worker_.run([this, alive = alive_, keeper = keeper_, fence = fence_, delta = std::move(delta), now] {
    keeper->merge(delta);
    if (!keeper->dirty() || (!now && std::chrono::steady_clock::now() - keeper->savedAt() < kCountersMinGap)) return;
    auto s = keeper->save(fence, nowMs());
    if (!s) {
      if (s.error().code == ErrorCode::kFenced) return postFenced();
      spdlog::warn("saving sequence counters: {}", s.error().describe());
      return;
    }
    loop_.post([this, alive] {
      if (*alive) metrics_.counters_saved_timestamp.set(static_cast<double>(nowMs()) / 1000.0);
    });
  });
}

void Daemon::scheduleCounterSave() {
  loop_.postAfter(kCountersCheckEvery, [this, alive = alive_] {
    if (!*alive) return;
    // One save job at a time: what arrives meanwhile waits in the replicator.
    if (worker_.pending() == 0) saveCounters(false);
    scheduleCounterSave();
  });
}

}  // namespace zks::daemon
