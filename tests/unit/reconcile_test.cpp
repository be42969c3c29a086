#include <gtest/gtest.h>

#include "reconcile/reconciler.h"
#include "testdoubles/fake_client.h"

namespace zks::reconcile {
namespace {

using zk::FakeClient;
using zk::FakeServer;

// A primary and a backup in memory, and one pass over them.
class ReconcileTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> primary_server = std::make_shared<FakeServer>();
  std::shared_ptr<FakeServer> backup_server = std::make_shared<FakeServer>();
  FakeClient primary{primary_server};
  FakeClient backup{backup_server};

  ReconcileOptions options() {
    ReconcileOptions o;
    o.roots = {{"/zms", "/zms"}};
    o.protected_backup = [](const std::string& p) { return p.starts_with("/zms/keep"); };
    o.excluded_primary = [](const std::string& p) { return p.starts_with("/zms/keep"); };
    return o;
  }

  ReconcileReport pass(ReconcileOptions o) {
    EventLoop loop;
    Reconciler r(loop, primary, backup, std::move(o));
    r.start();
    EXPECT_TRUE(loop.runUntil([&] { return r.done(); }, EventLoop::Clock::now() + std::chrono::seconds(20)));
    return r.report();
  }

  // path -> data of every persistent node under `root`.
  static std::map<std::string, std::string> tree(FakeServer& s, const std::string& root) {
    std::map<std::string, std::string> out;
    for (const auto& n : s.nodes(root)) {
      if (zk::kindOf(n.stat) != zk::NodeKind::kEphemeral) out[n.path] = n.data;
    }
    return out;
  }

  void seedPrimary() {
    primary_server->createRecursiveDirect("/zms/cluster/kafka_bj_01", "bootAddr=10.10.1.11:9092\n");
    primary_server->createRecursiveDirect("/zms/topic/order_created", "clusterName=kafka_bj_01\n");
    primary_server->createRecursiveDirect("/zms/topic/order_paid", "clusterName=kafka_bj_01\n");
    primary_server->createRecursiveDirect("/zms/deep/a/b/c/d/e/f/g/h/i/j/k/l", "leaf");
  }
};

TEST_F(ReconcileTest, FirstPassCopiesTheTreeAndTheSecondWritesNothing) {
  seedPrimary();
  auto first = pass(options());
  EXPECT_TRUE(first.converged());
  EXPECT_EQ(tree(*backup_server, "/zms"), tree(*primary_server, "/zms"));
  EXPECT_EQ(first.applied.created, tree(*primary_server, "/zms").size());

  backup_server->resetCounters();
  auto second = pass(options());
  EXPECT_TRUE(second.converged());
  EXPECT_EQ(backup_server->counters().writes(), 0u);
  EXPECT_EQ(second.planned_writes, 0u);
}

TEST_F(ReconcileTest, UpdatesAndDeletesButNeverTouchesEphemeralsOrProtectedNodes) {
  seedPrimary();
  pass(options());
  primary_server->setDirect("/zms/topic/order_created", "clusterName=kafka_bj_02\n");
  primary_server->removeDirect("/zms/topic/order_paid");
  // The standby site's own client registration, and a node the config protects.
  backup_server->createDirect(zk::CreateOp{.path = "/zms/topic/order_created/10.50.0.9||p||1", .mode = zk::CreateMode::kEphemeral},
                              backup.sessionId());
  backup_server->createRecursiveDirect("/zms/keep/local", "mine");
  // An orphan subtree holding a standby ephemeral: its delete is blocked.
  backup_server->createRecursiveDirect("/zms/topic/gone", "x");
  backup_server->createDirect(zk::CreateOp{.path = "/zms/topic/gone/client", .mode = zk::CreateMode::kEphemeral},
                              backup.sessionId());

  auto o = options();
  o.max_delete_fraction = 1.0;
  auto report = pass(o);
  EXPECT_EQ(backup_server->node("/zms/topic/order_created")->data, "clusterName=kafka_bj_02\n");
  EXPECT_FALSE(backup_server->node("/zms/topic/order_paid"));
  EXPECT_TRUE(backup_server->node("/zms/topic/order_created/10.50.0.9||p||1"));
  EXPECT_TRUE(backup_server->node("/zms/keep/local"));
  EXPECT_TRUE(backup_server->node("/zms/topic/gone"));
  EXPECT_EQ(report.blocked, 1u);
  EXPECT_FALSE(report.converged());
  // A delete a standby-site ephemeral blocks is reported, not a failure to converge.
  EXPECT_EQ(report.result(), ReconcileResult::kConvergedExceptReported);
  EXPECT_EQ(report.reportedNodes(), 1u);
}

TEST_F(ReconcileTest, DryRunListsEveryChangeAndWritesNothing) {
  seedPrimary();
  backup_server->createRecursiveDirect("/zms/topic/stale", "old");
  auto o = options();
  o.dry_run = true;
  o.max_delete_fraction = 1.0;
  auto report = pass(o);
  EXPECT_EQ(backup_server->counters().writes(), 0u);
  size_t creates = 0, deletes = 0;
  for (const auto& c : report.changes) {
    creates += c.kind == plan::ChangeKind::kCreate;
    deletes += c.kind == plan::ChangeKind::kDelete;
  }
  // /zms and /zms/topic exist on the backup already.
  EXPECT_EQ(creates, tree(*primary_server, "/zms").size() - 2);
  EXPECT_EQ(deletes, 1u);
}

TEST_F(ReconcileTest, DeleteGuardStopsAMassDeleteUntilAllowed) {
  seedPrimary();
  pass(options());
  const auto before = tree(*backup_server, "/zms");
  primary_server->removeRecursiveDirect("/zms/topic");
  primary_server->removeRecursiveDirect("/zms/deep");
  auto tripped = pass(options());
  EXPECT_TRUE(tripped.guard_tripped);
  EXPECT_EQ(tripped.result(), ReconcileResult::kNotConverged);
  EXPECT_EQ(tree(*backup_server, "/zms"), before);

  auto o = options();
  o.allow_mass_delete = true;
  auto allowed = pass(o);
  EXPECT_TRUE(allowed.converged());
  EXPECT_EQ(tree(*backup_server, "/zms"), tree(*primary_server, "/zms"));
}

TEST_F(ReconcileTest, AMappingFailureSkipsThatNodeOnly) {
  seedPrimary();
  auto o = options();
  o.mapper = [](const std::string& path, const std::string& data) {
    MappedNode m{.path = path, .data = data};
    if (path == "/zms/topic/order_paid") m.failure = "clusterName: kafka_bj_01 is not in table cluster";
    return m;
  };
  auto report = pass(o);
  EXPECT_EQ(report.mapping_failures, 1u);
  EXPECT_EQ(report.result(), ReconcileResult::kConvergedExceptReported);
  EXPECT_FALSE(backup_server->node("/zms/topic/order_paid"));
  EXPECT_TRUE(backup_server->node("/zms/topic/order_created"));
  EXPECT_TRUE(backup_server->node("/zms/deep/a/b/c/d/e/f/g/h/i/j/k/l"));
}

TEST_F(ReconcileTest, RenamesFromTheMapperLandUnderTheMappedParent) {
  seedPrimary();
  auto o = options();
  o.roots = {{"/zms", "/zms_sh"}};
  o.mapper = [](const std::string& path, const std::string& data) {
    std::string p = path;
    if (auto at = p.find("kafka_bj_01"); at != std::string::npos) p.replace(at, 11, "kafka_sh_01");
    return MappedNode{.path = p, .data = data};
  };
  pass(o);
  EXPECT_TRUE(backup_server->node("/zms_sh/cluster/kafka_sh_01"));
  EXPECT_FALSE(backup_server->node("/zms_sh/cluster/kafka_bj_01"));
  EXPECT_TRUE(backup_server->node("/zms_sh/deep/a/b/c/d/e/f/g/h/i/j/k/l"));
}

TEST_F(ReconcileTest, AMovedFenceStopsEveryWrite) {
  seedPrimary();
  backup_server->createRecursiveDirect("/zkstandby/fence", "");
  auto o = options();
  o.applier.prefix = {zk::CheckOp{"/zkstandby/fence", 0}};
  backup_server->setDirect("/zkstandby/fence", "someone else");
  auto report = pass(o);
  EXPECT_TRUE(report.fenced);
  EXPECT_FALSE(backup_server->node("/zms"));
}

TEST_F(ReconcileTest, SequentialNamesAndManyChildrenAreKeptExactly) {
  primary_server->createRecursiveDirect("/zms/queue", "");
  for (int i = 0; i < 300; ++i) {
    primary_server->createDirect(zk::CreateOp{.path = "/zms/queue/item-", .data = std::to_string(i),
                                              .mode = zk::CreateMode::kPersistentSequential});
  }
  auto o = options();
  o.applier.max_request_bytes = 2048;  // many small batches, pipelined
  auto report = pass(o);
  EXPECT_TRUE(report.converged());
  EXPECT_GT(report.applied.batches, 10u);
  EXPECT_EQ(tree(*backup_server, "/zms"), tree(*primary_server, "/zms"));
}

}  // namespace
}  // namespace zks::reconcile

namespace zks::reconcile {
namespace {

TEST_F(ReconcileTest, ATrustedIndexReadsOnlyStatsOfUnchangedNodesAndCatchesChanges) {
  seedPrimary();
  NodeIndex index;
  auto o = options();
  o.index = &index;
  pass(o);
  EXPECT_EQ(index.size(), tree(*primary_server, "/zms").size());

  primary_server->setDirect("/zms/topic/order_paid", "clusterName=kafka_bj_09\n");
  primary_server->createRecursiveDirect("/zms/topic/new_topic", "clusterName=kafka_bj_01\n");
  backup_server->resetCounters();
  o.trust_index = true;
  auto report = pass(o);
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(report.applied.updated, 1u);
  EXPECT_EQ(report.applied.created, 1u);
  EXPECT_EQ(tree(*backup_server, "/zms"), tree(*primary_server, "/zms"));
  // Unchanged leaves cost no backup read: only listings of the parents and
  // the two changed nodes (get + getAcl each) were read there.
  EXPECT_LT(backup_server->counters().reads, 20u);
}

TEST_F(ReconcileTest, AChangedPrimaryNodeOverwritesBackupDriftInATrustedPass) {
  seedPrimary();
  NodeIndex index;
  auto o = options();
  o.index = &index;
  pass(o);
  // The primary moves on while someone also wrote the backup copy.
  primary_server->setDirect("/zms/topic/order_paid", "clusterName=kafka_bj_03\n");
  o.trust_index = true;
  backup_server->setDirect("/zms/topic/order_paid", "drift");
  auto report = pass(o);
  EXPECT_EQ(backup_server->node("/zms/topic/order_paid")->data, "clusterName=kafka_bj_03\n");
  EXPECT_TRUE(report.converged());
}

}  // namespace
}  // namespace zks::reconcile

namespace zks::reconcile {
namespace {

TEST_F(ReconcileTest, AWriteRateLimitSpreadsTheWritesOverTime) {
  primary_server->createRecursiveDirect("/zms/many", "");
  for (int i = 0; i < 60; ++i) primary_server->createRecursiveDirect("/zms/many/n" + std::to_string(i), "x");
  auto o = options();
  o.applier.max_ops_per_s = 100;
  o.applier.max_ops_per_batch = 10;
  const auto start = std::chrono::steady_clock::now();
  auto report = pass(o);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(report.converged());
  EXPECT_EQ(tree(*backup_server, "/zms"), tree(*primary_server, "/zms"));
  // 62 creates at 100/s with a one-second burst allowance: the rest waits.
  EXPECT_GE(took, std::chrono::milliseconds(100));
}

}  // namespace
}  // namespace zks::reconcile

namespace zks::reconcile {
namespace {

TEST_F(ReconcileTest, TwoPrimaryNodesMappingToOneBackupPathAreAConflictNotAnOverwrite) {
  primary_server->createRecursiveDirect("/zms/cluster/kafka_bj_01", "first");
  primary_server->createRecursiveDirect("/zms/cluster/kafka_xx_01", "second");
  auto o = options();
  o.mapper = [](const std::string& path, const std::string& data) {
    std::string p = path;
    for (const char* from : {"kafka_bj_01", "kafka_xx_01"}) {
      if (auto at = p.find(from); at != std::string::npos) p.replace(at, 11, "kafka_sh_01");
    }
    return MappedNode{.path = p, .data = data};
  };
  auto report = pass(o);
  EXPECT_EQ(report.conflicts, 1u);
  EXPECT_EQ(report.result(), ReconcileResult::kNotConverged) << "which node the standby holds is a decision";
  ASSERT_TRUE(backup_server->node("/zms/cluster/kafka_sh_01"));
  EXPECT_EQ(backup_server->node("/zms/cluster/kafka_sh_01")->data, "first");  // sorted order: bj before xx
}

}  // namespace
}  // namespace zks::reconcile
