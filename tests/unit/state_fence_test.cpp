// Layout, fence, state updates, failover and resume against the in-memory
// ZooKeeper.

#include <gtest/gtest.h>

#include <chrono>

#include "state/counters.h"
#include "state/failover.h"
#include "state/store.h"
#include "testdoubles/fake_client.h"
#include "testdoubles/fault_client.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

constexpr const char* kStatePath = "/dr/zkstandby";
constexpr int64_t kNow = 1'700'000'000'000;

class StateFenceTest : public ::testing::Test {
 protected:
  std::shared_ptr<zk::FakeServer> server_ = std::make_shared<zk::FakeServer>();
  zk::FakeClient client_{server_};
  StatePaths paths_{kStatePath};

  FailoverOptions failoverOptions(std::string reason = "drill") {
    return FailoverOptions{.state_path = kStatePath, .reason = std::move(reason), .who = "ops@jump", .now_ms = kNow};
  }
  // A replicator's write batch: the fence check, then one create.
  zk::MultiResult writeBatch(const FenceToken& token, const std::string& path) {
    return zk::multiSync(client_, {fenceCheckOp(token), zk::CreateOp{.path = path}});
  }
};

TEST_F(StateFenceTest, LayoutIsCreatedOnceAsAStandbyAtEpochZero) {
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());  // idempotent
  for (const auto& p : {paths_.state, paths_.fence, paths_.leader, paths_.history, paths_.counters}) {
    EXPECT_TRUE(server_->node(p).has_value()) << p;
  }
  auto stored = readState(client_, kStatePath);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->exists());
  EXPECT_EQ(stored->state.role, Role::kStandby);
  EXPECT_EQ(stored->state.epoch, 0);
}

TEST_F(StateFenceTest, ReadingAMissingStateGivesDefaultsAndAnUnreadableOneIsAnError) {
  auto absent = readState(client_, kStatePath);
  ASSERT_TRUE(absent.has_value());
  EXPECT_FALSE(absent->exists());
  ASSERT_EQ(server_->createRecursiveDirect(paths_.state, "{not json"), zk::Code::kOk);
  auto bad = readState(client_, kStatePath);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().path, paths_.state);
}

TEST_F(StateFenceTest, EachAcquisitionFencesEveryEarlierHolder) {
  auto first = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  EXPECT_EQ(server_->node(paths_.fence)->data, "host-a:1");
  EXPECT_EQ(writeBatch(*first, "/a").code, zk::Code::kOk);

  auto second = acquireFence(client_, kStatePath, "host-b:2");
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->version, first->version);

  auto refused = writeBatch(*first, "/b");
  EXPECT_EQ(refused.code, zk::Code::kBadVersion);
  EXPECT_EQ(refused.results.at(0).code, zk::Code::kBadVersion);  // on the fence check, op 0
  EXPECT_FALSE(server_->node("/b").has_value());
  auto why = explainFenceLoss(client_, kStatePath);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, FenceLoss::kDeposed);
  EXPECT_EQ(writeBatch(*second, "/b").code, zk::Code::kOk);
}

TEST_F(StateFenceTest, AfterFailoverNoReplicatorWritesAndNoneCanTakeTheFence) {
  auto token = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  auto report = runFailover(client_, failoverOptions());
  ASSERT_TRUE(report.has_value()) << report.error().describe();
  EXPECT_FALSE(report->already_active);

  const int64_t failover_zxid = server_->zxid();
  auto refused = writeBatch(*token, "/late");
  EXPECT_EQ(refused.results.at(0).code, zk::Code::kBadVersion);
  EXPECT_FALSE(server_->node("/late").has_value());
  for (const auto& n : server_->nodes("/")) {
    if (n.path.starts_with(kStatePath)) continue;
    EXPECT_LE(n.stat.mzxid, failover_zxid) << n.path;
  }

  auto why = explainFenceLoss(client_, kStatePath);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, FenceLoss::kFailedOver);
  auto again = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kFenced);
  auto update = updateState(client_, kStatePath, *token, [](SiteState& s) { s.last_applied_zxid = 99; });
  ASSERT_FALSE(update.has_value());
  EXPECT_EQ(update.error().code, ErrorCode::kFenced);
  // A reverse writer fences on the ensemble it writes to, role or not.
  EXPECT_TRUE(acquireFence(client_, kStatePath, "reverse:3", FenceMode::kUnchecked).has_value());
}

TEST_F(StateFenceTest, FailoverBumpsTheEpochOnceAndRecordsWhoWhyAndWhatTheBackupHad) {
  auto token = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  ASSERT_TRUE(updateState(client_, kStatePath, *token, [](SiteState& s) {
                s.last_applied_zxid = 0x500000123;
                s.last_full_sync_ms = kNow - 60'000;
                s.leader = "host-a:1";
                s.role = Role::kActive;  // ignored: the daemon cannot change the role
                s.epoch = 40;
              }).has_value());
  auto before = readState(client_, kStatePath);
  EXPECT_EQ(before->state.role, Role::kStandby);
  EXPECT_EQ(before->state.epoch, 0);

  auto report = runFailover(client_, failoverOptions("dc1 lost"));
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->before.epoch, 0);
  EXPECT_EQ(report->after.epoch, 1);
  auto after = readState(client_, kStatePath);
  EXPECT_EQ(after->state.role, Role::kActive);
  EXPECT_EQ(after->state.epoch, 1);
  EXPECT_EQ(after->state.role_changed_by, "ops@jump");
  EXPECT_EQ(after->state.last_applied_zxid, 0x500000123);  // kept: status shows what the site had

  auto history = readHistory(client_, kStatePath, 0);
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 1u);
  const auto& rec = history->front().record;
  EXPECT_EQ(paths_.history + "/" + history->front().name, report->history_node);
  EXPECT_EQ(rec.action, "failover");
  EXPECT_EQ(rec.reason, "dc1 lost");
  EXPECT_EQ(rec.who, "ops@jump");
  EXPECT_EQ(rec.epoch, 1);
  EXPECT_EQ(rec.last_applied_zxid, 0x500000123);
  EXPECT_EQ(rec.last_full_sync_ms, kNow - 60'000);
  EXPECT_NE(rec.counters.find("raised 0 of 0 parents"), std::string::npos) << rec.counters;

  // A second failover changes nothing: same epoch, no second record.
  auto second = runFailover(client_, failoverOptions("again"));
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->already_active);
  EXPECT_EQ(readState(client_, kStatePath)->state.epoch, 1);
  EXPECT_EQ(readHistory(client_, kStatePath, 0)->size(), 1u);
}

TEST_F(StateFenceTest, FinalSyncRunsFirstAndItsFailureLeavesEverythingAsItWas) {
  auto options = failoverOptions();
  options.final_sync = []() -> Result<std::string> { return fail(ErrorCode::kTimeout, "primary unreachable"); };
  auto failed = runFailover(client_, options);
  ASSERT_FALSE(failed.has_value());
  EXPECT_NE(failed.error().message.find("nothing changed"), std::string::npos);
  EXPECT_EQ(readState(client_, kStatePath)->state.role, Role::kStandby);
  EXPECT_TRUE(readHistory(client_, kStatePath, 0)->empty());

  bool ran_while_standby = false;
  options.final_sync = [&]() -> Result<std::string> {
    ran_while_standby = readState(client_, kStatePath)->state.role == Role::kStandby;
    return std::string("2 nodes could not be copied");
  };
  auto done = runFailover(client_, options);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(ran_while_standby);
  EXPECT_EQ(done->final_sync, "2 nodes could not be copied");
  EXPECT_EQ(readHistory(client_, kStatePath, 0)->front().record.final_sync, "2 nodes could not be copied");
}

TEST_F(StateFenceTest, ResumeReturnsToStandbyWithANewEpochAndForwardWritersMayStartAgain) {
  ASSERT_TRUE(runFailover(client_, failoverOptions()).has_value());
  auto resumed = runResume(client_, ResumeOptions{.state_path = kStatePath, .reason = "dc1 rebuilt", .who = "ops@jump", .now_ms = kNow + 1});
  ASSERT_TRUE(resumed.has_value());
  EXPECT_FALSE(resumed->already_standby);
  EXPECT_EQ(resumed->after.epoch, 2);
  auto stored = readState(client_, kStatePath);
  EXPECT_EQ(stored->state.role, Role::kStandby);
  EXPECT_EQ(stored->state.epoch, 2);
  EXPECT_EQ(stored->state.last_applied_zxid, 0);  // belonged to the old primary

  auto history = readHistory(client_, kStatePath, 0);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->at(0).record.action, "failover");
  EXPECT_EQ(history->at(1).record.action, "resume");
  EXPECT_EQ(history->at(1).record.reason, "dc1 rebuilt");
  EXPECT_EQ(history->at(1).record.from_role, Role::kActive);
  EXPECT_EQ(readHistory(client_, kStatePath, 1)->front().record.action, "resume");

  EXPECT_TRUE(acquireFence(client_, kStatePath, "host-a:1").has_value());
  auto again = runResume(client_, ResumeOptions{.state_path = kStatePath, .who = "ops@jump", .now_ms = kNow + 2});
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->already_standby);
  EXPECT_EQ(readState(client_, kStatePath)->state.epoch, 2);
}

TEST_F(StateFenceTest, TheDaemonsStateWritesGoThroughTheFenceAndSurviveRaces) {
  auto token = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  // Another writer's set slips in between: updateState re-reads and redoes.
  ASSERT_EQ(server_->setDirect(paths_.state, toJson(SiteState{.last_full_sync_ms = 1234})).code, zk::Code::kOk);
  auto updated = updateState(client_, kStatePath, *token, [](SiteState& s) { s.last_applied_zxid = 7; });
  ASSERT_TRUE(updated.has_value()) << updated.error().describe();
  auto stored = readState(client_, kStatePath);
  EXPECT_EQ(stored->state.last_applied_zxid, 7);
  EXPECT_EQ(stored->state.last_full_sync_ms, 1234);  // untouched field kept from the newer record

  auto newer = acquireFence(client_, kStatePath, "host-b:2");
  ASSERT_TRUE(newer.has_value());
  auto stale = updateState(client_, kStatePath, *token, [](SiteState& s) { s.last_applied_zxid = 8; });
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kFenced);
  EXPECT_EQ(readState(client_, kStatePath)->state.last_applied_zxid, 7);
}

// `status` shows who wrote the record last and when: every write says so,
// whatever the caller changed.
TEST_F(StateFenceTest, EveryStateWriteNamesTheWriterAndTheTime) {
  auto token = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->identity, "host-a:1");
  const int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  auto updated = updateState(client_, kStatePath, *token, [](SiteState& s) {
    s.last_full_reconcile_ms = 99;
    s.last_full_reconcile_result = "converged_except_reported";
    s.reported_nodes = 3;
  });
  ASSERT_TRUE(updated.has_value()) << updated.error().describe();
  const int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const SiteState st = readState(client_, kStatePath)->state;
  EXPECT_EQ(st.leader, "host-a:1");
  EXPECT_GE(st.updated_ms, before);
  EXPECT_LE(st.updated_ms, after);
  EXPECT_EQ(st.last_full_reconcile_result, "converged_except_reported");
  EXPECT_EQ(st.reported_nodes, 3);

  // A caller cannot write someone else's name.
  auto second = acquireFence(client_, kStatePath, "host-b:2");
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(updateState(client_, kStatePath, *second, [](SiteState& s) { s.leader = "forged"; }).has_value());
  EXPECT_EQ(readState(client_, kStatePath)->state.leader, "host-b:2");
}

TEST_F(StateFenceTest, FailoverRaisesTheSavedCountersSoNewSequentialNamesAreAboveReplicatedOnes) {
  // The replicator copied lock-0000000041 by name; the backup's own counter
  // for /app/locks is far behind the primary's.
  ASSERT_EQ(server_->createRecursiveDirect("/app/locks"), zk::Code::kOk);
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/app/locks/lock-0000000041"}).code, zk::Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/app/queue"), zk::Code::kOk);
  auto token = acquireFence(client_, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  ASSERT_TRUE(saveCounters(client_, kStatePath, {{"/app/locks", 42}, {"/app/queue", 500}, {"/app/gone", 9}}, *token, kNow)
                  .has_value());

  auto report = runFailover(client_, failoverOptions());
  ASSERT_TRUE(report.has_value());
  ASSERT_TRUE(report->raise.has_value());
  EXPECT_TRUE(report->complete()) << report->raise_error;
  EXPECT_EQ(report->counters_saved, 3u);
  EXPECT_EQ(report->raise->raised, 2u);
  EXPECT_EQ(report->raise->missing, 1u);

  auto lock = zk::createSync(client_, zk::CreateOp{.path = "/app/locks/lock-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(lock.code, zk::Code::kOk);
  EXPECT_GE(sequenceSuffix(lock.path), 42);
  auto item = zk::createSync(client_, zk::CreateOp{.path = "/app/queue/q-", .mode = zk::CreateMode::kPersistentSequential});
  EXPECT_GE(sequenceSuffix(item.path), 500);
  // No temporary child is left behind.
  auto children = zk::getChildrenSync(client_, "/app/queue");
  EXPECT_EQ(children.children.size(), 1u);
}

TEST_F(StateFenceTest, AFailoverWhoseAnswerIsLostRecognisesItsOwnWrite) {
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());
  zk::FaultClient faulty(client_);
  zk::FaultRule rule;
  rule.ops = zk::op_mask::bit(zk::OpKind::kMulti);
  rule.path_prefix = paths_.state;
  rule.mode = zk::FaultMode::kApplyThenTimeout;
  rule.max_faults = 1;
  faulty.addRule(rule);
  auto report = runFailover(faulty, failoverOptions());
  ASSERT_TRUE(report.has_value()) << report.error().describe();
  EXPECT_EQ(faulty.injected(), 1u);
  EXPECT_FALSE(report->already_active);  // it was this run's write
  EXPECT_EQ(report->after.epoch, 1);
  auto history = readHistory(client_, kStatePath, 0);
  ASSERT_EQ(history->size(), 1u);  // not written twice
  EXPECT_EQ(report->history_node, paths_.history + "/" + history->front().name);
  EXPECT_EQ(readState(client_, kStatePath)->state.epoch, 1);
  ASSERT_TRUE(faulty.waitIdle());
}

TEST_F(StateFenceTest, AFenceTakenWhoseAnswerIsLostStillGivesAWorkingToken) {
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());
  zk::FaultClient faulty(client_);
  zk::FaultRule rule;
  rule.ops = zk::op_mask::bit(zk::OpKind::kMulti);
  rule.mode = zk::FaultMode::kApplyThenTimeout;
  rule.max_faults = 1;
  faulty.addRule(rule);
  auto token = acquireFence(faulty, kStatePath, "host-a:1");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(faulty.injected(), 1u);
  EXPECT_EQ(token->version, server_->node(paths_.fence)->stat.version);
  EXPECT_EQ(writeBatch(*token, "/a").code, zk::Code::kOk);
  ASSERT_TRUE(faulty.waitIdle());
}

}  // namespace
}  // namespace zks::state
