// High availability and fencing of `zkstandby run` (SPEC section 5): two
// daemons on one backup (the leader killed; the leader frozen past its
// session timeout and then thawed), and a failover while the daemon runs
// under load. Writes are attributed through zxids read by kazoo: a node's
// mzxid orders its last write against the fence node's last change.

#include <signal.h>

#include "daemon_harness.h"
#include "support/wait.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;

bool waitLeader(const DaemonProcess& d, bool leader, std::chrono::milliseconds timeout) {
  return waitFor([&] { return d.isLeader() == std::optional<bool>(leader); }, timeout, 100ms);
}

long long maxMzxid(const Tree& tree) {
  long long m = 0;
  for (const auto& [path, node] : tree) m = std::max(m, node.mzxid);
  return m;
}

class DaemonHaTest : public DaemonTest {
 protected:
  // Leader a, follower b, both ready, backup converged.
  void startPair() {
    seedZms();
    Storm s(*p_, 70, "/zms/storm/base", shape_);
    s.prepare();
    s.run(200);
    a_ = &startReadyDaemon("a", baseConfig());
    ASSERT_TRUE(waitLeader(*a_, true, 10s)) << "the first daemon does not lead; /metrics:\n" << a_->get("/metrics").body;
    b_ = &startReadyDaemon("b", baseConfig());
    ASSERT_TRUE(waitLeader(*b_, false, 10s)) << "the second daemon does not follow";
    EXPECT_TRUE(a_->isLeader().value_or(false)) << "the leader changed when a follower joined";
    expectConverges(30s);
  }

  DaemonProcess* a_ = nullptr;
  DaemonProcess* b_ = nullptr;
};

TEST_P(DaemonHaTest, TheFollowerTakesOverWhenTheLeaderIsKilled) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  long long killed_at = 0;  // a primary zxid after the leader died
  {
    BackgroundStorm load(primary_->connectString(), 71, "/zms/storm/a", shape_, 400);
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    a_->kill9();
    auto marker = zk::createSync(*p_, {.path = "/zms/after-kill", .data = "1"});
    ASSERT_EQ(marker.code, zk::Code::kOk);
    killed_at = zk::existsSync(*p_, "/zms/after-kill").stat.czxid;
    ASSERT_GT(killed_at, 0);
    ASSERT_TRUE(load.waitMoreOps(400, 10s));
    // a's election node lives until its session times out (4 s).
    ASSERT_TRUE(waitLeader(*b_, true, 20s)) << "the follower did not take over";
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
  }
  EXPECT_TRUE(b_->waitReady(10s)) << b_->get("/readyz").body;
  const auto primary = dumpPrimary();
  const auto diffs = waitBackupMatches(primary, 30s);
  ASSERT_TRUE(diffs.empty()) << describe(diffs);

  // Everything the primary wrote after the kill reached the backup through
  // the new leader, after it moved the fence.
  const long long fence = fenceMzxid();
  ASSERT_GT(fence, 0) << "no fence node";
  const auto backup = dumpBackup();
  size_t checked = 0;
  for (const auto& [path, node] : primary) {
    if (node.mzxid <= killed_at || node.ephemeral_owner != 0 || excludedPath(path)) continue;
    const auto& copy = backup.at(expectedPath(path));
    EXPECT_GT(copy.mzxid, fence) << path << " was written on the backup before the new leader took the fence";
    ++checked;
  }
  EXPECT_GT(checked, 10u);
}

TEST_P(DaemonHaTest, AFrozenLeaderThawedAfterTheTakeoverLandsNoWrite) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  {
    BackgroundStorm load(primary_->connectString(), 81, "/zms/storm/a", shape_, 400);
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    a_->signal(SIGSTOP);  // frozen with work in flight; its sessions expire
    ASSERT_TRUE(load.waitMoreOps(200, 10s));
    ASSERT_TRUE(waitLeader(*b_, true, 25s)) << "the follower did not take over from the frozen leader";
    ASSERT_TRUE(load.waitMoreOps(200, 10s));
  }
  {
    const auto primary = dumpPrimary();
    const auto diffs = waitBackupMatches(primary, 30s);
    ASSERT_TRUE(diffs.empty()) << describe(diffs);
  }
  const long long settled = maxMzxid(dumpBackup());
  const long long fence = fenceMzxid();
  ASSERT_GT(fence, 0);

  // Thawed, the old leader finds its sessions gone. It must not land a
  // single write: it exits non-zero or comes back as a follower.
  a_->signal(SIGCONT);
  ASSERT_TRUE(waitFor(
      [&] { return !a_->running() || (a_->isLeader() == std::optional<bool>(false) && a_->get("/readyz").status == 200); },
      30s, 100ms))
      << "the thawed leader neither exited nor became a ready follower; leader="
      << (a_->isLeader() ? std::to_string(*a_->isLeader()) : "?") << " /readyz: " << a_->get("/readyz").body;
  if (!a_->running()) {
    EXPECT_NE(a_->lastExit(), std::optional<int>(0)) << "a deposed leader exits non-zero";
  }
  // One more primary change, replicated by the new leader: the old one had
  // every chance to land its stale batches before this converges.
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/after-thaw", .data = "1"}).code, zk::Code::kOk);
  expectConverges(20s);
  for (const auto& [path, node] : dumpBackup()) {
    if (path == "/zms/after-thaw") {
      EXPECT_GT(node.mzxid, fence);
      continue;
    }
    EXPECT_LE(node.mzxid, settled) << path << " was written after the frozen leader was thawed";
  }
  EXPECT_TRUE(b_->isLeader().value_or(false)) << "the new leader lost its role to the thawed one";
  if (a_->running()) {
    EXPECT_FALSE(a_->isLeader().value_or(true));
  }
}

TEST_P(DaemonTest, AFailoverUnderLoadStopsTheDaemonWithExitThreeAndNothingLandsAfterIt) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  expectConverges(30s);
  {
    BackgroundStorm load(primary_->connectString(), 91, "/zms/storm/a", shape_, 400);
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    auto failover = zkstandby({"failover", "-c", d.configFile().string(), "--yes", "--reason", "fault test"}, 30s);
    ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
    const auto code = d.waitExit(10s);
    ASSERT_TRUE(code.has_value()) << "the daemon still runs 10 s after the failover";
    EXPECT_EQ(*code, 3);
    ASSERT_TRUE(load.waitMoreOps(200, 10s));  // the primary goes on; none of it may reach the backup
  }
  const long long fence = fenceMzxid();
  ASSERT_GT(fence, 0);
  for (const auto& [path, node] : dumpBackup()) {
    EXPECT_LT(node.mzxid, fence) << path << " was written on the backup after the failover";
  }
  auto again = zkstandby({"run", "-c", d.configFile().string()}, 20s);
  EXPECT_EQ(again.exit_code, 3) << again.out << again.err;
}

ZKS_DAEMON_TEST_MODES(DaemonTest);
ZKS_DAEMON_TEST_MODES(DaemonHaTest);

}  // namespace
}  // namespace zks::testing
