// Leader election against the in-memory ZooKeeper: several candidates, each
// on its own client (session) of one server.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "state/election.h"
#include "state/store.h"
#include "support/wait.h"
#include "testdoubles/fake_client.h"
#include "testdoubles/fault_client.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

using std::chrono::seconds;
using testing::waitFor;

constexpr const char* kStatePath = "/zkstandby";

// One daemon: a client whose listeners feed its election, counting callbacks.
struct Candidate {
  Candidate(std::shared_ptr<zk::FakeServer> server, std::string id)
      : owned_client(std::make_unique<zk::FakeClient>(server)), client(*owned_client), identity(std::move(id)) {
    election = std::make_unique<LeaderElection>(
        client, kStatePath, identity,
        LeaderElection::Callbacks{.on_elected = [this] { ++elected; },
                                  .on_lost = [this] { ++lost; },
                                  .on_error = [this](const Error&) { ++errors; }});
    client.setWatchListener([this](const zk::WatchEvent& e) { election->handleWatch(e); });
    client.setSessionListener([this](const zk::SessionEvent& e) { election->handleSession(e); });
  }
  // The listeners use the election until the client is gone: withdraw,
  // destroy the client (its completion thread ends), then the election.
  ~Candidate() {
    election->stop();
    owned_client.reset();
    election.reset();
  }

  std::unique_ptr<zk::FakeClient> owned_client;
  zk::FakeClient& client;
  std::string identity;
  std::unique_ptr<LeaderElection> election;
  std::atomic<int> elected{0}, lost{0}, errors{0};
};

class ElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk::FakeClient setup(server_);
    ASSERT_TRUE(ensureLayout(setup, kStatePath).has_value());
  }
  std::shared_ptr<zk::FakeServer> server_ = std::make_shared<zk::FakeServer>();
};

TEST_F(ElectionTest, TheFirstCandidateLeadsAndTheSecondWaits) {
  Candidate a(server_, "host-a:1"), b(server_, "host-b:2");
  a.election->start();
  ASSERT_TRUE(waitFor([&] { return a.election->isLeader(); }, seconds(5)));
  b.election->start();
  ASSERT_TRUE(waitFor([&] { return !b.election->nodePath().empty(); }, seconds(5)));
  ASSERT_TRUE(server_->waitIdle());
  EXPECT_FALSE(b.election->isLeader());
  EXPECT_EQ(a.elected, 1);
  EXPECT_EQ(b.elected, 0);

  auto candidates = readCandidates(a.client, kStatePath);
  ASSERT_TRUE(candidates.has_value());
  ASSERT_EQ(candidates->size(), 2u);
  EXPECT_EQ(candidates->at(0).identity, "host-a:1");
  EXPECT_EQ(candidates->at(1).identity, "host-b:2");
}

TEST_F(ElectionTest, WhenTheLeadersSessionExpiresTheNextCandidateTakesOver) {
  Candidate a(server_, "host-a:1"), b(server_, "host-b:2"), c(server_, "host-c:3");
  a.election->start();
  ASSERT_TRUE(waitFor([&] { return a.election->isLeader(); }, seconds(5)));
  b.election->start();  // one after the other: the order of the nodes is the order of succession
  ASSERT_TRUE(waitFor([&] { return !b.election->nodePath().empty(); }, seconds(5)));
  c.election->start();
  ASSERT_TRUE(waitFor([&] { return !c.election->nodePath().empty(); }, seconds(5)));

  a.client.expireSession();
  ASSERT_TRUE(waitFor([&] { return b.election->isLeader(); }, seconds(5)));
  EXPECT_TRUE(waitFor([&] { return a.lost == 1; }, seconds(5)));
  EXPECT_FALSE(a.election->isLeader());
  ASSERT_TRUE(server_->waitIdle());
  EXPECT_FALSE(c.election->isLeader());  // watches only its predecessor, b

  // The old leader gets a new session and rejoins behind the others.
  ASSERT_TRUE(a.client.reopen(std::chrono::seconds(1)).has_value());
  ASSERT_TRUE(waitFor([&] { return !a.election->nodePath().empty(); }, seconds(5)));
  auto candidates = readCandidates(b.client, kStatePath);
  ASSERT_TRUE(candidates.has_value());
  ASSERT_EQ(candidates->size(), 3u);
  EXPECT_EQ(candidates->front().identity, "host-b:2");
  EXPECT_EQ(candidates->back().identity, "host-a:1");
  EXPECT_FALSE(a.election->isLeader());
  EXPECT_EQ(a.errors + b.errors + c.errors, 0);
}

TEST_F(ElectionTest, AMiddleCandidateLeavingReWiresTheWatchChain) {
  Candidate a(server_, "a:1"), b(server_, "b:2"), c(server_, "c:3");
  a.election->start();
  ASSERT_TRUE(waitFor([&] { return a.election->isLeader(); }, seconds(5)));
  b.election->start();
  ASSERT_TRUE(waitFor([&] { return !b.election->nodePath().empty(); }, seconds(5)));
  c.election->start();
  ASSERT_TRUE(waitFor([&] { return !c.election->nodePath().empty(); }, seconds(5)));
  ASSERT_TRUE(server_->waitIdle());

  b.election->stop();  // c now has to watch a
  ASSERT_TRUE(server_->waitIdle());
  EXPECT_FALSE(c.election->isLeader());
  a.election->stop();
  ASSERT_TRUE(waitFor([&] { return c.election->isLeader(); }, seconds(5)));
  EXPECT_EQ(b.elected, 0);
  EXPECT_EQ(a.lost, 0);  // stop() is not a loss: the owner asked for it
}

TEST_F(ElectionTest, ALeaderWhoseNodeIsDeletedUnderItLosesAndRejoins) {
  Candidate a(server_, "a:1"), b(server_, "b:2");
  a.election->start();
  ASSERT_TRUE(waitFor([&] { return a.election->isLeader(); }, seconds(5)));
  b.election->start();
  ASSERT_TRUE(waitFor([&] { return !b.election->nodePath().empty(); }, seconds(5)));
  ASSERT_TRUE(server_->waitIdle());

  const std::string a_node = a.election->nodePath();
  ASSERT_EQ(server_->removeDirect(a_node).code, zk::Code::kOk);  // an operator's rm
  ASSERT_TRUE(waitFor([&] { return b.election->isLeader(); }, seconds(5)));
  ASSERT_TRUE(waitFor([&] { return a.lost == 1; }, seconds(5)));
  ASSERT_TRUE(waitFor([&] { return !a.election->nodePath().empty() && a.election->nodePath() != a_node; }, seconds(5)));
  EXPECT_FALSE(a.election->isLeader());
}

TEST_F(ElectionTest, ACreateWhoseAnswerIsLostIsFoundAgainNotDuplicated) {
  auto fake = std::make_shared<zk::FakeClient>(server_);
  zk::FaultClient client(fake);
  zk::FaultRule rule;
  rule.ops = zk::op_mask::bit(zk::OpKind::kCreate);
  rule.path_prefix = StatePaths(kStatePath).leader + "/";
  rule.mode = zk::FaultMode::kApplyThenTimeout;  // the node is created, the answer is lost
  rule.max_faults = 1;
  client.addRule(rule);
  std::atomic<int> elected{0}, errors{0};
  auto election = std::make_unique<LeaderElection>(
      client, kStatePath, "a:1",
      LeaderElection::Callbacks{.on_elected = [&] { ++elected; }, .on_error = [&](const Error&) { ++errors; }});
  client.setWatchListener([&](const zk::WatchEvent& e) { election->handleWatch(e); });
  client.setSessionListener([&](const zk::SessionEvent& e) { election->handleSession(e); });
  election->start();
  ASSERT_TRUE(waitFor([&] { return election->isLeader(); }, seconds(5)));
  EXPECT_EQ(client.injected(), 1u);
  auto candidates = readCandidates(*fake, kStatePath);
  ASSERT_TRUE(candidates.has_value());
  EXPECT_EQ(candidates->size(), 1u);
  EXPECT_EQ(elected, 1);
  EXPECT_EQ(errors, 0);
  election->stop();
  ASSERT_TRUE(client.waitIdle());
  ASSERT_TRUE(server_->waitIdle());
  EXPECT_TRUE(readCandidates(*fake, kStatePath)->empty());  // stop() withdrew the node
  fake->close();
  ASSERT_TRUE(client.waitIdle());
}

}  // namespace
}  // namespace zks::state
