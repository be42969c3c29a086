#include <gtest/gtest.h>

#include "apply/applier.h"
#include "testdoubles/fake_client.h"

namespace zks::apply {
namespace {

using zk::FakeClient;
using zk::FakeServer;

plan::Change create(const std::string& path) {
  return plan::Change{.kind = plan::ChangeKind::kCreate, .path = path, .after = std::string("d")};
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

}  // namespace
}  // namespace zks::apply
