// `zkstandby run` under faults (SPEC section 7): partitions longer than the
// session timeout toward either site (through TcpProxy), kill -9 of the
// backup ZooKeeper and of the daemon mid-burst, and a connection reset with
// more than 1 MiB of watched paths (ZOOKEEPER-706). After each, the backup
// must converge to map(primary), read through kazoo.

#include <cstdio>

#include "daemon_harness.h"
#include "support/wait.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;

// Waits until `server` lists none of `sessions` any more: it expired them.
bool waitSessionsGone(const ZkServer& server, const std::set<int64_t>& sessions, std::chrono::milliseconds timeout) {
  return waitFor(
      [&] {
        const auto now = serverSessions(server);
        for (auto sid : sessions) {
          if (now.count(sid)) return false;
        }
        return true;
      },
      timeout, 100ms);
}

TEST_P(DaemonTest, APrimaryPartitionLongerThanTheSessionTimeoutConverges) {
  seedZms();
  Storm storm(*p_, 41, "/zms/storm/a", shape_);
  storm.prepare();
  storm.run(300);
  auto proxy = TcpProxy::start(primary_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.primary_connect = (*proxy)->connectString();
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);

  auto daemon_sessions = serverSessions(*primary_);
  daemon_sessions.erase(p_->sessionId());
  ASSERT_FALSE(daemon_sessions.empty()) << primary_->fourLetterWord("cons").value_or("");

  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  storm.run(300);
  // The partition lasts until the primary expired the daemon's session(s) (4 s).
  ASSERT_TRUE(waitSessionsGone(*primary_, daemon_sessions, 20s)) << primary_->fourLetterWord("cons").value_or("");
  EXPECT_TRUE(waitFor([&] { return d.get("/readyz").status == 503; }, 10s, 100ms))
      << "/readyz while the primary is unreachable: " << d.get("/readyz").status << " " << d.get("/readyz").body;
  storm.run(300);
  (*proxy)->setMode(TcpProxy::Mode::kPass);

  expectConverges(30s);
  EXPECT_TRUE(d.waitReady(10s)) << d.get("/readyz").body;
  // A new session: the recursive watch was added again (and only it).
  if (recursive()) {
    EXPECT_TRUE(waitFor([&] { return watchedPaths(*primary_) == 1; }, 10s, 100ms))
        << primary_->fourLetterWord("wchs").value_or("");
  }
}

TEST_P(DaemonTest, ABackupPartitionLongerThanTheSessionTimeoutConverges) {
  seedZms();
  Storm storm(*p_, 42, "/zms/storm/a", shape_);
  storm.prepare();
  storm.run(300);
  auto proxy = TcpProxy::start(backup_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.backup_connect = (*proxy)->connectString();
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);

  const auto daemon_sessions = serverSessions(*backup_);
  ASSERT_FALSE(daemon_sessions.empty()) << backup_->fourLetterWord("cons").value_or("");

  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  storm.run(300);
  ASSERT_TRUE(waitSessionsGone(*backup_, daemon_sessions, 20s)) << backup_->fourLetterWord("cons").value_or("");
  EXPECT_TRUE(waitFor([&] { return d.get("/readyz").status == 503; }, 10s, 100ms))
      << "/readyz while the backup is unreachable: " << d.get("/readyz").status << " " << d.get("/readyz").body;
  storm.run(300);
  (*proxy)->setMode(TcpProxy::Mode::kPass);

  expectConverges(30s);
  EXPECT_TRUE(d.waitReady(10s)) << d.get("/readyz").body;
}

TEST_P(DaemonTest, KillingTheBackupZooKeeperMidBurstLosesNothing) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  expectConverges(30s);
  {
    BackgroundStorm load(primary_->connectString(), 51, "/zms/storm/a", shape_, 500);
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    backup_->kill9();
    ASSERT_TRUE(load.waitMoreOps(800, 10s));  // about 1.5 s of writes while the backup is down
    ASSERT_TRUE(backup_->start()) << "backup did not restart";
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
  }
  expectConverges(40s);
  EXPECT_TRUE(d.running());
  EXPECT_TRUE(d.waitReady(10s)) << d.get("/readyz").body;
}

TEST_P(DaemonTest, KillingTheDaemonMidBurstAndRestartingItConverges) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  expectConverges(30s);
  {
    BackgroundStorm load(primary_->connectString(), 61, "/zms/storm/a", shape_, 500);
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    d.kill9();
    ASSERT_TRUE(load.waitMoreOps(400, 10s));
    ASSERT_TRUE(d.start());
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
  }
  // Its old session's election node lives until the session timeout (4 s).
  EXPECT_TRUE(d.waitReady(30s)) << d.get("/readyz").body;
  expectConverges(40s);
}

// ZOOKEEPER-706: on reconnect the C client re-sends every watched path in
// one SetWatches packet; over the server's 1 MiB jute.maxbuffer the server
// drops the connection and a naive client reconnects forever (each
// reconnect keeps the session alive, so it never expires either).
TEST_P(DaemonTest, AReconnectWithMoreThanOneMebibyteOfWatchedPathsRecovers) {
  constexpr int kGroups = 25, kPerGroup = 1000;
  const std::string kFiller = "abcdefghijklmnopqrstuvwxyz0123456789";
  auto nodePath = [&](int g, int i) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "/zms/big/g%02d/node-%05d-%s", g, i, kFiller.c_str());
    return std::string(buf);
  };
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/big"), zk::Code::kOk);
  size_t path_bytes = 0;
  for (int g = 0; g < kGroups; ++g) {
    char group[32];
    std::snprintf(group, sizeof group, "/zms/big/g%02d", g);
    ASSERT_EQ(zk::createSync(*p_, {.path = group}).code, zk::Code::kOk);
    for (int first = 0; first < kPerGroup; first += 500) {
      std::vector<zk::Op> batch;
      for (int i = first; i < first + 500 && i < kPerGroup; ++i) {
        batch.push_back(zk::CreateOp{.path = nodePath(g, i), .data = "v"});
        path_bytes += nodePath(g, i).size();
      }
      ASSERT_EQ(zk::multiSync(*p_, std::move(batch)).code, zk::Code::kOk);
    }
  }
  ASSERT_GT(path_bytes, static_cast<size_t>(1.2 * 1024 * 1024)) << "the watched paths must exceed 1.2 MiB";

  auto proxy = TcpProxy::start(primary_->port());
  ASSERT_TRUE(proxy) << proxy.error().describe();
  auto config = baseConfig();
  config.primary_connect = (*proxy)->connectString();
  auto& d = startReadyDaemon("d1", config, 90s);
  ASSERT_TRUE(d.running());
  // Per-node modes: the daemon watches the whole tree (the server's own
  // count). Recursive mode: one watch, on the root.
  auto watchesInPlace = [&] {
    const long long paths = watchedPaths(*primary_).value_or(0);
    return recursive() ? paths == 1 : paths >= kGroups * kPerGroup;
  };
  ASSERT_TRUE(waitFor(watchesInPlace, 60s, 200ms)) << primary_->fourLetterWord("wchs").value_or("");
  {
    // Converged: every group has all its children on the backup.
    auto b = connect(backup_->connectString());
    ASSERT_TRUE(b);
    for (int g = 0; g < kGroups; ++g) {
      char group[32];
      std::snprintf(group, sizeof group, "/zms/big/g%02d", g);
      EXPECT_EQ(zk::getChildrenSync(*b, group).children.size(), static_cast<size_t>(kPerGroup)) << group;
    }
  }

  // A backup read through kazoo: the node's data, or "<absent>".
  auto backupData = [&](const std::string& path) {
    auto t = dumpBackup(path);
    auto it = t.find(path);
    return it == t.end() ? std::string("<absent>") : it->second.data;
  };
  ASSERT_EQ(zk::setSync(*p_, {.path = nodePath(5, 5), .data = "before-reset"}).code, zk::Code::kOk);
  ASSERT_TRUE(waitFor([&] { return backupData(nodePath(5, 5)) == "before-reset"; }, 20s, 200ms));

  // Drop every connection between the daemon and the primary.
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(waitFor([&] { return (*proxy)->connections() == 0; }, 5s, 10ms));
  (*proxy)->setMode(TcpProxy::Mode::kPass);

  // Changes after the reset still arrive: the daemon recovered.
  ASSERT_EQ(zk::setSync(*p_, {.path = nodePath(12, 345), .data = "after-reset"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/big/g20/new-after-reset", .data = "new"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::removeSync(*p_, {.path = nodePath(3, 3)}).code, zk::Code::kOk);
  EXPECT_TRUE(waitFor(
      [&] {
        return backupData(nodePath(12, 345)) == "after-reset" && backupData("/zms/big/g20/new-after-reset") == "new" &&
               backupData(nodePath(3, 3)) == "<absent>";
      },
      45s, 250ms))
      << "after the reset: " << backupData(nodePath(12, 345)) << " / " << backupData("/zms/big/g20/new-after-reset")
      << " / " << backupData(nodePath(3, 3)) << "\nproxy accepted " << (*proxy)->accepted() << " connections";
  EXPECT_TRUE(d.running());
  // And it watches the tree again, so later changes arrive too.
  EXPECT_TRUE(waitFor(watchesInPlace, 30s, 200ms)) << primary_->fourLetterWord("wchs").value_or("");
  ASSERT_EQ(zk::setSync(*p_, {.path = nodePath(24, 999), .data = "later"}).code, zk::Code::kOk);
  EXPECT_TRUE(waitFor([&] { return backupData(nodePath(24, 999)) == "later"; }, 20s, 200ms));
}

ZKS_DAEMON_TEST_MODES(DaemonTest);

}  // namespace
}  // namespace zks::testing
