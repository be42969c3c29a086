#include "daemon/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <thread>

#include "common/event_loop.h"
#include "common/log.h"
#include "daemon/daemon_metrics.h"
#include "daemon/replicator.h"
#include "metrics/http_server.h"
#include "state/election.h"
#include "state/identity.h"
#include "state/store.h"
#include "zk/connect_options.h"

namespace zks::daemon {

namespace {

constexpr int kExitOk = 0, kExitDeposed = 1, kExitConfig = 2, kExitFenced = 3;
// Above this many bytes of watched paths, a reconnect's SetWatches packet
// would near the server's 1 MiB limit (ZOOKEEPER-706): a fresh session and
// a re-read replace the C client's own reconnect.
constexpr size_t kSetWatchesBudget = 512 * 1024;
constexpr auto kRetry = std::chrono::seconds(1);
constexpr auto kStateEvery = std::chrono::seconds(5);
constexpr auto kCountersEvery = std::chrono::seconds(30);
constexpr auto kDrainBudget = std::chrono::milliseconds(4000);

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Daemon {
 public:
  Daemon(reconcile::Engine engine, DaemonOptions options)
      : engine_(std::move(engine)), options_(std::move(options)), metrics_(registry_) {}

  int run();

 private:
  // ---- connections ----
  void connectRead();
  void connectWrite();
  void onWriteConnected();
  void onReadSession(const zk::SessionEvent& e);
  void onWriteSession(const zk::SessionEvent& e);
  // ---- leadership ----
  void onElected();
  void onLost();
  void onFenced();
  // ---- periodic ----
  void scheduleAudit();
  void scheduleStateUpdate();
  void scheduleCounterSave();
  void updateState();
  // ---- lifecycle ----
  void reload();
  void shutdown();
  void exitWith(int code, const std::string& why);
  std::pair<bool, std::string> readiness() const;

  reconcile::Engine engine_;
  DaemonOptions options_;
  metrics::Registry registry_;
  DaemonMetrics metrics_;
  EventLoop loop_;
  std::unique_ptr<metrics::HttpServer> http_;
  std::unique_ptr<zk::Client> read_;   // the primary (the backup with --reverse)
  std::unique_ptr<zk::Client> write_;  // the backup (the rebuilt primary with --reverse)
  std::unique_ptr<state::LeaderElection> election_;
  std::unique_ptr<Replicator> replicator_;
  reconcile::NodeIndex index_;
  std::optional<state::FenceToken> fence_;
  std::string identity_ = state::processIdentity();
  std::vector<std::thread> connectors_;  // reopen() runs off the loop: it blocks up to connect_timeout

  // Read by the HTTP threads.
  std::atomic<bool> read_connected_{false};
  std::atomic<bool> write_connected_{false};
  std::atomic<bool> leader_{false};
  std::atomic<bool> first_done_{false};
  std::atomic<bool> fenced_{false};
  std::atomic<bool> election_started_{false};

  bool read_connecting_ = false;
  bool write_connecting_ = false;
  bool shutting_down_ = false;
  std::optional<int> exit_code_;
  std::shared_ptr<std::function<void()>> poll_holder_;  // keeps the drain poll alive
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

std::pair<bool, std::string> Daemon::readiness() const {
  if (fenced_) return {false, "fenced: the site was failed over"};
  if (!write_connected_) return {false, "not connected to the " + engine_.write_site};
  if (!read_connected_) return {false, "not connected to the " + engine_.read_site};
  if (!election_started_) return {false, "not yet in the leader election"};
  if (leader_ && !first_done_) return {false, "leader: first full reconcile not done"};
  return {true, leader_ ? "leader: replicating" : "follower: standing by"};
}

void Daemon::exitWith(int code, const std::string& why) {
  if (exit_code_) return;
  if (code == kExitOk) spdlog::info("{}", why);
  else spdlog::error("{}", why);
  exit_code_ = code;
  loop_.stop();
}

// ---- connections ----

void Daemon::connectRead() {
  if (read_connecting_ || shutting_down_) return;
  read_connecting_ = true;
  read_connected_ = false;
  metrics_.primary_connected.set(0);
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
      read_connected_ = true;
      metrics_.primary_connected.set(1);
      // A new session holds no watches: read everything again, fetching data
      // only where the index says a node moved.
      if (replicator_) replicator_->requestFullReconcile("session", true);
    });
  });
}

void Daemon::connectWrite() {
  if (write_connecting_ || shutting_down_) return;
  write_connecting_ = true;
  write_connected_ = false;
  metrics_.backup_connected.set(0);
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
      write_connected_ = true;
      metrics_.backup_connected.set(1);
      onWriteConnected();
    });
  });
}

void Daemon::onWriteConnected() {
  const auto& state_path = engine_.config.state_path;
  auto stored = state::readState(*write_, state_path);
  if (!stored) {
    spdlog::warn("reading the site state: {}; retrying", stored.error().describe());
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && write_connected_) onWriteConnected();
    });
    return;
  }
  metrics_.epoch.set(static_cast<double>(stored->state.epoch));
  metrics_.role_active.set(stored->state.role == state::Role::kActive ? 1 : 0);
  if (!options_.reverse && stored->state.role == state::Role::kActive) {
    fenced_ = true;
    exitWith(kExitFenced, "the backup site is active (failed over at epoch " + std::to_string(stored->state.epoch) +
                              "); forward replication refused. Fail back with `run --reverse`, then `resume`.");
    return;
  }
  if (election_started_) return;  // the election re-enters by itself after a new session
  if (auto s = state::ensureLayout(*write_, state_path); !s) {
    spdlog::warn("preparing {}: {}; retrying", state_path, s.error().describe());
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && write_connected_) onWriteConnected();
    });
    return;
  }
  election_ = std::make_unique<state::LeaderElection>(
      *write_, state_path, identity_,
      state::LeaderElection::Callbacks{
          .on_elected = [this, alive = alive_] { loop_.post([this, alive] { if (*alive) onElected(); }); },
          .on_lost = [this, alive = alive_] { loop_.post([this, alive] { if (*alive) onLost(); }); },
          .on_error =
              [this, alive = alive_](const Error& e) {
                loop_.post([this, alive, e] {
                  if (*alive) spdlog::error("leader election: {}", e.describe());
                });
              },
      });
  election_started_ = true;
  election_->start();
  spdlog::info("joined the leader election as {}", identity_);
}

void Daemon::onReadSession(const zk::SessionEvent& e) {
  switch (e.state) {
    case zk::SessionState::kConnected:
      read_connected_ = true;
      metrics_.primary_connected.set(1);
      break;
    case zk::SessionState::kConnecting:
      read_connected_ = false;
      metrics_.primary_connected.set(0);
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
  if (election_) election_->handleSession(e);
  switch (e.state) {
    case zk::SessionState::kConnected:
      if (!write_connected_) {
        write_connected_ = true;
        metrics_.backup_connected.set(1);
        // Writes in flight at the disconnect had unknown outcomes.
        if (replicator_) replicator_->requestFullReconcile("backup", true);
      }
      break;
    case zk::SessionState::kConnecting:
      write_connected_ = false;
      metrics_.backup_connected.set(0);
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
  if (shutting_down_ || replicator_) return;
  auto token = state::acquireFence(*write_, engine_.config.state_path, identity_,
                                   options_.reverse ? state::FenceMode::kUnchecked : state::FenceMode::kForward);
  if (!token) {
    if (token.error().code == ErrorCode::kFenced) {
      fenced_ = true;
      exitWith(kExitFenced, "refused: " + token.error().describe());
      return;
    }
    spdlog::warn("taking the fence: {}; retrying", token.error().describe());
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && election_ && election_->isLeader()) onElected();
    });
    return;
  }
  fence_ = *token;
  leader_ = true;
  metrics_.leader.set(1);
  spdlog::info("elected leader; fence version {}", token->version);
  replicator_ = std::make_unique<Replicator>(
      loop_, *read_, *write_, engine_, std::vector<zk::Op>{state::fenceCheckOp(*token)}, metrics_, index_,
      ReplicatorHooks{
          .on_fenced = [this] { onFenced(); },
          .on_full_reconcile_done =
              [this](const reconcile::ReconcileReport& report, const std::string&) {
                if (!report.error) first_done_ = true;
                if (report.converged() && fence_) {
                  auto r = state::updateState(*write_, engine_.config.state_path, *fence_,
                                              [](state::SiteState& s) { s.last_full_sync_ms = nowMs(); });
                  if (!r && r.error().code == ErrorCode::kFenced) onFenced();
                }
              },
      });
  replicator_->requestFullReconcile("leader", false);
}

void Daemon::onLost() {
  if (!replicator_) return;
  spdlog::warn("leadership lost: stopped writing");
  replicator_->stop();
  replicator_.reset();
  fence_.reset();
  leader_ = false;
  first_done_ = false;
  metrics_.leader.set(0);
}

void Daemon::onFenced() {
  if (exit_code_) return;
  fenced_ = true;
  if (replicator_) replicator_->stop();
  auto loss = state::explainFenceLoss(*write_, engine_.config.state_path);
  if (loss && *loss == state::FenceLoss::kFailedOver) {
    exitWith(kExitFenced, "the backup site was failed over: stopped writing; exiting 3");
  } else {
    exitWith(kExitDeposed, "another writer took the fence: stopped writing; exiting so the supervisor restarts us");
  }
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
    updateState();
    scheduleStateUpdate();
  });
}

void Daemon::updateState() {
  metrics_.ready.set(readiness().first ? 1 : 0);
  if (!write_connected_ || !election_started_) return;
  if (replicator_ && fence_ && replicator_->firstReconcileDone() && !options_.reverse) {
    const int64_t zxid = replicator_->maxAppliedZxid();
    auto r = state::updateState(*write_, engine_.config.state_path, *fence_, [&](state::SiteState& s) {
      s.last_applied_zxid = std::max(s.last_applied_zxid, zxid);
    });
    if (!r) {
      if (r.error().code == ErrorCode::kFenced) return onFenced();
      spdlog::warn("updating the site state: {}", r.error().describe());
      return;
    }
    metrics_.epoch.set(static_cast<double>(r->epoch));
    metrics_.last_applied_zxid.set(static_cast<double>(r->last_applied_zxid));
    return;
  }
  // Followers watch the role too: a failover is theirs to obey as well.
  if (auto s = state::readState(*write_, engine_.config.state_path)) {
    metrics_.epoch.set(static_cast<double>(s->state.epoch));
    metrics_.role_active.set(s->state.role == state::Role::kActive ? 1 : 0);
    if (!options_.reverse && s->state.role == state::Role::kActive) {
      fenced_ = true;
      exitWith(kExitFenced, "the backup site was failed over; exiting 3");
    }
  }
}

void Daemon::scheduleCounterSave() {
  loop_.postAfter(kCountersEvery, [this, alive = alive_] {
    if (!*alive) return;
    if (replicator_ && fence_ && !options_.reverse && replicator_->countersChanged()) {
      auto s = state::saveCounters(*write_, engine_.config.state_path, replicator_->counters(), *fence_, nowMs());
      if (s) replicator_->countersSaved();
      else if (s.error().code == ErrorCode::kFenced) onFenced();
      else spdlog::warn("saving sequence counters: {}", s.error().describe());
    }
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
  if (engine->config.primary.connect != engine_.config.primary.connect ||
      engine->config.backup.connect != engine_.config.backup.connect ||
      engine->config.state_path != engine_.config.state_path) {
    spdlog::warn("reload: connect strings and state_path take effect only after a restart");
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
      http_ = std::make_unique<metrics::HttpServer>(registry_, [this] {
        auto r = readiness();
        metrics_.ready.set(r.first ? 1 : 0);
        return r;
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
    read_ = zk::makeClient(*read_options);
    write_ = zk::makeClient(*write_options);
    read_->setWatchListener([this, alive = alive_](const zk::WatchEvent& e) {
      loop_.post([this, alive, e] {
        if (*alive && replicator_ && e.generation == read_->generation()) replicator_->onPrimaryEvent(e);
      });
    });
    read_->setSessionListener([this, alive = alive_](const zk::SessionEvent& e) {
      loop_.post([this, alive, e] {
        if (*alive && e.generation == read_->generation()) onReadSession(e);
      });
    });
    write_->setWatchListener([this, alive = alive_](const zk::WatchEvent& e) {
      // The election wants its events on the completion thread; it posts its own callbacks.
      if (election_started_ && election_) election_->handleWatch(e);
      (void)alive;
    });
    write_->setSessionListener([this, alive = alive_](const zk::SessionEvent& e) {
      loop_.post([this, alive, e] {
        if (*alive && e.generation == write_->generation()) onWriteSession(e);
      });
    });

    spdlog::info("zkstandby run: {} -> {} ({} roots), state at {}", engine_.read_site, engine_.write_site,
                 engine_.options.roots.size(), c.state_path);
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
  if (election_) election_->stop();
  replicator_.reset();
  if (read_) read_->close();
  if (write_) write_->close();
  for (auto& t : connectors_) t.join();
  if (http_) http_->stop();
  signals_done = true;
  signal_thread.join();
  election_.reset();
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
