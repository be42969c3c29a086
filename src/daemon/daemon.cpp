#include "daemon/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "common/log.h"
#include "daemon/daemon_impl.h"
#include "zk/connect_options.h"

namespace zks::daemon {

namespace {

// Backoff after an election error, and while the fence cannot be taken
// (another writer such as `failover --final-sync` may hold it for a while).
constexpr auto kBackoffFirst = std::chrono::seconds(1);
constexpr auto kBackoffCap = std::chrono::seconds(60);
constexpr auto kRetry = std::chrono::seconds(1);
// A stop waits this long for writes in flight to be answered (the unit's
// TimeoutStopSec leaves the rest for closing the sessions).
constexpr auto kDrainBudget = std::chrono::milliseconds(4000);

std::chrono::milliseconds backoff(int failures) {
  const int doublings = std::clamp(failures - 1, 0, 16);
  return std::min<std::chrono::milliseconds>(kBackoffFirst * (int64_t{1} << doublings), kBackoffCap);
}

// The settings a running daemon cannot take over on SIGHUP: its sessions
// keep every connection setting they were opened with (connect string,
// timeouts, credentials, TLS, backend, window, multiRead and addWatch use,
// packet bound). Each one changed is named in the log line.
std::vector<std::string> restartOnlyChanges(const zk::ConnectOptions& before, const zk::ConnectOptions& after,
                                            const std::string& site) {
  std::vector<std::string> out;
  if (before.connect != after.connect) out.push_back(site + ".connect");
  if (before.session_timeout != after.session_timeout) out.push_back(site + ".session_timeout_ms");
  if (before.connect_timeout != after.connect_timeout) out.push_back(site + ".connect_timeout_ms");
  if (before.max_in_flight != after.max_in_flight) out.push_back(site + ".max_in_flight");
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
  if (before.multi_read != after.multi_read) out.push_back(site + ".multi_read");
  if (before.persistent_watches != after.persistent_watches) out.push_back(site + ".persistent_watches");
  if (before.max_packet_bytes != after.max_packet_bytes) out.push_back(site + ".max_packet_bytes");
  return out;
}

}  // namespace

Daemon::Daemon(reconcile::Engine engine, DaemonOptions options)
    : engine_(std::move(engine)),
      options_(std::move(options)),
      state_path_(engine_.config.state_path),
      metrics_(registry_),
      board_(engine_.read_site, engine_.write_site),
      backup_fence_path_(state::StatePaths(engine_.config.state_path).fence) {}

void Daemon::publish() {
  if (replicator_) {
    rs_.unreadable_nodes = replicator_->unreadableNodes();
    rs_.first_unreadable = replicator_->firstUnreadable();
    rs_.reverifying = replicator_->reverifying();
    rs_.reverify_nodes = replicator_->reverifyNodes();
    rs_.watch_mode = std::string(watchModeName(replicator_->mode()));
  }
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

// ---- sites ----

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

void Daemon::openSites(const zk::ConnectOptions& read_options, const zk::ConnectOptions& write_options) {
  auto read_client = zk::makeClient(read_options);
  if (read_options.backend == zk::Backend::kLibzookeeper) {
    auto ledger = std::make_unique<WatchLedger>(std::move(read_client), chrootOf(read_options.connect));
    read_ledger_ = ledger.get();
    read_client = std::move(ledger);
  }
  read_client->setWatchListener([this, alive = alive_](const zk::WatchEvent& e) {
    loop_.post([this, alive, e] {
      if (!*alive || e.generation != read().generation()) return;
      if (options_.reverse && e.path == backup_fence_path_) {
        // The backup's fence moved (failover, resume): is failback still on?
        armBackupFenceWatch();
        checkReverseRole([](bool) {});
        return;
      }
      if (replicator_) replicator_->onPrimaryEvent(e);
    });
  });
  read_site_ = std::make_unique<SiteSession>(
      loop_, engine_.read_site, read_options, std::move(read_client),
      SiteCallbacks{
          .on_new_session = [this] { onReadNewSession(); },
          .on_resumed =
              [this] {
                // Asked before the replicator hears of the connection, so
                // that it merges with a full reconcile still waiting for it.
                if (replicator_) replicator_->primaryReconnected();
                setRead(true);
              },
          .on_disconnected = [this] { setRead(false); },
          .on_expired = [this] { setRead(false); },
          .renew_on_disconnect = [this] { return renewReadSession(); },
      });

  auto write_client = zk::makeClient(write_options);
  write_client->setWatchListener([this](const zk::WatchEvent& e) {
    // The election wants its events on the completion thread; it posts its
    // own callbacks.
    if (!election_started_) return;
    if (auto election = currentElection()) election->handleWatch(e);
  });
  write_site_ = std::make_unique<SiteSession>(
      loop_, engine_.write_site, write_options, std::move(write_client),
      SiteCallbacks{
          .on_event =
              [this](const zk::SessionEvent& e) {
                if (auto election = currentElection()) election->handleSession(e);
              },
          .on_new_session = [this] { onWriteNewSession(); },
          .on_resumed =
              [this] {
                setWrite(true);
                // Writes in flight at the disconnect had unknown outcomes.
                if (replicator_) replicator_->requestFullReconcile("backup", true);
              },
          .on_disconnected = [this] { setWrite(false); },
          .on_expired =
              [this] {
                spdlog::warn("{} session expired: leadership lost; reconnecting", engine_.write_site);
                setWrite(false);
              },
      });
}

void Daemon::onReadNewSession() {
  // A new session holds no watches: read everything again, fetching data
  // only where the index says a node moved (recursive mode: after the
  // watch is added again). Asked before the replicator hears of the
  // connection, so that it merges with a full reconcile still waiting for
  // it (a new leader's) rather than following it.
  if (replicator_) {
    replicator_->primaryGap();
    replicator_->requestFullReconcile("session", true);
  }
  setRead(true);
  if (options_.reverse) armBackupFenceWatch();
}

void Daemon::onWriteNewSession() {
  setWrite(true);
  onWriteConnected();
}

bool Daemon::renewReadSession() {
  if (!read_ledger_ || (replicator_ && replicator_->mode() == WatchMode::kRecursive)) return false;
  const auto size = read_ledger_->setWatchesSize();
  if (size.bytes() <= kSetWatchesLimit) return false;
  spdlog::warn("{} connection lost with {} watches ({} KiB in the SetWatches request the C client would send, over "
               "the server's 1 MiB limit, ZOOKEEPER-706): opening a new session and re-reading instead",
               engine_.read_site, size.paths, size.bytes() / 1024);
  return true;
}

// ---- leadership ----

void Daemon::joinElection() {
  if (shutting_down_ || exit_code_ || joining_) return;
  joining_ = true;
  worker_.run([this, alive = alive_, client = &write(), state_path = state_path_] {
    auto s = state::ensureLayout(*client, state_path);
    loop_.post([this, alive, s, state_path] {
      if (!*alive) return;
      joining_ = false;
      if (!s) {
        spdlog::warn("preparing {}: {}; retrying", state_path, s.error().describe());
        loop_.postAfter(kRetry, [this, alive = alive_] {
          if (*alive && rs_.write_connected) joinElection();
        });
        return;
      }
      startElection();
    });
  });
}

void Daemon::startElection() {
  if (shutting_down_ || exit_code_) return;
  const uint64_t generation = ++election_generation_;
  auto election = std::make_shared<state::LeaderElection>(
      write(), state_path_, identity_,
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
    if (!*alive) return;
    election_started_ = false;
    if (rs_.write_connected) joinElection();  // else onWriteConnected joins once connected
  });
}

std::shared_ptr<state::LeaderElection> Daemon::currentElection() {
  std::lock_guard lock(election_mutex_);
  return election_;
}

void Daemon::onElected() {
  if (shutting_down_ || replicator_ || exit_code_ || taking_fence_) return;
  rs_.election_ok = true;
  election_failures_ = 0;
  taking_fence_ = true;
  const uint64_t generation = election_generation_;
  // A reverse writer fences on the rebuilt primary, and only while the
  // backup (read) is active: the role is read before and after.
  worker_.run([this, alive = alive_, generation, reverse = options_.reverse, w = &write(), r = &read(),
               state_path = state_path_, identity = identity_] {
    auto token = reverse ? state::acquireReverseFence(*w, *r, state_path, identity)
                         : state::acquireFence(*w, state_path, identity, state::FenceMode::kForward);
    loop_.post([this, alive, token = std::move(token), generation]() mutable {
      if (*alive) onFenceTaken(std::move(token), generation);
    });
  });
}

void Daemon::onFenceTaken(Result<state::FenceToken> token, uint64_t generation) {
  taking_fence_ = false;
  if (shutting_down_ || replicator_ || exit_code_ || generation != election_generation_) return;
  if (auto election = currentElection(); !election || !election->isLeader()) return;
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
    loop_.postAfter(delay, [this, alive = alive_, generation] {
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
  const auto mode = read().capabilities().persistent_watches ? WatchMode::kRecursive : WatchMode::kPerNode;
  ReplicatorHooks hooks{
      .on_fenced = [this] { onFenced(); },
      .on_full_reconcile_done =
          [this](const reconcile::ReconcileReport& report, const std::string&) { onFullReconcileDone(report); },
  };
  if (read_ledger_) hooks.watch_count = [ledger = read_ledger_] { return ledger->setWatchesSize().paths; };
  replicator_ = std::make_unique<Replicator>(loop_, read(), write(), engine_,
                                             std::vector<zk::Op>{state::fenceCheckOp(*token)}, metrics_, index_,
                                             std::move(hooks), mode);
  replicator_->setConnected(rs_.read_connected, rs_.write_connected);
  // Start from the counters an earlier leader saved: this one saves its
  // whole map, which must never hold less than what is stored.
  keeper_.reset();
  if (!options_.reverse) {
    keeper_ = std::make_shared<CounterKeeper>(write(), state_path_);
    loadSavedCounters();
  }
  publish();
  replicator_->requestFullReconcile("leader", false);
}

void Daemon::onLost() {
  if (!replicator_) return;
  spdlog::warn("leadership lost: stopped writing");
  replicator_->stop();
  replicator_.reset();
  fence_.reset();
  keeper_.reset();
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
  fence_.reset();
  worker_.run([this, alive = alive_, reverse = options_.reverse, w = &write(), r = &read(), state_path = state_path_] {
    if (reverse) {
      // `resume` moves the fences: a standby backup means failback is over.
      if (auto role = state::readState(*r, state_path); role && role->state.role == state::Role::kStandby) {
        loop_.post([this, alive] {
          if (*alive) {
            exitWith(kExitRoleStandby, "run --reverse: the backup site's role returned to standby (`resume`): "
                                       "failback is over; stopped writing; exiting 4");
          }
        });
        return;
      }
    }
    auto loss = state::explainFenceLoss(*w, state_path);
    const bool failed_over = !reverse && loss && *loss == state::FenceLoss::kFailedOver;
    loop_.post([this, alive, failed_over] {
      if (!*alive) return;
      if (failed_over) {
        exitWith(kExitFenced, "the backup site was failed over: stopped writing; exiting 3");
      } else {
        exitWith(kExitDeposed, "another writer took the fence: stopped writing; exiting so the supervisor restarts us");
      }
    });
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
    for (auto& k : restartOnlyChanges(read_site_->options(), *read_options, engine_.read_site)) {
      restart_only.push_back(k);
    }
  }
  if (write_options) {
    for (auto& k : restartOnlyChanges(write_site_->options(), *write_options, engine_.write_site)) {
      restart_only.push_back(k);
    }
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
  if (replicator_) replicator_->stop();
  if (!rs_.write_connected) {
    // Nothing in flight can land: stop now.
    exitWith(kExitOk, "stopped");
    return;
  }
  spdlog::info("stopping: draining writes in flight");
  // Completions keep arriving on the loop while it drains; poll there.
  const auto deadline = EventLoop::Clock::now() + kDrainBudget;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, deadline, weak = std::weak_ptr<std::function<void()>>(poll)] {
    const bool drained = !replicator_ || replicator_->drained();
    if (drained || !rs_.write_connected || EventLoop::Clock::now() >= deadline) {
      if (!drained) spdlog::warn("stopping with writes still in flight");
      exitWith(kExitOk, "stopped");
      return;
    }
    if (auto self = weak.lock()) loop_.postAfter(std::chrono::milliseconds(10), [self] { (*self)(); });
  };
  poll_holder_ = poll;
  (*poll)();
}

sigset_t daemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

int Daemon::run() {
  // Signals are taken by one thread with sigwait and posted to the loop;
  // every other thread (clients, HTTP, the state worker) inherits the mask
  // blocked by runDaemon() before any of them started.
  const sigset_t signals = daemonSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> signals_done{false};
  std::thread signal_thread([this, signals, &signals_done] {
    while (!signals_done) {
      timespec wait{0, 100 * 1000 * 1000};
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
    openSites(*read_options, *write_options);

    spdlog::info("zkstandby run: {} -> {} ({} roots), state at {}", engine_.read_site, engine_.write_site,
                 engine_.options.roots.size(), c.state_path);
    publish();
    write_site_->connect();
    read_site_->connect();
    scheduleAudit();
    scheduleStateUpdate();
    scheduleCounterSave();
    loop_.runUntil([] { return false; });
    code = exit_code_.value_or(kExitOk);
  }

  // Teardown in reverse order of creation. Closing the sessions cuts
  // connects in progress and answers the state worker's pending requests,
  // so nothing below waits on a site that does not answer.
  const auto teardown_started = std::chrono::steady_clock::now();
  *alive_ = false;
  if (auto election = currentElection()) election->stop();
  replicator_.reset();
  if (read_site_) read_site_->close();
  if (write_site_) write_site_->close();
  worker_.stop();
  if (http_) http_->stop();
  signals_done = true;
  signal_thread.join();
  {
    std::lock_guard lock(election_mutex_);
    election_.reset();
  }
  spdlog::debug("teardown took {:.3f} s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - teardown_started).count());
  return code;
}

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
  // Before the Daemon starts any thread (its state worker): they all
  // inherit this mask, and only the signal thread takes the signals.
  const sigset_t signals = daemonSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Daemon daemon(std::move(*engine), options);
  return daemon.run();
}

}  // namespace zks::daemon
