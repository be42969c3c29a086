#include <gtest/gtest.h>

#include "apply/applier.h"
#include "testdoubles/fake_client.h"

namespace zks::apply {
namespace {

using zk::FakeClient;
using zk::FakeServer;

plan::Change create(const std::string& path) {
  return plan::Change{.kind = plan::ChangeKind::kCreate, .path = path, .after = std::string("d"), .acl = zk::openAcl()};
}

// One slot, held busy by a paused client: what is flushed meanwhile waits.
class ApplierTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  FakeClient client{server};
  EventLoop loop;
  std::vector<Outcome> outcomes;
  Applier applier{client, loop, ApplierOptions{.max_batches_in_flight = 1},
                  [this](const Outcome& o) { outcomes.push_back(o); }};

  bool allAnswered(size_t n) {
    return loop.runUntil([&] { return outcomes.size() == n; }, EventLoop::Clock::now() + std::chrono::seconds(10));
  }
};

TEST_F(ApplierTest, FlushesWhileEverySlotIsBusyGoOutAsOneMulti) {
  client.pauseRequests();
  applier.submit(create("/x"));
  applier.flush();  // takes the only slot
  for (int i = 0; i < 10; ++i) {
    applier.submit(create("/x/c" + std::to_string(i)));
    applier.flush();  // one small flush per event pass
  }
  client.resumeRequests();
  ASSERT_TRUE(allAnswered(11));
  for (const auto& o : outcomes) EXPECT_EQ(o.kind, OutcomeKind::kApplied) << o.change.path;
  EXPECT_EQ(server->counters().multis, 2u);
  EXPECT_EQ(server->nodes("/x").size(), 11u);
}

TEST_F(ApplierTest, ASingleRequestWaitsForTheBatchesQueuedBeforeIt) {
  client.pauseRequests();
  applier.submit(create("/a"));
  applier.flush();  // in flight
  applier.submit(create("/a/b"));
  applier.flush();  // waits for the slot
  // setACL is not a multi op: it goes alone, and must not overtake /a/b.
  zk::AclList acl = zk::openAcl();
  acl.front().perms = zk::perm::kRead | zk::perm::kWrite;
  applier.submit(plan::Change{.kind = plan::ChangeKind::kSetAcl, .path = "/a/b", .acl = acl, .expected_version = 0});
  client.resumeRequests();
  ASSERT_TRUE(allAnswered(3));
  for (const auto& o : outcomes) EXPECT_EQ(o.kind, OutcomeKind::kApplied) << o.change.path;
  ASSERT_TRUE(server->node("/a/b"));
  EXPECT_EQ(server->node("/a/b")->acl, acl);
}

// Issue 12 item 17: only a failed fence check (op 0: bad version, no node)
// is a lost fence. A check refused for another reason, or a later op's
// refusal, is an ordinary refusal of the change.
TEST(ApplierFence, OnlyABadVersionOrMissingFenceIsALostFence) {
  EventLoop loop;  // outlives the client
  auto server = std::make_shared<FakeServer>();
  FakeClient client{server};
  server->createDirect({.path = "/fence"});
  // The client may write below /open but not read the fence node.
  server->createDirect({.path = "/hidden", .acl = {{zk::perm::kAll & ~zk::perm::kRead, "world", "anyone"}}});
  server->createDirect({.path = "/locked", .acl = {{zk::perm::kRead, "world", "anyone"}}});
  std::vector<Outcome> outcomes;
  auto run = [&](std::vector<zk::Op> prefix, plan::Change change) {
    Applier applier{client, loop, ApplierOptions{.prefix = std::move(prefix)},
                    [&](const Outcome& o) { outcomes.push_back(o); }};
    outcomes.clear();
    applier.submit(std::move(change));
    applier.flush();
    EXPECT_TRUE(loop.runUntil([&] { return outcomes.size() == 1; }, EventLoop::Clock::now() + std::chrono::seconds(10)));
    return applier.fenced();
  };
  // A create refused on op 1 (no CREATE permission on the parent).
  EXPECT_FALSE(run({zk::CheckOp{"/fence", 0}}, create("/locked/child")));
  EXPECT_EQ(outcomes.at(0).kind, OutcomeKind::kRefused);
  EXPECT_EQ(outcomes.at(0).code, zk::Code::kNoAuth);
  // The fence check itself refused for lack of READ: not a moved fence.
  EXPECT_FALSE(run({zk::CheckOp{"/hidden", 0}}, create("/a")));
  EXPECT_EQ(outcomes.at(0).kind, OutcomeKind::kRefused);
  EXPECT_EQ(outcomes.at(0).code, zk::Code::kNoAuth);
  // The fence moved, or is gone: fenced.
  EXPECT_TRUE(run({zk::CheckOp{"/fence", 7}}, create("/b")));
  EXPECT_EQ(outcomes.at(0).kind, OutcomeKind::kFenced);
  EXPECT_TRUE(run({zk::CheckOp{"/nofence", 0}}, create("/c")));
  EXPECT_EQ(outcomes.at(0).kind, OutcomeKind::kFenced);
}

// Issue 12 item 3: setACL (never a multi op) and container/TTL creates on a
// client that cannot batch them go out only after a fence check passed on
// the same session; with the fence moved, not one of them lands.
class FencedSinglesTest : public ::testing::Test {
 protected:
  EventLoop loop;  // outlives the client
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  // Like the libzookeeper backend: container creates cannot go in a multi.
  FakeClient client{server, zk::FakeClientOptions{.capabilities = zk::Capabilities{}}};
  std::vector<Outcome> outcomes;

  void SetUp() override {
    server->createDirect({.path = "/fence"});
    server->createDirect({.path = "/n", .acl = zk::openAcl()});
  }
  bool answered(size_t n) {
    return loop.runUntil([&] { return outcomes.size() == n; }, EventLoop::Clock::now() + std::chrono::seconds(10));
  }
  static plan::Change setAcl(zk::AclList acl) {
    return plan::Change{.kind = plan::ChangeKind::kSetAcl, .path = "/n", .acl = std::move(acl), .expected_version = -1};
  }
  static plan::Change container(const std::string& path) {
    auto c = create(path);
    c.mode = zk::CreateMode::kContainer;
    return c;
  }
};

TEST_F(FencedSinglesTest, ASetAclFollowsAPassedFenceCheckAndNeverAMovedOne) {
  zk::AclList read_only{{zk::perm::kRead | zk::perm::kAdmin, "world", "anyone"}};
  {
    Applier applier{client, loop, ApplierOptions{.prefix = {zk::CheckOp{"/fence", 0}}},
                    [&](const Outcome& o) { outcomes.push_back(o); }};
    client.resetCounters();
    applier.submit(setAcl(read_only));
    applier.submit(container("/box"));
    ASSERT_TRUE(answered(2));
    EXPECT_EQ(outcomes[0].kind, OutcomeKind::kApplied);
    EXPECT_EQ(outcomes[1].kind, OutcomeKind::kApplied);
    EXPECT_EQ(server->node("/n")->acl, read_only);
    EXPECT_TRUE(server->node("/box"));
    EXPECT_EQ(client.counters().multis, 2u) << "each went out behind a fence check";
  }
  outcomes.clear();
  server->setDirect("/fence", "failover");  // the fence moves
  Applier applier{client, loop, ApplierOptions{.prefix = {zk::CheckOp{"/fence", 0}}},
                  [&](const Outcome& o) { outcomes.push_back(o); }};
  applier.submit(setAcl(zk::openAcl()));
  applier.submit(container("/box2"));
  ASSERT_TRUE(answered(2));
  EXPECT_EQ(outcomes[0].kind, OutcomeKind::kFenced);
  EXPECT_EQ(outcomes[1].kind, OutcomeKind::kFenced);
  EXPECT_TRUE(applier.fenced());
  EXPECT_EQ(server->node("/n")->acl, read_only) << "a setACL landed after the fence moved";
  EXPECT_FALSE(server->node("/box2"));
}

TEST_F(FencedSinglesTest, AClientThatCanBatchThemPutsContainerCreatesInTheFencedMulti) {
  // As the native client does: container and TTL creates may go in a multi.
  zk::FakeClient capable{server};
  ASSERT_TRUE(capable.capabilities().special_creates_in_multi);
  Applier applier{capable, loop, ApplierOptions{.prefix = {zk::CheckOp{"/fence", 0}}},
                  [&](const Outcome& o) { outcomes.push_back(o); }};
  applier.submit(create("/a"));
  applier.submit(container("/a/box"));
  applier.flush();
  ASSERT_TRUE(answered(2));
  EXPECT_EQ(outcomes[1].kind, OutcomeKind::kApplied);
  EXPECT_EQ(capable.counters().multis, 1u) << "the container create went in the same multi";
  EXPECT_EQ(server->node("/a/box")->kind, zk::NodeKind::kContainer);
}

// The batch bound is computed without building each op: it must agree
// with the size of the op that is sent.
TEST(ApplierRequestBytes, AgreesWithTheSerializedSizeOfTheOpSent) {
  const std::vector<plan::Change> changes{
      {.kind = plan::ChangeKind::kCreate, .path = "/zms/topic/t1", .after = std::string(300, 'x'),
       .acl = {{zk::perm::kAll, "digest", "zks:0123456789012345678901234567="}, {zk::perm::kRead, "world", "anyone"}}},
      {.kind = plan::ChangeKind::kCreate, .path = "/a", .acl = zk::openAcl(), .mode = zk::CreateMode::kPersistentWithTtl,
       .ttl_ms = 5000},
      {.kind = plan::ChangeKind::kUpdate, .path = "/zms/cluster/kafka_sh_01", .after = "bootAddr=10.50.1.11:9092\n"},
      {.kind = plan::ChangeKind::kUpdate, .path = "/empty"},
      {.kind = plan::ChangeKind::kDelete, .path = "/zms/topic/gone", .before = "old"},
  };
  for (const auto& c : changes) EXPECT_EQ(requestBytes(c), zk::serializedSize(toOp(c))) << c.path;
}

}  // namespace
}  // namespace zks::apply
