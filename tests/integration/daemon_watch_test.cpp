// How `zkstandby run` watches the primary (issue 11), on real servers:
//  - recursive mode: one watch per root on the server (4lw wchs), never a
//    one-shot watch; after a connection reset new writes replicate at once
//    and a re-verification finds what changed while the connection was down;
//  - every mode: a node the replicator may not read is reported (/readyz,
//    metric); a stop during a site outage takes less than 5 s; a random
//    storm with full passes running beside it never moves a backup value
//    back, and ends as map(primary) (kazoo);
//  - libzookeeper: a reconnect whose SetWatches request would pass the
//    server's 1 MiB (ZOOKEEPER-706) in the band where the old budget saw room.

#include <signal.h>

#include <cstdio>
#include <mutex>

#include "daemon_harness.h"
#include "support/digest.h"
#include "support/wait.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- every mode ----

// Debian's 3.8.0-11+deb12u2 sends no events for nodes the session cannot
// READ (CVE-2024-23944): such a node must be reported, not skipped in silence.
TEST_P(DaemonTest, ANodeTheReplicatorCannotReadIsReportedOnReadyzAndInTheMetrics) {
  seedZms();
  // The oracle (kazoo, no credentials) cannot read the private node either:
  // dump the tree before it exists.
  const auto primary = dumpPrimary();
  const zk::AclList secret{{zk::perm::kAll, "digest", digestAclId("other:secret")}};
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/private", .data = "x", .acl = secret}).code, zk::Code::kOk);
  auto& d = startReadyDaemon("d1", baseConfig());
  EXPECT_TRUE(waitFor([&] { return d.metric("zkstandby_unreadable_nodes").value_or(0) == 1; }, 20s, 200ms))
      << d.get("/metrics").body;
  const auto ready = d.get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("1 unreadable on the primary"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("/zms/private"), std::string::npos) << ready.body;
  EXPECT_NE(d.logTail(200).find("/zms/private"), std::string::npos);
  // Everything else is replicated.
  EXPECT_TRUE(waitBackupMatches(primary, 20s).empty());
}

// SIGTERM while a site does not answer: the daemon must stop within 5 s
// (systemd's stop timeout), not wait out connect_timeout_ms (15 s here).
TEST_P(DaemonTest, SigtermWhileThePrimaryIsUnreachableStopsWithinFiveSeconds) {
  auto config = baseConfig();
  config.primary_connect = "127.0.0.1:" + std::to_string(freeLoopbackPort());  // nobody listens
  config.connect_timeout_ms = 15000;
  auto& d = addDaemon("d1", config);
  ASSERT_TRUE(d.start());
  // Up (HTTP answers) and trying to reach the primary.
  ASSERT_TRUE(waitFor([&] { return d.get("/healthz").status == 200; }, 20s, 100ms)) << d.logTail();
  ASSERT_TRUE(waitFor([&] { return d.logTail().find("primary") != std::string::npos; }, 10s, 100ms));
  std::this_thread::sleep_for(1s);  // well inside a 15 s connect attempt
  const auto sent = Clock::now();
  d.signal(SIGTERM);
  const auto code = d.waitExit(10s);
  const double took = std::chrono::duration<double>(Clock::now() - sent).count();
  ASSERT_TRUE(code) << "still running 10 s after SIGTERM\n" << d.logTail();
  EXPECT_EQ(*code, 0) << d.logTail();
  EXPECT_LT(took, 5.0) << d.logTail();
}

TEST_P(DaemonTest, SigtermWhileTheBackupIsPartitionedStopsWithinFiveSeconds) {
  seedZms();
  auto proxy = TcpProxy::start(backup_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.backup_connect = (*proxy)->connectString();
  config.session_timeout_ms = 30000;  // the partition does not end the session
  config.connect_timeout_ms = 15000;
  auto& d = startReadyDaemon("d1", config);
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  // Writes keep coming: the daemon has work in flight toward the backup.
  for (int i = 0; i < 50; ++i) zk::createSync(*p_, {.path = "/zms/during-partition-" + std::to_string(i)});
  std::this_thread::sleep_for(2s);
  const auto sent = Clock::now();
  d.signal(SIGTERM);
  const auto code = d.waitExit(10s);
  const double took = std::chrono::duration<double>(Clock::now() - sent).count();
  ASSERT_TRUE(code) << "still running 10 s after SIGTERM\n" << d.logTail();
  EXPECT_EQ(*code, 0) << d.logTail();
  EXPECT_LT(took, 5.0) << d.logTail();
}

// A random storm with full passes beside it (an audit every second): the
// backup, watched by its own observer, never shows a node going back to an
// older value, and ends as map(primary) read through kazoo.
TEST_P(DaemonTest, ARandomStormWithAuditsNeverMovesABackupValueBack) {
  seedZms();
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/mono"), zk::Code::kOk);
  constexpr int kNodes = 40;
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/mono/n" + std::to_string(i), .data = "seq=0"}).code, zk::Code::kOk);
  }
  auto config = baseConfig();
  config.audit_interval_s = 1;
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);

  // The observer: a session on the backup with a recursive watch on
  // /zms/mono reads each node after each event; on one session the reads
  // come back in the order the backup applied the writes.
  auto observer = connect(backup_->connectString());
  ASSERT_TRUE(observer);
  ASSERT_TRUE(observer->capabilities().persistent_watches);
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, long long>> last;  // path -> (czxid, seq)
  std::vector<std::string> violations;
  std::atomic<size_t> observed{0};
  auto seqOf = [](const std::string& data) { return data.starts_with("seq=") ? std::stoll(data.substr(4)) : -1LL; };
  auto look = [&](const std::string& path) {
    observer->get(path, false, [&, path](zk::GetResult r) {
      if (r.code != zk::Code::kOk) return;
      std::lock_guard lock(mu);
      ++observed;
      const long long seq = seqOf(r.data);
      auto& [czxid, prev] = last[path];
      if (czxid == r.stat.czxid && seq < prev) {
        violations.push_back(path + ": " + std::to_string(prev) + " then " + std::to_string(seq));
      }
      if (czxid != r.stat.czxid || seq > prev) {
        czxid = r.stat.czxid;
        prev = seq;
      }
    });
  };
  observer->setWatchListener([&](const zk::WatchEvent& e) {
    if (e.type == zk::EventType::kDataChanged || e.type == zk::EventType::kCreated) look(e.path);
  });
  ASSERT_EQ(zk::await<zk::VoidResult>([&](auto cb) {
              observer->addWatch("/zms/mono", zk::AddWatchMode::kPersistentRecursive, cb);
            }).code,
            zk::Code::kOk);

  {
    BackgroundStorm noise(primary_->connectString(), 91, "/zms/storm/a", shape_, 300);
    // Values rise on every write; now and then a node is deleted and
    // created again (a new czxid starts its own sequence).
    std::mt19937_64 rng(7);
    long long seq = 0;
    const auto until = Clock::now() + 12s;
    while (Clock::now() < until) {
      const std::string node = "/zms/mono/n" + std::to_string(rng() % kNodes);
      if (rng() % 50 == 0) {
        zk::removeSync(*p_, {.path = node});
        zk::createSync(*p_, {.path = node, .data = "seq=" + std::to_string(++seq)});
      } else {
        zk::setSync(*p_, {.path = node, .data = "seq=" + std::to_string(++seq)});
      }
      std::this_thread::sleep_for(2ms);
    }
  }
  expectConverges(40s);
  EXPECT_TRUE(d.running());
  EXPECT_GT(d.metric("zkstandby_reconciles_total", {{"reason", "audit"}}).value_or(0), 2)
      << "audits ran beside the storm";
  observer->close();
  std::lock_guard lock(mu);
  EXPECT_GT(observed.load(), 100u);
  EXPECT_TRUE(violations.empty()) << violations.size() << " values went back on the backup, e.g. "
                                  << (violations.empty() ? "" : violations.front());
}

ZKS_DAEMON_TEST_MODES(DaemonTest);

// ---- recursive mode ----

class DaemonRecursiveTest : public DaemonTest {};

// One persistent recursive watch per root on the server, whatever happens
// on the primary; no read sets a one-shot watch (ZOOKEEPER-4466 would drop
// the recursive one silently).
TEST_P(DaemonRecursiveTest, ThePrimaryHoldsOneWatchPerRootAndNoOther) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  expectConverges(30s);
  EXPECT_EQ(watchedPaths(*primary_), 1) << primary_->fourLetterWord("wchs").value_or("");
  EXPECT_EQ(d.metric("zkstandby_watches"), 1);
  EXPECT_EQ(d.metric("zkstandby_watch_mode", {{"mode", "recursive"}}), 1);
  Storm storm(*p_, 33, "/zms/storm/a", shape_);
  storm.prepare();
  storm.run(400);
  expectConverges(30s);
  const auto wchs = primary_->fourLetterWord("wchs").value_or("");
  EXPECT_EQ(watchedPaths(*primary_), 1) << wchs;
  EXPECT_NE(wchs.find("Total watches:1"), std::string::npos) << wchs;
  EXPECT_GT(d.metric("zkstandby_watch_events_total", {{"type", "created"}}).value_or(0), 0);
  EXPECT_EQ(d.metric("zkstandby_watch_events_total", {{"type", "children"}}).value_or(0), 0);
}

// A connection reset (the session lives on): writes after it replicate at
// once (the client re-added the watch), and the re-verification finds the
// writes made while the connection was down (the server replays none).
TEST_P(DaemonRecursiveTest, AfterAConnectionResetNewWritesReplicateAndTheReVerificationFindsTheRest) {
  seedZms();
  auto proxy = TcpProxy::start(primary_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.primary_connect = (*proxy)->connectString();
  config.session_timeout_ms = 10000;
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);
  const double reverified = d.metric("zkstandby_reverify_nodes_total").value_or(0);

  // Down (shorter than the session timeout), with writes meanwhile.
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  ASSERT_EQ(zk::setSync(*p_, {.path = "/zms/topic/topic_0000001", .data = "changed-while-down"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/created-while-down", .data = "x"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::removeSync(*p_, {.path = "/zms/topic/topic_0000002"}).code, zk::Code::kOk);
  std::this_thread::sleep_for(1500ms);
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(waitFor([&] { return (*proxy)->connections() == 0; }, 5s, 10ms));
  (*proxy)->setMode(TcpProxy::Mode::kPass);

  ASSERT_TRUE(waitFor([&] { return d.metric("zkstandby_session_connected", {{"site", "primary"}}) == 1; }, 10s, 20ms));
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/after-reset", .data = "new"}).code, zk::Code::kOk);
  auto onBackup = [&](const std::string& path) {
    auto t = dumpBackup(path);
    return t.count(path) > 0;
  };
  EXPECT_TRUE(waitFor([&] { return onBackup("/zms/after-reset"); }, 5s, 20ms)) << "a write after the reset waited";
  expectConverges(30s);
  EXPECT_TRUE(waitFor([&] { return d.metric("zkstandby_reverify_nodes_total").value_or(0) > reverified; }, 20s, 100ms));
  EXPECT_TRUE(waitFor([&] { return d.metric("zkstandby_reverify_running") == 0; }, 30s, 100ms));
  EXPECT_EQ(watchedPaths(*primary_), 1) << primary_->fourLetterWord("wchs").value_or("");
  EXPECT_EQ(d.metric("zkstandby_reconciles_total", {{"reason", "reconnect"}}).value_or(0), 1);
}

INSTANTIATE_TEST_SUITE_P(Recursive, DaemonRecursiveTest, ::testing::Values(DaemonMode::kRecursive),
                         daemonModeParamName);

// ---- libzookeeper ----

class DaemonLibzookeeperTest : public DaemonTest {};

// ZOOKEEPER-706 in the band issue 11 found: 24,000 nodes with 20-byte paths
// hold 480 KB of paths (the old budget, 512 KiB of indexed paths, saw room),
// but the C client's SetWatches request carries a data and a child watch
// per node with a 4-byte length each: 1.15 MB, over the server's 1 MiB. The
// old daemon let the C client reconnect forever; now the reconnect opens a
// new session and re-reads.
TEST_P(DaemonLibzookeeperTest, AReconnectInTheBandWhereTheOldBudgetSawRoomRecovers) {
  constexpr int kGroups = 24, kPerGroup = 1000;
  auto nodePath = [](int g, int i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "/zms/band/g%02d/n%05d", g, i);
    return std::string(buf);
  };
  ASSERT_EQ(nodePath(0, 0).size(), 20u);
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/band"), zk::Code::kOk);
  for (int g = 0; g < kGroups; ++g) {
    char group[32];
    std::snprintf(group, sizeof group, "/zms/band/g%02d", g);
    ASSERT_EQ(zk::createSync(*p_, {.path = group}).code, zk::Code::kOk);
    for (int first = 0; first < kPerGroup; first += 500) {
      std::vector<zk::Op> batch;
      for (int i = first; i < first + 500; ++i) batch.push_back(zk::CreateOp{.path = nodePath(g, i), .data = "v"});
      ASSERT_EQ(zk::multiSync(*p_, std::move(batch)).code, zk::Code::kOk);
    }
  }
  auto proxy = TcpProxy::start(primary_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.primary_connect = (*proxy)->connectString();
  auto& d = startReadyDaemon("d1", config, 90s);
  ASSERT_TRUE(waitFor([&] { return watchedPaths(*primary_).value_or(0) >= kGroups * kPerGroup; }, 60s, 200ms))
      << primary_->fourLetterWord("wchs").value_or("");
  EXPECT_GE(d.metric("zkstandby_watches").value_or(0), 2.0 * kGroups * kPerGroup) << "a data and a child watch each";

  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(waitFor([&] { return (*proxy)->connections() == 0; }, 5s, 10ms));
  (*proxy)->setMode(TcpProxy::Mode::kPass);

  ASSERT_EQ(zk::setSync(*p_, {.path = nodePath(12, 345), .data = "after-reset"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/band/g20/new", .data = "new"}).code, zk::Code::kOk);
  auto backupData = [&](const std::string& path) {
    auto t = dumpBackup(path);
    auto it = t.find(path);
    return it == t.end() ? std::string("<absent>") : it->second.data;
  };
  EXPECT_TRUE(waitFor(
      [&] { return backupData(nodePath(12, 345)) == "after-reset" && backupData("/zms/band/g20/new") == "new"; }, 60s,
      250ms))
      << "after the reset: " << backupData(nodePath(12, 345)) << " / " << backupData("/zms/band/g20/new")
      << "; proxy accepted " << (*proxy)->accepted() << " connections";
  EXPECT_NE(d.logTail(300).find("ZOOKEEPER-706"), std::string::npos) << "a new session was opened for it";
  EXPECT_LT((*proxy)->accepted(), 20u) << "the C client kept reconnecting";
}

INSTANTIATE_TEST_SUITE_P(Libzookeeper, DaemonLibzookeeperTest, ::testing::Values(DaemonMode::kLibzookeeper),
                         daemonModeParamName);

}  // namespace
}  // namespace zks::testing
