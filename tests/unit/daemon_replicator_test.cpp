#include <gtest/gtest.h>

#include "daemon/replicator.h"
#include "testdoubles/fake_client.h"

namespace zks::daemon {
namespace {

using zk::FakeClient;
using zk::FakeServer;

class ReplicatorTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> primary_server = std::make_shared<FakeServer>();
  std::shared_ptr<FakeServer> backup_server = std::make_shared<FakeServer>();
  FakeClient primary{primary_server};
  FakeClient backup{backup_server};
  EventLoop loop;
  metrics::Registry registry;
  DaemonMetrics metrics{registry};
  reconcile::NodeIndex index;
  bool fenced = false;
  std::unique_ptr<Replicator> replicator;

  void SetUp() override {
    primary_server->createRecursiveDirect("/app/services/a", "host=10.0.0.1");
    primary_server->createRecursiveDirect("/app/services/b", "host=10.0.0.2");
    backup_server->createRecursiveDirect("/zkstandby/fence", "");
    reconcile::Engine engine;
    engine.options.roots = {{"/app", "/app"}};
    primary.setWatchListener([this](const zk::WatchEvent& e) {
      loop.post([this, e] {
        if (replicator) replicator->onPrimaryEvent(e);
      });
    });
    replicator = std::make_unique<Replicator>(loop, primary, backup, engine,
                                              std::vector<zk::Op>{zk::CheckOp{"/zkstandby/fence", 0}}, metrics, index,
                                              ReplicatorHooks{.on_fenced = [this] { fenced = true; }});
  }
  void TearDown() override {
    replicator.reset();
    primary.close();
    backup.close();
  }

  std::map<std::string, std::string> tree(FakeServer& s) {
    std::map<std::string, std::string> out;
    for (const auto& n : s.nodes("/app")) out[n.path] = n.data;
    return out;
  }
  bool converges() {
    return loop.runUntil([&] { return tree(*backup_server) == tree(*primary_server); },
                         EventLoop::Clock::now() + std::chrono::seconds(10));
  }
};

TEST_F(ReplicatorTest, FollowsCreatesUpdatesAndDeletesThroughWatches) {
  replicator->requestFullReconcile("leader", false);
  ASSERT_TRUE(loop.runUntil([&] { return replicator->firstReconcileDone(); },
                            EventLoop::Clock::now() + std::chrono::seconds(10)));
  ASSERT_TRUE(converges());

  primary_server->setDirect("/app/services/a", "host=10.0.0.9");
  ASSERT_TRUE(converges());
  primary_server->createRecursiveDirect("/app/services/c/deep/er", "x");
  ASSERT_TRUE(converges());
  primary_server->removeDirect("/app/services/b");
  ASSERT_TRUE(converges());
  // Deleted and created again: a new node, replicated as such.
  primary_server->removeRecursiveDirect("/app/services/c");
  primary_server->createRecursiveDirect("/app/services/c", "again");
  ASSERT_TRUE(converges());
  EXPECT_GT(metrics.lag.snapshot().count, 0u);
  EXPECT_FALSE(fenced);
}

TEST_F(ReplicatorTest, AMovedFenceStopsItAndSaysSo) {
  replicator->requestFullReconcile("leader", false);
  ASSERT_TRUE(loop.runUntil([&] { return replicator->firstReconcileDone(); },
                            EventLoop::Clock::now() + std::chrono::seconds(10)));
  backup_server->setDirect("/zkstandby/fence", "failover");
  primary_server->setDirect("/app/services/a", "host=10.0.0.7");
  ASSERT_TRUE(loop.runUntil([&] { return fenced; }, EventLoop::Clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(backup_server->node("/app/services/a")->data, "host=10.0.0.1");
}

TEST_F(ReplicatorTest, ADataChangeOnAReplicatedNodeIsWrittenWithoutReadingTheBackupAgain) {
  replicator->requestFullReconcile("leader", false);
  ASSERT_TRUE(loop.runUntil([&] { return replicator->firstReconcileDone(); },
                            EventLoop::Clock::now() + std::chrono::seconds(10)));
  ASSERT_TRUE(converges());
  backup.resetCounters();
  primary_server->setDirect("/app/services/a", "host=10.0.0.9");
  ASSERT_TRUE(converges());
  EXPECT_EQ(backup.counters().reads, 0u);
  EXPECT_EQ(backup.counters().sets, 1u);
}

TEST_F(ReplicatorTest, ADataChangeLandsEvenWhenItsBackupCopyWasDeletedBehindItsBack) {
  replicator->requestFullReconcile("leader", false);
  ASSERT_TRUE(loop.runUntil([&] { return replicator->firstReconcileDone(); },
                            EventLoop::Clock::now() + std::chrono::seconds(10)));
  ASSERT_TRUE(converges());
  ASSERT_EQ(backup_server->removeDirect("/app/services/a").code, zk::Code::kOk);
  primary_server->setDirect("/app/services/a", "host=10.0.0.9");
  ASSERT_TRUE(converges());
  EXPECT_EQ(backup_server->node("/app/services/a")->data, "host=10.0.0.9");
  EXPECT_FALSE(fenced);
}

}  // namespace
}  // namespace zks::daemon
