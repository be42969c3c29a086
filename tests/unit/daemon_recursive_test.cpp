// The recursive subscription and the FIFO merge rule (src/daemon/fifo_merge.h)
// on the in-memory fake: one persistent recursive watch per root, single-node
// passes, no one-shot watch ever (the fake reproduces ZOOKEEPER-4466), and
// one test per design invariant where an interleaving can be forced (a
// TapClient holds chosen requests back).

#include <gtest/gtest.h>

#include "daemon/replicator.h"
#include "daemon_tap_client.h"
#include "testdoubles/fake_client.h"

namespace zks::daemon {
namespace {

using testing::TapClient;
using zk::FakeClient;
using zk::FakeServer;
using namespace std::chrono_literals;

class RecursiveTest : public ::testing::Test {
 protected:
  // The loop outlives the clients: answers still in flight when a test
  // ends are posted to it (and never run).
  EventLoop loop;
  std::shared_ptr<FakeServer> primary_server = std::make_shared<FakeServer>();
  std::shared_ptr<FakeServer> backup_server = std::make_shared<FakeServer>();
  std::unique_ptr<FakeClient> primary_fake;
  std::unique_ptr<TapClient> primary;
  FakeClient backup_fake{backup_server};
  TapClient backup{backup_fake};
  metrics::Registry registry;
  DaemonMetrics metrics{registry};
  reconcile::NodeIndex index;
  std::unique_ptr<Replicator> replicator;
  bool disconnected = false;

  void SetUp() override {
    primary_server->createRecursiveDirect("/app/services/a", "host=10.0.0.1");
    primary_server->createRecursiveDirect("/app/services/b", "host=10.0.0.2");
    backup_server->createRecursiveDirect("/zkstandby/fence", "");
  }
  void connectPrimary(zk::Capabilities capabilities = zk::kAllCapabilities) {
    primary_fake = std::make_unique<FakeClient>(primary_server, zk::FakeClientOptions{.capabilities = capabilities});
    primary = std::make_unique<TapClient>(*primary_fake);
    primary->setWatchListener([this](const zk::WatchEvent& e) {
      loop.post([this, e] {
        if (replicator && e.generation == primary->generation()) replicator->onPrimaryEvent(e);
      });
    });
    // What the daemon's SiteSession does with the primary's session events.
    primary->setSessionListener([this](const zk::SessionEvent& e) {
      loop.post([this, e] {
        if (!replicator || e.generation != primary->generation()) return;
        if (e.state == zk::SessionState::kConnecting) {
          disconnected = true;
          replicator->setConnected(false, true);
        } else if (e.state == zk::SessionState::kConnected && disconnected) {
          disconnected = false;
          replicator->primaryReconnected();
          replicator->setConnected(true, true);
        } else if (e.state == zk::SessionState::kExpired) {
          replicator->setConnected(false, true);
          ASSERT_TRUE(primary_fake->reopen(5s));
          replicator->primaryGap();
          replicator->requestFullReconcile("session", true);
          replicator->setConnected(true, true);
        }
      });
    });
  }
  void start(WatchMode mode = WatchMode::kRecursive, reconcile::Engine engine = {}) {
    if (!primary) connectPrimary();
    if (engine.options.roots.empty()) engine.options.roots = {{"/app", "/app"}};
    engine.options.max_delete_fraction = 1.0;  // the trees here are tiny
    replicator = std::make_unique<Replicator>(loop, *primary, backup, engine,
                                              std::vector<zk::Op>{zk::CheckOp{"/zkstandby/fence", 0}}, metrics, index,
                                              ReplicatorHooks{}, mode);
    replicator->requestFullReconcile("leader", false);
    ASSERT_TRUE(runUntil([&] { return replicator->firstReconcileDone(); }));
  }
  void TearDown() override {
    replicator.reset();
    if (primary) primary->open();
    backup.open();
    if (primary_fake) primary_fake->close();
    backup_fake.close();
  }

  template <typename F>
  bool runUntil(F&& done, std::chrono::milliseconds timeout = 10s) {
    return loop.runUntil(std::forward<F>(done), EventLoop::Clock::now() + timeout);
  }
  std::map<std::string, std::string> tree(FakeServer& s) {
    std::map<std::string, std::string> out;
    for (const auto& n : s.nodes("/app")) out[n.path] = n.data;
    return out;
  }
  bool converges() {
    return runUntil([&] { return tree(*backup_server) == tree(*primary_server) && replicator->queueDepth() == 0; });
  }
  std::string backupData(const std::string& path) {
    auto n = backup_server->node(path);
    return n ? n->data : "<absent>";
  }
};

// I9 and I5: the subscription is one addWatch per root, sent before any
// read, and no read ever sets a one-shot watch (the fake, like a 3.8
// server, would silently replace the recursive watch with it).
TEST_F(RecursiveTest, WatchesEachRootOnceBeforeItsFirstReadAndNeverSetsAOneShotWatch) {
  start();
  ASSERT_TRUE(converges());
  const auto log = primary->log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front(), "addWatch") << "the first request of the session";
  EXPECT_EQ(primary->count("addWatch"), 1u);
  EXPECT_EQ(replicator->watchedRoots(), 1u);
  EXPECT_EQ(metrics.watches.value(), 1);

  primary_server->setDirect("/app/services/a", "host=10.0.0.9");
  primary_server->createRecursiveDirect("/app/services/c/deep/er", "x");
  ASSERT_TRUE(converges());
  primary_server->removeDirect("/app/services/b");
  primary_server->removeRecursiveDirect("/app/services/c");
  primary_server->createRecursiveDirect("/app/services/c", "again");
  ASSERT_TRUE(converges());
  primary_server->setDirect("/app/services/c", "later");
  ASSERT_TRUE(converges()) << "a change after many events still arrives: the recursive watch is intact";
  EXPECT_EQ(primary->watchedReads(), 0u) << "a read set a one-shot watch (ZOOKEEPER-4466)";
  EXPECT_EQ(primary_fake->watchCount(), 1u) << "the session holds exactly the root's recursive watch";
  EXPECT_GT(metrics.events_created.value(), 0u);
  EXPECT_GT(metrics.events_deleted.value(), 0u);
  EXPECT_GT(metrics.events_data.value(), 0u);
  EXPECT_EQ(metrics.events_children.value(), 0u) << "a recursive watch fires no children events";
}

// I5 and I9: a child created or deleted is replicated by its own event;
// its parent (a directory of any size) is never listed for it.
TEST_F(RecursiveTest, AChildCreatedOrDeletedIsReplicatedWithoutListingItsParent) {
  start();
  ASSERT_TRUE(converges());
  const auto lists = primary->count("getChildren") + primary->count("multiRead");
  primary_server->createDirect({.path = "/app/services/c", .data = "host=10.0.0.3"});
  primary_server->removeDirect("/app/services/b");
  ASSERT_TRUE(converges());
  EXPECT_EQ(primary->count("getChildren") + primary->count("multiRead"), lists);
  EXPECT_EQ(backupData("/app/services/c"), "host=10.0.0.3");
  EXPECT_EQ(backupData("/app/services/b"), "<absent>");
}

// I6: a deleted subtree fires one NodeDeleted per node, leaves first; each
// erases its own index entry, so nothing of it is left indexed.
TEST_F(RecursiveTest, ADeletedSubtreeLeavesNoIndexEntryBehind) {
  start();
  ASSERT_TRUE(converges());
  const size_t before = index.size();
  primary_server->createRecursiveDirect("/app/tmp/x/y/z", "1");
  primary_server->createRecursiveDirect("/app/tmp/w", "2");
  ASSERT_TRUE(converges());
  EXPECT_EQ(index.size(), before + 5);
  primary_server->removeRecursiveDirect("/app/tmp");
  ASSERT_TRUE(converges());
  EXPECT_EQ(index.size(), before);
}

// I4: a live event does not wait for a full pass (here an audit held
// back at its listing of /app/services).
TEST_F(RecursiveTest, LiveEventsReplicateWhileAFullPassIsHeldBack) {
  start();
  ASSERT_TRUE(converges());
  primary->gate("getChildren", "/app/services");
  primary->gate("multiRead", "children:/app/services");
  replicator->requestFullReconcile("audit", false);
  ASSERT_TRUE(runUntil([&] { return primary->held() > 0; }));
  primary_server->createRecursiveDirect("/app/live", "now");
  primary_server->setDirect("/app/services/a", "host=10.0.0.7");
  EXPECT_TRUE(runUntil([&] { return backupData("/app/live") == "now" && backupData("/app/services/a") == "host=10.0.0.7"; }))
      << "live events waited for the full pass";
  EXPECT_GT(primary->held(), 0u) << "the full pass was still held";
  EXPECT_TRUE(replicator->fullPassRunning());
  primary->open();
  EXPECT_TRUE(runUntil([&] { return !replicator->fullPassRunning(); }));
  EXPECT_TRUE(converges());
}

// I2: a full pass read P before an event pass read and wrote a newer P; the
// full pass's plan (here an update back to the older value, its backup read
// held until the newer value landed) is dropped. Values never go back.
TEST_F(RecursiveTest, AFullPassDropsAPlanOlderThanAnEventPassPlan) {
  start();
  ASSERT_TRUE(converges());
  primary_server->setDirect("/app/services/a", "v1");
  ASSERT_TRUE(converges());
  // The audit reads the primary's v1, then its backup read of the node waits.
  backup.gate("get", "/app/services/a");
  backup.gate("multiRead", "/app/services/a");  // its data read
  replicator->requestFullReconcile("audit", false);
  ASSERT_TRUE(runUntil([&] { return backup.held() > 0; }));
  const int32_t version_before = backup_server->node("/app/services/a")->stat.version;
  // v2 on the primary: the event pass reads it (newer) and writes it.
  primary_server->setDirect("/app/services/a", "v2");
  ASSERT_TRUE(runUntil([&] { return backupData("/app/services/a") == "v2"; }));
  backup.open();  // the audit now sees v2 on the backup and holds v1 from its read
  ASSERT_TRUE(runUntil([&] { return !replicator->fullPassRunning(); }));
  ASSERT_TRUE(converges());
  if (!replicator->fullPassNumbersReads()) {
    GTEST_SKIP() << "this reconciler does not number its reads (the merge hooks land with the multiRead reconciler)";
  }
  EXPECT_EQ(backupData("/app/services/a"), "v2");
  EXPECT_EQ(backup_server->node("/app/services/a")->stat.version, version_before + 1)
      << "the backup went back to v1 and forward again";
}

// I3: the full pass listed /app before /app/new existed; an event pass then
// created /app/new on the backup, and the full pass's backup listing (held
// until then) shows it without a primary counterpart. It is kept.
TEST_F(RecursiveTest, AFullPassKeepsAnOrphanThatAnEventPassPlannedAfterItsListing) {
  start();
  ASSERT_TRUE(converges());
  backup.gate("getChildren", "/app");
  backup.gate("multiRead", "children:/app");
  auto primary_listings = [&] { return primary->seen("getChildren", "/app") + primary->seen("multiRead", "children:/app"); };
  const auto listed_before = primary_listings();
  replicator->requestFullReconcile("audit", false);
  // The audit listed /app on the primary (answered), and its backup listing waits.
  ASSERT_TRUE(runUntil([&] { return backup.held() > 0 && primary_listings() > listed_before; }));
  ASSERT_TRUE(primary_fake->waitIdle());
  primary_server->createDirect({.path = "/app/new", .data = "fresh"});
  ASSERT_TRUE(runUntil([&] { return backupData("/app/new") == "fresh"; }));
  const int64_t czxid = backup_server->node("/app/new")->stat.czxid;
  backup.open();
  ASSERT_TRUE(runUntil([&] { return !replicator->fullPassRunning(); }));
  ASSERT_TRUE(converges());
  if (!replicator->fullPassNumbersReads()) {
    GTEST_SKIP() << "this reconciler does not number its reads (the merge hooks land with the multiRead reconciler)";
  }
  ASSERT_TRUE(backup_server->node("/app/new"));
  EXPECT_EQ(backup_server->node("/app/new")->stat.czxid, czxid) << "deleted as an orphan and created again";
}

// I7: a full pass's create of /app/gone is queued (held) when the primary
// deletes the node; the deletion's event pass finds no backup copy. Once
// the full pass is done the node is looked at again, and the late create
// does not stay.
TEST_F(RecursiveTest, ANodeDeletedWhileAFullPassStillCreatesItDoesNotStay) {
  start();
  ASSERT_TRUE(converges());
  primary_server->createDirect({.path = "/app/gone", .data = "x"});
  ASSERT_TRUE(converges());
  backup_server->removeDirect("/app/gone");  // drift: the audit will create it again
  backup.gate("multi", "/app/gone");
  backup.gate("create", "/app/gone");
  replicator->requestFullReconcile("audit", false);
  ASSERT_TRUE(runUntil([&] { return backup.held() > 0; }));
  primary_server->removeDirect("/app/gone");
  // The event pass ran and found nothing to delete.
  ASSERT_TRUE(runUntil([&] {
    return metrics.events_deleted.value() >= 1 && replicator->eventPassesRunning() == 0 &&
           replicator->queueDepth() <= 1;
  }));
  backup.open();
  ASSERT_TRUE(runUntil([&] { return !replicator->fullPassRunning(); }));
  EXPECT_TRUE(converges());
  EXPECT_EQ(backupData("/app/gone"), "<absent>");
}

// I8: after a lost connection (same session) the server re-adds the watch
// and replays nothing: a re-verification finds what changed meanwhile,
// and live events replicate while it runs.
TEST_F(RecursiveTest, AReconnectReVerifiesTheTreeWhileLiveEventsReplicate) {
  start();
  ASSERT_TRUE(converges());
  primary_fake->disconnect();
  ASSERT_TRUE(runUntil([&] { return disconnected; }));
  primary_server->setDirect("/app/services/a", "changed-while-away");
  primary_server->createRecursiveDirect("/app/services/c", "created-while-away");
  primary_server->removeDirect("/app/services/b");
  // The re-verification is held at the services listing.
  primary->gate("getChildren", "/app/services");
  primary->gate("multiRead", "children:/app/services");
  ASSERT_EQ(primary_fake->reconnect(), zk::SessionState::kConnected);
  ASSERT_TRUE(runUntil([&] { return replicator->reverifying() && primary->held() > 0; }));
  primary_server->createRecursiveDirect("/app/live", "after");
  EXPECT_TRUE(runUntil([&] { return backupData("/app/live") == "after"; })) << "a live event waited";
  EXPECT_EQ(backupData("/app/services/a"), "host=10.0.0.1") << "the change made while away has no event";
  primary->open();
  EXPECT_TRUE(runUntil([&] { return !replicator->fullPassRunning(); }));
  EXPECT_TRUE(converges());
  EXPECT_GT(metrics.reverify_nodes.value(), 0u);
  EXPECT_EQ(primary->count("addWatch"), 1u) << "the client re-added the watch itself";
  EXPECT_EQ(primary_fake->watchCount(), 1u);
}

// A new session (after expiry) holds no watch: it is added again, then the
// tree is read; changes made meanwhile are found.
TEST_F(RecursiveTest, AnExpiredSessionIsWatchedAgainAndReRead) {
  start();
  ASSERT_TRUE(converges());
  primary_fake->expireSession();
  primary_server->setDirect("/app/services/a", "while-expired");
  ASSERT_TRUE(converges());
  EXPECT_EQ(primary->count("addWatch"), 2u);
  EXPECT_EQ(primary_fake->watchCount(), 1u);
  primary_server->setDirect("/app/services/b", "after");
  EXPECT_TRUE(converges());
}

// A server without addWatch (3.5): per-node watches, everything still replicates.
TEST_F(RecursiveTest, WithoutAddWatchItFallsBackToPerNodeWatches) {
  connectPrimary(zk::Capabilities{.multi_read = false, .persistent_watches = false});
  start(WatchMode::kRecursive);
  EXPECT_EQ(replicator->mode(), WatchMode::kPerNode);
  ASSERT_TRUE(converges());
  EXPECT_GT(primary->watchedReads(), 0u);
  primary_server->setDirect("/app/services/a", "per-node");
  primary_server->createRecursiveDirect("/app/services/c/d", "new");
  EXPECT_TRUE(converges());
}

// CVE-2024-23944 (Debian 3.8.0-11+deb12u2): the server sends no event for a
// node the replicator cannot read. Such a node is reported, never skipped
// silently.
TEST_F(RecursiveTest, ANodeTheReplicatorCannotReadIsReported) {
  primary_server->createDirect({.path = "/app/private", .data = "x", .acl = {{zk::perm::kAdmin, "world", "anyone"}}});
  start();
  EXPECT_EQ(replicator->unreadableNodes(), 1u);
  EXPECT_EQ(replicator->firstUnreadable(), "/app/private");
  replicator->updateGauges();
  EXPECT_EQ(metrics.unreadable_nodes.value(), 1);
}

// A deleted node takes its backup copy's subtree with it (drift below it
// too), but a standby-site ephemeral under it keeps it: reported as blocked.
TEST_F(RecursiveTest, ADeletedNodeTakesItsBackupSubtreeExceptAStandbyEphemeral) {
  primary_server->createRecursiveDirect("/app/x/y", "1");
  primary_server->createRecursiveDirect("/app/z/y", "1");
  start();
  ASSERT_TRUE(converges());
  backup_server->createDirect({.path = "/app/x/y/drift", .data = "d"});
  backup_server->createDirect({.path = "/app/z/standby", .data = "e", .mode = zk::CreateMode::kEphemeral}, 0x77);
  primary_server->removeRecursiveDirect("/app/x");
  primary_server->removeRecursiveDirect("/app/z");
  ASSERT_TRUE(runUntil([&] { return backupData("/app/x") == "<absent>" && backupData("/app/z/y") == "<absent>"; }));
  EXPECT_EQ(backupData("/app/x/y/drift"), "<absent>");
  EXPECT_EQ(backupData("/app/z/standby"), "e") << "a standby ephemeral is never removed";
  EXPECT_EQ(backupData("/app/z"), "") << "and it keeps its parent";
}

// A child of a node that is not replicated (its payload does not map) is
// left alone, and created with its parent once the parent maps.
TEST_F(RecursiveTest, AChildOfAnUnreplicableParentIsCreatedWithItsParentLater) {
  reconcile::Engine engine;
  engine.options.roots = {{"/app", "/app"}};
  engine.options.mapper = [](const std::string& path, const std::string& data) {
    reconcile::MappedNode m{true, path, data, {}, {}};
    if (data == "bad") m.failure = "does not map";
    return m;
  };
  start(WatchMode::kRecursive, engine);
  ASSERT_TRUE(converges());
  primary_server->createDirect({.path = "/app/p", .data = "bad"});
  primary_server->createDirect({.path = "/app/p/c", .data = "child"});
  ASSERT_TRUE(runUntil([&] { return replicator->queueDepth() == 0 && index.find("/app/p/c"); }));
  EXPECT_EQ(backupData("/app/p"), "<absent>");
  EXPECT_EQ(backupData("/app/p/c"), "<absent>");
  primary_server->setDirect("/app/p", "good");
  EXPECT_TRUE(converges());
  EXPECT_EQ(backupData("/app/p/c"), "child");
}

}  // namespace
}  // namespace zks::daemon
