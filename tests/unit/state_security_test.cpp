// Record ACLs, the final sync's fence lease, the reverse writers' interlock
// and resume's steps on the rebuilt primary, against the in-memory ZooKeeper.

#include <gtest/gtest.h>

#include <chrono>

#include "state/counters.h"
#include "state/election.h"
#include "state/failover.h"
#include "state/store.h"
#include "zk/blocking.h"
#include "support/wait.h"
#include "testdoubles/fake_client.h"

namespace zks::state {
namespace {

constexpr const char* kStatePath = "/zkstandby";
constexpr const char* kReplicator = "zks:replicator-secret";

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> recordPaths() {
  const StatePaths p(kStatePath);
  return {p.root, p.state, p.fence, p.leader, p.history, p.counters, p.lease};
}

class RecordAclTest : public ::testing::Test {
 protected:
  std::shared_ptr<zk::FakeServer> server_ = std::make_shared<zk::FakeServer>();
  zk::FakeClient replicator_{server_, zk::FakeClientOptions{.auth = {{"digest", kReplicator}}}};
  zk::FakeClient anyone_{server_};
  const StatePaths paths_{kStatePath};
};

TEST_F(RecordAclTest, AnAuthenticatedReplicatorsRecordsAreWritableOnlyByItAndReadableByAll) {
  ASSERT_TRUE(ensureLayout(replicator_, kStatePath).has_value());
  const zk::AclList expected{{zk::perm::kAll, "digest", zk::digestAclId(kReplicator)},
                             {zk::perm::kRead, "world", "anyone"}};
  for (const auto& path : recordPaths()) {
    auto node = server_->node(path);
    ASSERT_TRUE(node.has_value()) << path;
    EXPECT_EQ(node->acl, expected) << path;
  }
  // Anyone else may read the state but not fake a failover or move the fence.
  EXPECT_TRUE(readState(anyone_, kStatePath).has_value());
  EXPECT_EQ(zk::setSync(anyone_, zk::SetOp{paths_.state, R"({"role":"active","epoch":9})"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::setSync(anyone_, zk::SetOp{paths_.fence, "x"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::setSync(anyone_, zk::SetOp{paths_.counters, "{}"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(zk::createSync(anyone_, zk::CreateOp{.path = paths_.history + "/failover-"}).code, zk::Code::kNoAuth);
  auto refused = runFailover(anyone_, FailoverOptions{.state_path = kStatePath, .who = "intruder", .now_ms = 1});
  EXPECT_FALSE(refused.has_value());
  EXPECT_EQ(readState(anyone_, kStatePath)->state.role, Role::kStandby);

  // The replicator itself works as before, and what it creates later is protected too.
  auto token = acquireFence(replicator_, kStatePath, "daemon:1");
  ASSERT_TRUE(token.has_value()) << token.error().describe();
  ASSERT_TRUE(saveCounters(replicator_, kStatePath, {{"/a", 3}}, *token, 1).has_value());
  for (const auto& n : server_->nodes(paths_.counters)) EXPECT_EQ(n.acl, expected) << n.path;
  auto report = runFailover(replicator_, FailoverOptions{.state_path = kStatePath, .who = "ops", .now_ms = 1});
  ASSERT_TRUE(report.has_value()) << report.error().describe();
  EXPECT_EQ(server_->node(report->history_node)->acl, expected);
}

TEST_F(RecordAclTest, ALayoutLeftOpenIsTightenedOnceTheReplicatorHasAuth) {
  ASSERT_TRUE(ensureLayout(anyone_, kStatePath).has_value());  // an unauthenticated (or older) writer
  for (const auto& path : recordPaths()) EXPECT_EQ(server_->node(path)->acl, zk::openAcl()) << path;
  EXPECT_EQ(*recordAcl(anyone_, kStatePath), zk::openAcl());

  ASSERT_TRUE(ensureLayout(replicator_, kStatePath).has_value());
  for (const auto& path : recordPaths()) {
    EXPECT_TRUE(isProtectedAcl(server_->node(path)->acl)) << path;
  }
  EXPECT_EQ(zk::setSync(anyone_, zk::SetOp{paths_.state, "{}"}).code, zk::Code::kNoAuth);
  EXPECT_EQ(*recordAcl(replicator_, kStatePath), protectedRecordAcl());
}

TEST_F(RecordAclTest, ElectionCandidatesMayStillJoinUnderAProtectedLeaderNode) {
  ASSERT_TRUE(ensureLayout(replicator_, kStatePath).has_value());
  auto joined = zk::createSync(replicator_, zk::CreateOp{.path = paths_.leader + "/n_x_",
                                                        .mode = zk::CreateMode::kEphemeralSequential});
  EXPECT_EQ(joined.code, zk::Code::kOk);
  // Nobody else can remove a candidate (and so depose the leader).
  EXPECT_EQ(zk::removeSync(anyone_, zk::DeleteOp{joined.path}).code, zk::Code::kNoAuth);
}

TEST_F(RecordAclTest, AnAuthenticatedCandidatesNodeIsProtectedToo) {
  ASSERT_TRUE(ensureLayout(replicator_, kStatePath).has_value());
  LeaderElection election(replicator_, kStatePath, "host-a:1", {});
  replicator_.setWatchListener([&](const zk::WatchEvent& e) { election.handleWatch(e); });
  election.start();
  ASSERT_TRUE(testing::waitFor([&] { return election.isLeader(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(isProtectedAcl(server_->node(election.nodePath())->acl));
  EXPECT_EQ(zk::setSync(anyone_, zk::SetOp{election.nodePath(), "forged"}).code, zk::Code::kNoAuth);
  election.stop();
  ASSERT_TRUE(replicator_.waitIdle());
}

TEST(IsProtectedAcl, WorldMayReadAtMost) {
  EXPECT_FALSE(isProtectedAcl(zk::openAcl()));
  EXPECT_FALSE(isProtectedAcl({{zk::perm::kRead, "world", "anyone"}}));  // nobody may write: not ours either
  EXPECT_TRUE(isProtectedAcl({{zk::perm::kAll, "digest", "u:h"}, {zk::perm::kRead, "world", "anyone"}}));
  EXPECT_FALSE(isProtectedAcl({{zk::perm::kAll, "digest", "u:h"}, {zk::perm::kWrite, "world", "anyone"}}));
  EXPECT_TRUE(isProtectedAcl({{zk::perm::kAll, "x509", "CN=zks"}}));
}

class LeaseTest : public ::testing::Test {
 protected:
  std::shared_ptr<zk::FakeServer> server_ = std::make_shared<zk::FakeServer>();
  zk::FakeClient client_{server_};
};

TEST_F(LeaseTest, WhileTheFinalSyncHoldsTheLeaseNoDaemonTakesTheFenceFromIt) {
  const FenceLease lease{.holder = "final-sync@ops:7", .purpose = "failover --final-sync", .until_ms = nowMs() + 60000};
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());
  ASSERT_TRUE(takeFenceLease(client_, kStatePath, lease, nowMs()).has_value());
  auto final_sync = acquireFence(client_, kStatePath, "final-sync@ops:7");
  ASSERT_TRUE(final_sync.has_value()) << final_sync.error().describe();

  // A daemon restarted by systemd tries to lead: refused, and told why.
  auto daemon = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_FALSE(daemon.has_value());
  EXPECT_EQ(daemon.error().code, ErrorCode::kConflict);
  EXPECT_NE(daemon.error().message.find("leased to final-sync@ops:7"), std::string::npos) << daemon.error().message;
  // The final sync's writes still pass.
  EXPECT_EQ(zk::multiSync(client_, {fenceCheckOp(*final_sync), zk::CreateOp{.path = "/x"}}).code, zk::Code::kOk);
  // A second final sync is refused too.
  FenceLease other = lease;
  other.holder = "final-sync@ops:8";
  EXPECT_EQ(takeFenceLease(client_, kStatePath, other, nowMs()).error().code, ErrorCode::kConflict);

  // Released (or expired): the daemon may lead again.
  ASSERT_TRUE(releaseFenceLease(client_, kStatePath, "final-sync@ops:7").has_value());
  EXPECT_TRUE(acquireFence(client_, kStatePath, "host-a:1").has_value());
  FenceLease expired = lease;
  expired.until_ms = nowMs() - 1;
  ASSERT_TRUE(takeFenceLease(client_, kStatePath, expired, nowMs() - 2).has_value());
  EXPECT_TRUE(acquireFence(client_, kStatePath, "host-b:2").has_value());
  EXPECT_FALSE(readFenceLease(client_, kStatePath, nowMs())->has_value());
}

TEST_F(LeaseTest, FailoverWithFinalSyncKeepsDaemonsOutUntilTheRoleChangeAndThenFencesThem) {
  auto daemon = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(daemon.has_value());
  FailoverOptions o{.state_path = kStatePath, .who = "ops@jump", .now_ms = 1};
  o.final_sync_holder = "final-sync@ops:7";
  std::optional<Error> restarted_daemon;
  o.final_sync = [&]() -> Result<std::string> {
    auto token = acquireFence(client_, kStatePath, "final-sync@ops:7");
    if (!token) return std::unexpected(token.error());
    // The deposed daemon exits 1, systemd starts it again, it tries to lead.
    auto again = acquireFence(client_, kStatePath, "host-a:2");
    if (!again) restarted_daemon = again.error();
    if (zk::multiSync(client_, {fenceCheckOp(*token), zk::CreateOp{.path = "/copied"}}).code != zk::Code::kOk) {
      return fail(ErrorCode::kFenced, "the final sync lost the fence");
    }
    return std::string("1 node copied");
  };
  auto report = runFailover(client_, o);
  ASSERT_TRUE(report.has_value()) << report.error().describe();
  EXPECT_EQ(report->final_sync, "1 node copied");
  ASSERT_TRUE(restarted_daemon.has_value());
  EXPECT_EQ(restarted_daemon->code, ErrorCode::kConflict);
  // After the failover the lease is gone and the role is active: a daemon is fenced (exit 3).
  EXPECT_FALSE(readFenceLease(client_, kStatePath, nowMs())->has_value());
  auto after = acquireFence(client_, kStatePath, "host-a:3");
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, ErrorCode::kFenced);
}

TEST_F(LeaseTest, AFailedFinalSyncReleasesTheLease) {
  FailoverOptions o{.state_path = kStatePath, .who = "ops@jump", .now_ms = 1};
  o.final_sync = []() -> Result<std::string> { return fail(ErrorCode::kTimeout, "primary unreachable"); };
  ASSERT_FALSE(runFailover(client_, o).has_value());
  EXPECT_FALSE(readFenceLease(client_, kStatePath, nowMs())->has_value());
  EXPECT_TRUE(acquireFence(client_, kStatePath, "host-a:1").has_value());
}

// Failback: the backup is the active site, the rebuilt primary is written.
class ReverseTest : public ::testing::Test {
 protected:
  std::shared_ptr<zk::FakeServer> backup_server_ = std::make_shared<zk::FakeServer>();
  std::shared_ptr<zk::FakeServer> primary_server_ = std::make_shared<zk::FakeServer>();
  zk::FakeClient backup_{backup_server_};
  zk::FakeClient primary_{primary_server_};

  void failover() {
    ASSERT_TRUE(runFailover(backup_, FailoverOptions{.state_path = kStatePath, .who = "ops", .now_ms = 1}).has_value());
  }
  ResumeOptions resumeOptions() {
    ResumeOptions o{.state_path = kStatePath, .who = "ops", .now_ms = 2, .primary = &primary_};
    o.backup_roots = {"/app"};
    o.primary_roots = {"/app"};
    return o;
  }
};

TEST_F(ReverseTest, AReverseWriterIsRefusedWhileTheBackupIsAStandby) {
  auto refused = acquireReverseFence(primary_, backup_, kStatePath, "reverse:1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFenced);
  EXPECT_NE(refused.error().message.find("forward (primary -> backup) is still the direction"), std::string::npos)
      << refused.error().message;
  failover();
  EXPECT_TRUE(acquireReverseFence(primary_, backup_, kStatePath, "reverse:1").has_value());
}

TEST_F(ReverseTest, ResumeStopsARunningReverseWriter) {
  failover();
  auto writer = acquireReverseFence(primary_, backup_, kStatePath, "reverse:1");
  ASSERT_TRUE(writer.has_value());
  ASSERT_EQ(zk::multiSync(primary_, {fenceCheckOp(*writer), zk::CreateOp{.path = "/before"}}).code, zk::Code::kOk);

  auto resumed = runResume(backup_, resumeOptions());
  ASSERT_TRUE(resumed.has_value()) << resumed.error().describe();
  EXPECT_TRUE(resumed->primary_fenced);
  EXPECT_TRUE(resumed->complete()) << resumed->primary_error;

  auto late = zk::multiSync(primary_, {fenceCheckOp(*writer), zk::CreateOp{.path = "/after"}});
  EXPECT_EQ(late.code, zk::Code::kBadVersion);
  EXPECT_FALSE(primary_server_->node("/after").has_value());
  EXPECT_EQ(*explainReverseFenceLoss(backup_, kStatePath), ReverseFenceLoss::kFailbackOver);
  // And it cannot come back.
  EXPECT_EQ(acquireReverseFence(primary_, backup_, kStatePath, "reverse:2").error().code, ErrorCode::kFenced);
}

TEST_F(ReverseTest, ResumeRaisesThePrimarysCountersAboveWhatTheActiveSiteHandedOut) {
  failover();
  ASSERT_EQ(backup_server_->createRecursiveDirect("/app/queue"), zk::Code::kOk);
  ASSERT_EQ(backup_server_->createRecursiveDirect("/app/locks"), zk::Code::kOk);
  // The applications used the active site: 40 sequential items, 38 consumed.
  for (int i = 0; i < 40; ++i) {
    auto r = zk::createSync(backup_, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
    ASSERT_EQ(r.code, zk::Code::kOk);
    if (i < 38) {
      ASSERT_EQ(zk::removeSync(backup_, zk::DeleteOp{r.path}).code, zk::Code::kOk);
    }
  }
  // Failback copied the two left by name; the primary's own counter is 2.
  ASSERT_EQ(primary_server_->createRecursiveDirect("/app/queue"), zk::Code::kOk);
  for (const auto& child : zk::getChildrenSync(backup_, "/app/queue").children) {
    ASSERT_EQ(zk::createSync(primary_, zk::CreateOp{.path = "/app/queue/" + child}).code, zk::Code::kOk);
  }
  // A name only the primary has (copied earlier, say), far above its counter.
  ASSERT_EQ(primary_server_->createRecursiveDirect("/app/other/job-0000000077"), zk::Code::kOk);

  auto resumed = runResume(backup_, resumeOptions());
  ASSERT_TRUE(resumed.has_value()) << resumed.error().describe();
  ASSERT_TRUE(resumed->complete()) << resumed->primary_error;
  ASSERT_TRUE(resumed->raise.has_value());
  EXPECT_GE(resumed->counters_collected, 1u);

  auto next = zk::createSync(primary_, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(next.code, zk::Code::kOk);
  EXPECT_GE(sequenceSuffix(next.path), 40) << "monotonic with what the active site handed out";
  auto job = zk::createSync(primary_, zk::CreateOp{.path = "/app/other/job-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(job.code, zk::Code::kOk);
  EXPECT_GT(sequenceSuffix(job.path), 77);
}

TEST_F(ReverseTest, ResumeWithoutAReverseWriterAndRunTwiceIsFine) {
  failover();
  auto first = runResume(backup_, resumeOptions());
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->already_standby);
  EXPECT_TRUE(first->complete()) << first->primary_error;
  auto second = runResume(backup_, resumeOptions());
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->already_standby);
  EXPECT_TRUE(second->complete()) << second->primary_error;
  EXPECT_EQ(readState(backup_, kStatePath)->state.epoch, 2);
}

// The issue's case: a failover soon after the daemon's first full pass, with
// no counters saved yet. The replicated names alone must be enough.
TEST(FailoverScan, ParentsNobodySavedAreRaisedAboveTheirReplicatedSequentialChildren) {
  auto server = std::make_shared<zk::FakeServer>();
  zk::FakeClient backup(server);
  // Replicated by name: the backup's own counter of /app/q is 1, the names go to 500.
  ASSERT_EQ(server->createRecursiveDirect("/app/q/item-0000000001"), zk::Code::kOk);
  ASSERT_EQ(server->createRecursiveDirect("/app/deep/x/lock-0000000500"), zk::Code::kOk);
  ASSERT_EQ(server->createRecursiveDirect("/app/deep/x/session-1700000000"), zk::Code::kOk);  // a timestamp
  ASSERT_EQ(server->createRecursiveDirect("/outside/item-0000000900"), zk::Code::kOk);
  // A node this identity may not read: counted, never a reason to fail (a rerun would fail the same way).
  ASSERT_EQ(server->createDirect(zk::CreateOp{.path = "/app/locked",
                                              .acl = {{zk::perm::kAll, "digest", zk::digestAclId("someone:else")}}})
                .code,
            zk::Code::kOk);
  FailoverOptions o{.state_path = kStatePath, .who = "ops", .now_ms = 1};
  o.raise.scan_roots = {"/app"};
  auto report = runFailover(backup, o);
  ASSERT_TRUE(report.has_value()) << report.error().describe();
  ASSERT_TRUE(report->complete()) << report->raise_error;
  EXPECT_EQ(report->raise->scanned_parents, 2u);
  EXPECT_EQ(report->raise->ignored_names, 1u);
  EXPECT_EQ(report->raise->ignored_example, "/app/deep/x/session-1700000000");
  EXPECT_EQ(report->raise->unreadable_nodes, 1u);
  EXPECT_EQ(report->raise->unreadable_example, "/app/locked");

  auto q = zk::createSync(backup, zk::CreateOp{.path = "/app/q/item-", .mode = zk::CreateMode::kPersistentSequential});
  EXPECT_EQ(q.code, zk::Code::kOk) << "not NodeExists";
  EXPECT_GE(sequenceSuffix(q.path), 2);
  auto lock = zk::createSync(backup, zk::CreateOp{.path = "/app/deep/x/lock-", .mode = zk::CreateMode::kPersistentSequential});
  EXPECT_GT(sequenceSuffix(lock.path), 500);
  // Outside the target roots nothing is touched.
  EXPECT_EQ(sequenceSuffix(zk::createSync(backup, zk::CreateOp{.path = "/outside/n-",
                                                               .mode = zk::CreateMode::kPersistentSequential}).path),
            1);
}

}  // namespace
}  // namespace zks::state
