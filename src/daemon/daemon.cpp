#include "daemon/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>

#include "common/event_loop.h"
#include "common/log.h"
#include "daemon/daemon_metrics.h"
#include "daemon/readiness.h"
#include "daemon/replicator.h"
#include "metrics/http_server.h"
#include "state/counters.h"
#include "state/election.h"
#include "state/identity.h"
#include "state/store.h"
#include "zk/connect_options.h"

namespace zks::daemon {

namespace {

constexpr int kExitOk = 0, kExitDeposed = 1, kExitConfig = 2, kExitFenced = 3, kExitRoleStandby = 4;
// Above this many bytes of watched paths, a reconnect's SetWatches packet
// would near the server's 1 MiB limit (ZOOKEEPER-706): a fresh session and
// a re-read replace the C client's own reconnect.
constexpr size_t kSetWatchesBudget = 512 * 1024;
constexpr auto kRetry = std::chrono::seconds(1);
constexpr auto kStateEvery = std::chrono::seconds(5);
// Sequence counters are saved right after each full reconcile, and within
// kCountersCheckEvery + kCountersMinGap (5 s) of a change: a failover soon
// after a leader change or a first pass must find them.
constexpr auto kCountersCheckEvery = std::chrono::seconds(1);
constexpr auto kCountersMinGap = std::chrono::seconds(4);
constexpr auto kDrainBudget = std::chrono::milliseconds(4000);
// Backoff after an election error, and while the fence cannot be taken
// (another writer such as `failover --final-sync` may hold it for a while).
constexpr auto kBackoffFirst = std::chrono::seconds(1);
constexpr auto kBackoffCap = std::chrono::seconds(60);

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds backoff(int failures) {
  const int doublings = std::clamp(failures - 1, 0, 16);
  return std::min<std::chrono::milliseconds>(kBackoffFirst * (int64_t{1} << doublings), kBackoffCap);
}

// The settings a running daemon cannot take over on SIGHUP: its sessions
// keep the connect string, the credentials and the TLS setup they were
// opened with.
std::vector<std::string> restartOnlyChanges(const zk::ConnectOptions& before, const zk::ConnectOptions& after,
                                            const std::string& site) {
  std::vector<std::string> out;
  if (before.connect != after.connect) out.push_back(site + ".connect");
  if (before.session_timeout != after.session_timeout) out.push_back(site + ".session_timeout_ms");
  bool same_auth = before.auth.size() == after.auth.size();
  for (size_t i = 0; same_auth && i < before.auth.size(); ++i) {
    same_auth = before.auth[i].scheme == after.auth[i].scheme && before.auth[i].credentials == after.auth[i].credentials;
  }
  if (!same_auth) out.push_back(site + ".auth");
  if (before.tls.ca_file != after.tls.ca_file || before.tls.cert_file != after.tls.cert_file ||
      before.tls.key_file != after.tls.key_file || before.tls.verify_hostname != after.tls.verify_hostname) {
    out.push_back(site + ".tls");
  }
  if (before.backend != after.backend) out.push_back(site + ".client");
  return out;
}

class Daemon {
 public:
  Daemon(reconcile::Engine engine, DaemonOptions options)
      : engine_(std::move(engine)),
        options_(std::move(options)),
        metrics_(registry_),
        board_(engine_.read_site, engine_.write_site),
        backup_fence_path_(state::StatePaths(engine_.config.state_path).fence) {}

  int run();

 private:
  // ---- connections ----
  void connectRead();
  void connectWrite();
  void onWriteConnected();
  void onReadSession(const zk::SessionEvent& e);
  void onWriteSession(const zk::SessionEvent& e);
  void setRead(bool connected);
  void setWrite(bool connected);
  // ---- leadership ----
  void joinElection();
  void onElectionError(const Error& e, uint64_t generation);
  std::shared_ptr<state::LeaderElection> currentElection();
  // Whether this candidate is registered behind another one (a follower
  // standing by); polled after joining until it leads or stands by.
  void checkStandingBy();
  void pollStandingBy(int tries_left);
  void onElected();
  void onLost();
  void onFenced();
  // ---- reverse mode: the backup's role decides (issue 12 item 2) ----
  zk::Client& backupClient() { return options_.reverse ? *read_ : *write_; }
  // Exits 4 when the backup's role is standby; true when it is active,
  // false when it could not be read (retry later).
  bool checkReverseRole();
  void armBackupFenceWatch();
  // ---- state record and counters ----
  void scheduleAudit();
  void scheduleStateUpdate();
  void scheduleCounterSave();
  void stateTick();
  void onFullReconcileDone(const reconcile::ReconcileReport& report);
  // updateState with this leader's identity and time, for the forward
  // leader; false when the write failed (fenced: handled).
  bool writeState(const std::function<void(state::SiteState&)>& change);
  void loadSavedCounters();
  void saveCounters();
  // ---- lifecycle ----
  void reload();
  void shutdown();
  void exitWith(int code, const std::string& why);
  // Copies the loop thread's view into the readiness board (the HTTP
  // threads read only that) and sets zkstandby_ready.
  void publish();

  reconcile::Engine engine_;
  DaemonOptions options_;
  metrics::Registry registry_;
  DaemonMetrics metrics_;
  EventLoop loop_;
  ReadinessBoard board_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::unique_ptr<zk::Client> read_;   // the primary (the backup with --reverse)
  std::unique_ptr<zk::Client> write_;  // the backup (the rebuilt primary with --reverse)
  zk::ConnectOptions read_options_, write_options_;  // as the sessions were opened (SIGHUP compares)
  // The completion thread forwards the write site's watch events to the
  // election; the loop thread replaces it after an error. The lock guards
  // the pointer, the shared_ptr keeps a call in progress safe.
  std::mutex election_mutex_;
  std::shared_ptr<state::LeaderElection> election_;
  uint64_t election_generation_ = 0;
  int election_failures_ = 0;
  std::chrono::steady_clock::time_point election_error_at_{};
  int fence_failures_ = 0;
  std::unique_ptr<Replicator> replicator_;
  reconcile::NodeIndex index_;
  std::optional<state::FenceToken> fence_;
  std::string identity_ = state::processIdentity();
  const std::string backup_fence_path_;
  std::vector<std::thread> connectors_;  // reopen() runs off the loop: it blocks up to connect_timeout

  // Loop thread only; published to board_.
  ReadinessState rs_;
  std::atomic<bool> election_started_{false};  // also read by the write client's completion thread
  bool reverse_role_checked_ = false;
  bool counters_loaded_ = false;
  std::chrono::steady_clock::time_point counters_saved_at_{};

  bool read_connecting_ = false;
  bool write_connecting_ = false;
  bool shutting_down_ = false;
  std::optional<int> exit_code_;
  std::shared_ptr<std::function<void()>> poll_holder_;  // keeps the drain poll alive
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

void Daemon::publish() {
  board_.update([&](ReadinessState& s) { s = rs_; });
  metrics_.ready.set(board_.judge().ready ? 1 : 0);
  metrics_.election_ok.set(rs_.election_ok ? 1 : 0);
}

void Daemon::exitWith(int code, const std::string& why) {
  if (exit_code_) return;
  if (code == kExitOk) spdlog::info("{}", why);
  else spdlog::error("{}", why);
  exit_code_ = code;
  loop_.stop();
}

// ---- connections ----

void Daemon::setRead(bool connected) {
  rs_.read_connected = connected;
  metrics_.primary_connected.set(connected ? 1 : 0);
  if (replicator_) replicator_->setConnected(rs_.read_connected, rs_.write_connected);
  publish();
}

void Daemon::setWrite(bool connected) {
  rs_.write_connected = connected;
  metrics_.backup_connected.set(connected ? 1 : 0);
  if (replicator_) replicator_->setConnected(rs_.read_connected, rs_.write_connected);
  publish();
}

void Daemon::connectRead() {
  if (read_connecting_ || shutting_down_) return;
  read_connecting_ = true;
  setRead(false);
  const auto timeout = std::chrono::milliseconds(
      (options_.reverse ? engine_.config.backup : engine_.config.primary).connect_timeout_ms);
  connectors_.emplace_back([this, timeout, alive = alive_] {
    auto status = read_->reopen(timeout);
    loop_.post([this, alive, status] {
      if (!*alive) return;
      read_connecting_ = false;
      if (!status) {
        spdlog::warn("{}: {}; retrying", engine_.read_site, status.error().describe());
        loop_.postAfter(kRetry, [this, alive] {
          if (*alive) connectRead();
        });
        return;
      }
      // A new session holds no watches: read everything again, fetching data
      // only where the index says a node moved. Asked before the replicator
      // hears of the connection, so that it merges with a full reconcile
      // still waiting for it (a new leader's) rather than following it.
      if (replicator_) {
        replicator_->primaryGap();
        replicator_->requestFullReconcile("session", true);
      }
      setRead(true);
      if (options_.reverse) armBackupFenceWatch();
    });
  });
}

void Daemon::connectWrite() {
  if (write_connecting_ || shutting_down_) return;
  write_connecting_ = true;
  setWrite(false);
  const auto timeout = std::chrono::milliseconds(
      (options_.reverse ? engine_.config.primary : engine_.config.backup).connect_timeout_ms);
  connectors_.emplace_back([this, timeout, alive = alive_] {
    auto status = write_->reopen(timeout);
    loop_.post([this, alive, status] {
      if (!*alive) return;
      write_connecting_ = false;
      if (!status) {
        spdlog::warn("{}: {}; retrying", engine_.write_site, status.error().describe());
        loop_.postAfter(kRetry, [this, alive] {
          if (*alive) connectWrite();
        });
        return;
      }
      setWrite(true);
      onWriteConnected();
    });
  });
}

void Daemon::onWriteConnected() {
  const auto& state_path = engine_.config.state_path;
  auto retry = [this] {
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && rs_.write_connected) onWriteConnected();
    });
  };
  if (options_.reverse) {
    // Failback writes to the rebuilt primary: only while the backup is the
    // active site. Its role is on the backup, which reverse mode reads.
    if (!reverse_role_checked_) {
      if (!rs_.read_connected || !checkReverseRole()) return retry();
      reverse_role_checked_ = true;
    }
  } else {
    auto stored = state::readState(*write_, state_path);
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
  }
  if (election_started_) return;  // the election re-enters by itself after a new session
  joinElection();
}

void Daemon::joinElection() {
  if (shutting_down_ || exit_code_) return;
  if (auto s = state::ensureLayout(*write_, engine_.config.state_path); !s) {
    spdlog::warn("preparing {}: {}; retrying", engine_.config.state_path, s.error().describe());
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && rs_.write_connected) joinElection();
    });
    return;
  }
  const uint64_t generation = ++election_generation_;
  auto election = std::make_shared<state::LeaderElection>(
      *write_, engine_.config.state_path, identity_,
      state::LeaderElection::Callbacks{
          .on_elected = [this, alive = alive_,
                         generation] { loop_.post([this, alive, generation] {
                           if (*alive && generation == election_generation_) onElected();
                         }); },
          .on_lost = [this, alive = alive_, generation] { loop_.post([this, alive, generation] {
                       if (*alive && generation == election_generation_) onLost();
                     }); },
          .on_error =
              [this, alive = alive_, generation](const Error& e) {
                loop_.post([this, alive, e, generation] {
                  if (*alive) onElectionError(e, generation);
                });
              },
      });
  {
    std::lock_guard lock(election_mutex_);
    election_ = election;
  }
  election_started_ = true;
  rs_.in_election = true;
  publish();
  election->start();
  spdlog::info("joined the leader election as {}", identity_);
  pollStandingBy(100);
}

void Daemon::checkStandingBy() {
  const bool was = rs_.standing_by;
  rs_.standing_by = false;
  auto election = currentElection();
  if (election && !rs_.leader && !election->isLeader()) {
    const std::string node = election->nodePath();
    if (!node.empty()) {
      if (auto candidates = state::readCandidates(*write_, engine_.config.state_path); candidates) {
        const std::string name = node.substr(node.rfind('/') + 1);
        bool registered = false;
        for (const auto& c : *candidates) registered |= c.node == name;
        rs_.standing_by = registered && !candidates->empty() && candidates->front().node != name;
      } else {
        rs_.standing_by = was;  // unknown: keep what was known
      }
    }
  }
  if (rs_.standing_by != was) publish();
}

void Daemon::pollStandingBy(int tries_left) {
  checkStandingBy();
  if (rs_.leader || rs_.standing_by || tries_left <= 0) return;
  loop_.postAfter(std::chrono::milliseconds(200), [this, alive = alive_, tries_left] {
    if (*alive && !exit_code_) pollStandingBy(tries_left - 1);
  });
}

// An election error (the election node deleted, no auth, an invalid ACL)
// leaves this candidate out of the election for good: it would never lead
// again while /readyz said 200. Leave it (stop writing if leading), back
// off, and join again; the layout is recreated on the way.
void Daemon::onElectionError(const Error& e, uint64_t generation) {
  if (generation != election_generation_ || shutting_down_ || exit_code_) return;
  ++election_generation_;  // late callbacks of this election are void
  election_error_at_ = std::chrono::steady_clock::now();
  const auto delay = backoff(++election_failures_);
  spdlog::error("leader election: {}; leaving it and joining again in {} s", e.describe(),
                std::chrono::duration<double>(delay).count());
  rs_.election_ok = false;
  rs_.election_error = e.describe();
  rs_.in_election = false;
  if (replicator_) onLost();
  std::shared_ptr<state::LeaderElection> old;
  {
    std::lock_guard lock(election_mutex_);
    old = std::move(election_);
  }
  if (old) old->stop();
  publish();
  loop_.postAfter(delay, [this, alive = alive_] {
    if (*alive && rs_.write_connected) joinElection();
    else if (*alive) election_started_ = false;  // onWriteConnected joins once connected
  });
}

void Daemon::onReadSession(const zk::SessionEvent& e) {
  switch (e.state) {
    case zk::SessionState::kConnected:
      setRead(true);
      break;
    case zk::SessionState::kConnecting:
      setRead(false);
      if (index_.pathBytes() > kSetWatchesBudget) {
        spdlog::warn("{} connection lost with {} watched nodes ({} KiB of paths): opening a fresh session "
                     "rather than re-sending every watch (ZOOKEEPER-706)",
                     engine_.read_site, index_.size(), index_.pathBytes() / 1024);
        connectRead();
      }
      break;
    case zk::SessionState::kExpired:
      spdlog::warn("{} session expired: new session and re-read", engine_.read_site);
      connectRead();
      break;
    default:
      break;
  }
}

void Daemon::onWriteSession(const zk::SessionEvent& e) {
  if (auto election = currentElection()) election->handleSession(e);
  switch (e.state) {
    case zk::SessionState::kConnected:
      if (!rs_.write_connected) {
        setWrite(true);
        // Writes in flight at the disconnect had unknown outcomes.
        if (replicator_) replicator_->requestFullReconcile("backup", true);
      }
      break;
    case zk::SessionState::kConnecting:
      setWrite(false);
      break;
    case zk::SessionState::kExpired:
      spdlog::warn("{} session expired: leadership lost; reconnecting", engine_.write_site);
      connectWrite();
      break;
    default:
      break;
  }
}

// ---- leadership ----

void Daemon::onElected() {
  if (shutting_down_ || replicator_ || exit_code_) return;
  rs_.election_ok = true;
  election_failures_ = 0;
  // A reverse writer fences on the rebuilt primary, and only while the
  // backup (read_) is active: the role is read before and after.
  auto token = options_.reverse
                   ? state::acquireReverseFence(*write_, *read_, engine_.config.state_path, identity_)
                   : state::acquireFence(*write_, engine_.config.state_path, identity_, state::FenceMode::kForward);
  if (!token) {
    if (token.error().code == ErrorCode::kFenced) {
      rs_.fenced = true;
      publish();
      exitWith(options_.reverse ? kExitRoleStandby : kExitFenced, "refused: " + token.error().describe());
      return;
    }
    // Another writer may hold the fence on purpose (a `failover
    // --final-sync`): wait for it with a growing pause instead of taking
    // the fence back from it every second.
    const auto delay = backoff(++fence_failures_);
    spdlog::warn("taking the fence: {}; retrying in {} s", token.error().describe(),
                 std::chrono::duration<double>(delay).count());
    loop_.postAfter(delay, [this, alive = alive_, generation = election_generation_] {
      if (!*alive || generation != election_generation_) return;
      if (auto election = currentElection(); election && election->isLeader()) onElected();
    });
    return;
  }
  fence_failures_ = 0;
  fence_ = *token;
  rs_.leader = true;
  rs_.standing_by = false;
  rs_.first_done = false;
  rs_.last_result.clear();
  metrics_.leader.set(1);
  spdlog::info("elected leader; fence version {}", token->version);
  replicator_ = std::make_unique<Replicator>(
      loop_, *read_, *write_, engine_, std::vector<zk::Op>{state::fenceCheckOp(*token)}, metrics_, index_,
      ReplicatorHooks{
          .on_fenced = [this] { onFenced(); },
          .on_full_reconcile_done =
              [this](const reconcile::ReconcileReport& report, const std::string&) { onFullReconcileDone(report); },
      });
  replicator_->setConnected(rs_.read_connected, rs_.write_connected);
  // Start from the counters an earlier leader saved: this one saves its
  // whole map, which must never hold less than what is stored.
  counters_loaded_ = false;
  if (!options_.reverse) loadSavedCounters();
  publish();
  replicator_->requestFullReconcile("leader", false);
}

void Daemon::onLost() {
  if (!replicator_) return;
  spdlog::warn("leadership lost: stopped writing");
  replicator_->stop();
  replicator_.reset();
  fence_.reset();
  rs_.leader = false;
  rs_.first_done = false;
  rs_.last_result.clear();
  metrics_.leader.set(0);
  publish();
  pollStandingBy(100);
}

void Daemon::onFenced() {
  if (exit_code_) return;
  rs_.fenced = true;
  publish();
  if (replicator_) replicator_->stop();
  if (options_.reverse) {
    // `resume` moves the fences: a standby backup means failback is over.
    if (auto role = state::readState(backupClient(), engine_.config.state_path);
        role && role->state.role == state::Role::kStandby) {
      exitWith(kExitRoleStandby, "run --reverse: the backup site's role returned to standby (`resume`): failback is "
                                 "over; stopped writing; exiting 4");
      return;
    }
  }
  auto loss = state::explainFenceLoss(*write_, engine_.config.state_path);
  if (!options_.reverse && loss && *loss == state::FenceLoss::kFailedOver) {
    exitWith(kExitFenced, "the backup site was failed over: stopped writing; exiting 3");
  } else {
    exitWith(kExitDeposed, "another writer took the fence: stopped writing; exiting so the supervisor restarts us");
  }
}

// ---- reverse mode ----

bool Daemon::checkReverseRole() {
  auto stored = state::readState(backupClient(), engine_.config.state_path);
  if (!stored) {
    spdlog::warn("reading the backup site's role: {}; retrying", stored.error().describe());
    return false;
  }
  metrics_.epoch.set(static_cast<double>(stored->state.epoch));
  metrics_.role_active.set(stored->state.role == state::Role::kActive ? 1 : 0);
  if (stored->state.role == state::Role::kActive) return true;
  rs_.fenced = true;
  publish();
  exitWith(kExitRoleStandby,
           "run --reverse: the backup site's role is standby (epoch " + std::to_string(stored->state.epoch) +
               "): failback replicates only while the backup is active (after `failover`), and stops when "
               "`resume` returns the roles; exiting 4");
  return false;
}

// `failover` and `resume` move the backup's fence in the same multi as the
// role: a watch on it re-checks the role at once.
void Daemon::armBackupFenceWatch() {
  read_->exists(backup_fence_path_, true, [](zk::StatResult) {});
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

bool Daemon::writeState(const std::function<void(state::SiteState&)>& change) {
  if (!fence_ || options_.reverse || !rs_.write_connected) return false;
  auto r = state::updateState(*write_, engine_.config.state_path, *fence_, [&](state::SiteState& s) {
    change(s);
    s.leader = identity_;
    s.updated_ms = nowMs();
  });
  if (!r) {
    if (r.error().code == ErrorCode::kFenced) onFenced();
    else spdlog::warn("updating the site state: {}", r.error().describe());
    return false;
  }
  metrics_.epoch.set(static_cast<double>(r->epoch));
  return true;
}

std::shared_ptr<state::LeaderElection> Daemon::currentElection() {
  std::lock_guard lock(election_mutex_);
  return election_;
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
  if (!rs_.write_connected || !election_started_ || exit_code_) return;
  if (options_.reverse) {
    if (rs_.read_connected) checkReverseRole();
    return;
  }
  if (replicator_ && fence_) {
    // The leader keeps its fields fresh: leader, updated_ms, and the
    // applied-zxid watermark once one is proven.
    const int64_t zxid = replicator_->maxAppliedZxid();
    writeState([&](state::SiteState& s) { s.last_applied_zxid = std::max(s.last_applied_zxid, zxid); });
    return;
  }
  // Followers watch the role too: a failover is theirs to obey as well.
  if (auto s = state::readState(*write_, engine_.config.state_path)) {
    metrics_.epoch.set(static_cast<double>(s->state.epoch));
    metrics_.role_active.set(s->state.role == state::Role::kActive ? 1 : 0);
    if (s->state.role == state::Role::kActive) {
      rs_.fenced = true;
      publish();
      exitWith(kExitFenced, "the backup site was failed over; exiting 3");
    }
  }
}

void Daemon::onFullReconcileDone(const reconcile::ReconcileReport& report) {
  const auto result = report.result();
  // Counters first: once /readyz says the first pass is done, a failover
  // finds them saved.
  saveCounters();
  if (!fence_) return;  // fenced while saving
  const int64_t now = nowMs();
  writeState([&](state::SiteState& s) {
    s.last_full_reconcile_ms = now;
    s.last_full_reconcile_result = std::string(reconcile::resultName(result));
    s.reported_nodes = static_cast<int64_t>(report.reportedNodes());
    if (result != reconcile::ReconcileResult::kNotConverged) s.last_full_sync_ms = now;
    s.last_applied_zxid = std::max(s.last_applied_zxid, replicator_ ? replicator_->maxAppliedZxid() : 0);
  });
  if (!report.error) rs_.first_done = true;
  rs_.last_result = std::string(reconcile::resultName(result));
  rs_.guard_tripped = report.guard_tripped;
  rs_.not_converged_reason.clear();
  if (report.guard_tripped) {
    rs_.not_converged_reason = report.guard_reason;
  } else if (report.error) {
    rs_.not_converged_reason = report.error->describe();
  } else if (result == reconcile::ReconcileResult::kNotConverged) {
    rs_.not_converged_reason = std::to_string(report.refused + report.unknown) + " writes unresolved, " +
                               std::to_string(report.conflicts + report.acl_unknown) + " conflicts";
  }
  rs_.reported_nodes = report.reportedNodes();
  rs_.unreadable_nodes = report.unreadable;
  rs_.parked_nodes = replicator_ ? replicator_->parkedNodes() : 0;
  publish();
}

void Daemon::loadSavedCounters() {
  auto saved = state::loadCounters(*write_, engine_.config.state_path);
  if (!saved) {
    spdlog::warn("loading the saved sequence counters: {}; not saving before they could be read",
                 saved.error().describe());
    return;
  }
  if (replicator_) replicator_->adoptSavedCounters(saved->counters);
  counters_loaded_ = true;
}

void Daemon::saveCounters() {
  if (!replicator_ || !fence_ || options_.reverse || !rs_.write_connected) return;
  if (!counters_loaded_) {
    loadSavedCounters();
    if (!counters_loaded_) return;
  }
  if (!replicator_->countersChanged()) return;
  auto s = state::saveCounters(*write_, engine_.config.state_path, replicator_->counters(), *fence_, nowMs());
  if (s) {
    replicator_->countersSaved();
    counters_saved_at_ = std::chrono::steady_clock::now();
    metrics_.counters_saved_timestamp.set(static_cast<double>(nowMs()) / 1000.0);
  } else if (s.error().code == ErrorCode::kFenced) {
    onFenced();
  } else {
    spdlog::warn("saving sequence counters: {}", s.error().describe());
  }
}

void Daemon::scheduleCounterSave() {
  loop_.postAfter(kCountersCheckEvery, [this, alive = alive_] {
    if (!*alive) return;
    if (std::chrono::steady_clock::now() - counters_saved_at_ >= kCountersMinGap) saveCounters();
    scheduleCounterSave();
  });
}

// ---- lifecycle ----

void Daemon::reload() {
  spdlog::info("SIGHUP: reloading {}", options_.config_file);
  auto config = config::loadConfig(options_.config_file);
  if (!config) {
    for (const auto& p : config.error()) spdlog::error("reload refused: {}", p.describe());
    return;
  }
  auto engine = reconcile::buildEngine(std::move(*config), options_.reverse);
  if (!engine) {
    for (const auto& line : engine.error()) spdlog::error("reload refused: {}", line);
    return;
  }
  // Connections, credentials and TLS stay as the sessions were opened.
  std::vector<std::string> restart_only;
  const auto& c = engine->config;
  auto read_options = config::connectOptions(options_.reverse ? c.backup : c.primary, engine_.read_site);
  auto write_options = config::connectOptions(options_.reverse ? c.primary : c.backup, engine_.write_site);
  for (auto* o : {&read_options, &write_options}) {
    if (!*o) spdlog::warn("reload: {}; the credentials in use are kept", o->error().describe());
  }
  if (read_options) {
    for (auto& k : restartOnlyChanges(read_options_, *read_options, engine_.read_site)) restart_only.push_back(k);
  }
  if (write_options) {
    for (auto& k : restartOnlyChanges(write_options_, *write_options, engine_.write_site)) restart_only.push_back(k);
  }
  if (c.state_path != engine_.config.state_path) restart_only.push_back("state_path");
  if (c.http.listen != engine_.config.http.listen) restart_only.push_back("http.listen");
  if (!restart_only.empty()) {
    std::string keys;
    for (const auto& k : restart_only) keys += (keys.empty() ? "" : ", ") + k;
    spdlog::warn("reload: {} changed: a restart is needed for that to take effect (the sessions in use keep "
                 "their connect string, credentials and TLS setup, and state_path stays where it was)",
                 keys);
    // The old values stay in force.
    engine->config.primary = engine_.config.primary;
    engine->config.backup = engine_.config.backup;
    engine->config.state_path = engine_.config.state_path;
    engine->config.http = engine_.config.http;
  }
  engine_ = std::move(*engine);
  if (replicator_) replicator_->reload(engine_);
  spdlog::info("reload: mapping and sync settings replaced; a full reconcile follows");
}

void Daemon::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  spdlog::info("stopping: draining writes in flight");
  if (replicator_) replicator_->stop();
  // Completions keep arriving on the loop while it drains; poll there.
  const auto deadline = EventLoop::Clock::now() + kDrainBudget;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, deadline, weak = std::weak_ptr<std::function<void()>>(poll)] {
    const bool drained = !replicator_ || replicator_->drained();
    if (drained || EventLoop::Clock::now() >= deadline) {
      if (!drained) spdlog::warn("stopping with writes still in flight");
      exitWith(kExitOk, "stopped");
      return;
    }
    if (auto self = weak.lock()) loop_.postAfter(std::chrono::milliseconds(10), [self] { (*self)(); });
  };
  poll_holder_ = poll;
  (*poll)();
}

int Daemon::run() {
  // Signals are taken by one thread with sigwait and posted to the loop;
  // every other thread (clients, HTTP) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> signals_done{false};
  std::thread signal_thread([this, signals, &signals_done] {
    while (!signals_done) {
      timespec wait{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGHUP) loop_.post([this] { reload(); });
      else if (sig == SIGTERM || sig == SIGINT) loop_.post([this] { shutdown(); });
    }
  });

  int code = kExitOk;
  {
    const auto& c = engine_.config;
    if (!c.http.listen.empty()) {
      // The HTTP threads read only the board (under its lock) and metrics
      // (atomics): nothing the loop thread owns.
      http_ = std::make_unique<metrics::HttpServer>(registry_, [this] {
        auto r = board_.judge();
        metrics_.ready.set(r.ready ? 1 : 0);
        return std::pair<bool, std::string>{r.ready, r.text};
      });
      if (auto s = http_->start(c.http.listen); !s) {
        spdlog::error("http.listen {}: {}", c.http.listen, s.error().describe());
        signals_done = true;
        signal_thread.join();
        return kExitConfig;
      }
      spdlog::info("serving /metrics, /healthz, /readyz on {}", c.http.listen);
    }
    auto read_options = config::connectOptions(options_.reverse ? c.backup : c.primary, engine_.read_site);
    auto write_options = config::connectOptions(options_.reverse ? c.primary : c.backup, engine_.write_site);
    if (!read_options || !write_options) {
      spdlog::error("{}", (!read_options ? read_options.error() : write_options.error()).describe());
      if (http_) http_->stop();
      signals_done = true;
      signal_thread.join();
      return kExitConfig;
    }
    read_options_ = *read_options;
    write_options_ = *write_options;
    read_ = zk::makeClient(*read_options);
    write_ = zk::makeClient(*write_options);
    read_->setWatchListener([this, alive = alive_](const zk::WatchEvent& e) {
      loop_.post([this, alive, e] {
        if (!*alive || e.generation != read_->generation()) return;
        if (options_.reverse && e.path == backup_fence_path_) {
          // The backup's fence moved (failover, resume): is failback still on?
          armBackupFenceWatch();
          checkReverseRole();
          return;
        }
        if (replicator_) replicator_->onPrimaryEvent(e);
      });
    });
    read_->setSessionListener([this, alive = alive_](const zk::SessionEvent& e) {
      loop_.post([this, alive, e] {
        if (*alive && e.generation == read_->generation()) onReadSession(e);
      });
    });
    write_->setWatchListener([this](const zk::WatchEvent& e) {
      // The election wants its events on the completion thread; it posts its
      // own callbacks.
      if (!election_started_) return;
      if (auto election = currentElection()) election->handleWatch(e);
    });
    write_->setSessionListener([this, alive = alive_](const zk::SessionEvent& e) {
      loop_.post([this, alive, e] {
        if (*alive && e.generation == write_->generation()) onWriteSession(e);
      });
    });

    spdlog::info("zkstandby run: {} -> {} ({} roots), state at {}", engine_.read_site, engine_.write_site,
                 engine_.options.roots.size(), c.state_path);
    publish();
    connectWrite();
    connectRead();
    scheduleAudit();
    scheduleStateUpdate();
    scheduleCounterSave();
    loop_.runUntil([] { return false; });
    code = exit_code_.value_or(kExitOk);
  }

  // Teardown in reverse order of creation.
  *alive_ = false;
  if (auto election = currentElection()) election->stop();
  replicator_.reset();
  if (read_) read_->close();
  if (write_) write_->close();
  for (auto& t : connectors_) t.join();
  if (http_) http_->stop();
  signals_done = true;
  signal_thread.join();
  {
    std::lock_guard lock(election_mutex_);
    election_.reset();
  }
  return code;
}

}  // namespace

int runDaemon(const DaemonOptions& options) {
  auto config = config::loadConfig(options.config_file);
  if (!config) {
    for (const auto& p : config.error()) std::fprintf(stderr, "%s\n", p.describe().c_str());
    return kExitConfig;
  }
  if (auto s = setupLogging(config->log.level, config->log.format); !s) {
    std::fprintf(stderr, "zkstandby: error: %s\n", s.error().describe().c_str());
    return kExitConfig;
  }
  auto engine = reconcile::buildEngine(std::move(*config), options.reverse);
  if (!engine) {
    for (const auto& line : engine.error()) std::fprintf(stderr, "%s\n", line.c_str());
    return kExitConfig;
  }
  Daemon daemon(std::move(*engine), options);
  return daemon.run();
}

}  // namespace zks::daemon
