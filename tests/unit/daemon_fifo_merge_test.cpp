// The FIFO merge rule's pieces (src/daemon/fifo_merge.h): the numbering of
// replies and events (I1) and the ledger's decisions (I2, I3). The
// interleavings through a whole replicator are in daemon_recursive_test.cpp.

#include <gtest/gtest.h>

#include "common/event_loop.h"
#include "daemon/fifo_merge.h"
#include "testdoubles/fake_client.h"

namespace zks::daemon {
namespace {

using namespace std::chrono_literals;

// I1: numbered when the loop processes them, a reply after an event holds
// the event's change, a reply before it does not.
TEST(FifoMerge, RepliesAndEventsAreNumberedInTheSessionsOrder) {
  auto server = std::make_shared<zk::FakeServer>();
  server->createRecursiveDirect("/n", "v1");
  EventLoop loop;
  zk::FakeClient client(server);
  ReadSequence seq;
  struct Seen {
    uint64_t seq;
    std::string what;
  };
  std::vector<Seen> seen;
  client.setWatchListener([&](const zk::WatchEvent& e) {
    loop.post([&, e] { seen.push_back({seq.next(), "event " + e.path}); });
  });
  auto read = [&] {
    client.get("/n", false, [&](zk::GetResult r) { loop.post([&, r] { seen.push_back({seq.next(), r.data}); }); });
  };
  bool added = false;
  client.addWatch("/n", zk::AddWatchMode::kPersistentRecursive, [&](zk::VoidResult r) {
    loop.post([&, r] { added = r.code == zk::Code::kOk; });
  });
  ASSERT_TRUE(loop.runUntil([&] { return added; }, EventLoop::Clock::now() + 5s));
  read();
  ASSERT_TRUE(client.waitIdle());
  server->setDirect("/n", "v2");
  read();
  ASSERT_TRUE(loop.runUntil([&] { return seen.size() == 3; }, EventLoop::Clock::now() + 5s));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].what, "v1");
  EXPECT_EQ(seen[1].what, "event /n");
  EXPECT_EQ(seen[2].what, "v2") << "a reply numbered after the event holds its change";
  EXPECT_LT(seen[0].seq, seen[1].seq);
  EXPECT_LT(seen[1].seq, seen[2].seq);
  client.close();
}

// I2: a full pass may plan P only from a read newer than the last event
// pass plan for P.
TEST(FifoMerge, AFullPassPlanOlderThanAnEventPassPlanIsDropped) {
  MergeLedger ledger;
  ledger.fullPassStarted();
  ledger.planned("/p", "/b", 10);
  EXPECT_FALSE(ledger.mayPlan("/p", "/b", 9));
  EXPECT_TRUE(ledger.mayPlan("/p", "/b", 11));
  EXPECT_TRUE(ledger.mayPlan("/other", "/bo", 1)) << "a path no event pass planned";
  ledger.planned("/p", "/b", 5);  // an older event-pass read never lowers it
  EXPECT_FALSE(ledger.mayPlan("/p", "/b", 9));
}

// I2 by backup path: a per-node children pass that deleted the copy of a
// child gone from the primary (an orphan delete names only the backup path)
// wins over an older full-pass read that still saw the child: that read's
// create would bring the copy back, for good, since no watch fires again.
TEST(FifoMerge, AFullPassPlanOlderThanAnEventPassOrphanDeleteIsDropped) {
  MergeLedger ledger;
  ledger.fullPassStarted();
  ledger.planned("", "/b/gone", 30);
  EXPECT_FALSE(ledger.mayPlan("/p/gone", "/b/gone", 29));
  EXPECT_TRUE(ledger.mayPlan("/p/gone", "/b/gone", 31)) << "read after the delete: the child is back on the primary";
  EXPECT_TRUE(ledger.mayPlan("/p/else", "/b/else", 1));
}

// I3: an orphan an event pass planned after the full pass listed its
// primary parent is not deleted.
TEST(FifoMerge, AnOrphanPlannedAfterTheListingIsKept) {
  MergeLedger ledger;
  ledger.fullPassStarted();
  ledger.planned("/p/new", "/b/new", 20);
  EXPECT_FALSE(ledger.mayDeleteOrphan("/b/new", 15)) << "listed before the event pass planned it";
  EXPECT_TRUE(ledger.mayDeleteOrphan("/b/new", 25)) << "listed after: really an orphan";
  EXPECT_TRUE(ledger.mayDeleteOrphan("/b/else", 1));
}

// Entries are kept only while a full pass runs (no full pass reads older
// than a plan made while none ran), and all go when it ends.
TEST(FifoMerge, TheLedgerHoldsEntriesOnlyWhileAFullPassRuns) {
  MergeLedger ledger;
  ledger.planned("/p", "/b", 10);
  EXPECT_EQ(ledger.size(), 0u);
  ledger.fullPassStarted();
  ledger.planned("/p", "/b", 10);
  EXPECT_EQ(ledger.size(), 2u);
  ledger.fullPassEnded();
  EXPECT_EQ(ledger.size(), 0u);
  EXPECT_TRUE(ledger.mayPlan("/p", "/b", 1));
}

}  // namespace
}  // namespace zks::daemon
