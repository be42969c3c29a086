// Saving, loading and raising sequence counters against the in-memory ZooKeeper.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "state/counters.h"
#include "state/store.h"
#include "testdoubles/fake_client.h"
#include "testdoubles/fault_client.h"
#include "zk/blocking.h"

namespace zks::state {
namespace {

constexpr const char* kStatePath = "/zkstandby";

class CountersTest : public ::testing::Test {
 protected:
  std::shared_ptr<zk::FakeServer> server_ = std::make_shared<zk::FakeServer>();
  zk::FakeClient client_{server_};

  int64_t nextSuffix(const std::string& parent) {
    auto r = zk::createSync(client_, zk::CreateOp{.path = parent + "/s-", .mode = zk::CreateMode::kPersistentSequential});
    EXPECT_EQ(r.code, zk::Code::kOk) << parent;
    return sequenceSuffix(r.path);
  }
};

TEST_F(CountersTest, SaveAndLoadRoundTripAcrossChunks) {
  Counters big;
  for (int i = 0; i < 20000; ++i) big["/zms/topic/topic-with-a-long-name-" + std::to_string(i)] = i;
  ASSERT_TRUE(saveCounters(client_, kStatePath, big, std::nullopt, 1234).has_value());
  EXPECT_GE(server_->nodes(StatePaths(kStatePath).counters).size(), 4u);  // meta + several chunks
  auto loaded = loadCounters(client_, kStatePath);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().describe();
  EXPECT_TRUE(loaded->counters == big);
  EXPECT_EQ(loaded->saved_ms, 1234);
  EXPECT_TRUE(loaded->problems.empty());
}

// A daemon saves every few seconds: with one parent changed among many, one
// chunk is read and rewritten, not all of them.
TEST_F(CountersTest, ASaveRewritesOnlyTheChunkOfWhatChanged) {
  Counters big;
  for (int i = 0; i < 20000; ++i) big["/zms/topic/topic-with-a-long-name-" + std::to_string(i)] = i;
  CounterStore store(client_, kStatePath);
  ASSERT_TRUE(store.save(big, std::nullopt, 1).has_value());
  const size_t chunks = server_->nodes(StatePaths(kStatePath).counters).size() - 1;
  ASSERT_GE(chunks, 4u);

  big["/zms/topic/topic-with-a-long-name-7"] = 5000;
  server_->resetCounters();
  ASSERT_TRUE(store.save(big, std::nullopt, 2).has_value());
  const auto done = server_->counters();
  EXPECT_EQ(done.creates, 1u) << "one new chunk";
  EXPECT_EQ(done.deletes, 1u) << "the chunk it replaces";
  EXPECT_EQ(done.sets, 1u) << "the meta record";
  EXPECT_EQ(loadCounters(client_, kStatePath)->counters.at("/zms/topic/topic-with-a-long-name-7"), 5000);

  // Nothing changed: only the meta record (the time of the save) is written.
  server_->resetCounters();
  ASSERT_TRUE(store.save(big, std::nullopt, 3).has_value());
  EXPECT_EQ(server_->counters().creates + server_->counters().deletes, 0u);
  EXPECT_EQ(loadCounters(client_, kStatePath)->saved_ms, 3);
}

// Reading counters saved by an earlier version (meta {"chunks": N} and
// chunk-NNNN nodes), and rewriting them in the current layout.
TEST_F(CountersTest, CountersSavedInTheEarlierLayoutAreReadAndCarriedOver) {
  const StatePaths p(kStatePath);
  ASSERT_TRUE(ensureLayout(client_, kStatePath).has_value());
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = p.counters + "/chunk-0000", .data = R"({"/a":4})"}).code, zk::Code::kOk);
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = p.counters + "/chunk-0001", .data = R"({"/b":9})"}).code, zk::Code::kOk);
  ASSERT_EQ(server_->setDirect(p.counters, R"({"chunks":2,"parents":2,"saved_ms":77})").code, zk::Code::kOk);
  auto old = loadCounters(client_, kStatePath);
  ASSERT_TRUE(old.has_value()) << old.error().describe();
  EXPECT_EQ(old->counters, (Counters{{"/a", 4}, {"/b", 9}}));
  EXPECT_EQ(old->saved_ms, 77);

  ASSERT_TRUE(saveCounters(client_, kStatePath, {{"/c", 1}}, std::nullopt, 78).has_value());
  EXPECT_EQ(loadCounters(client_, kStatePath)->counters, (Counters{{"/a", 4}, {"/b", 9}, {"/c", 1}}));
  for (const auto& child : zk::getChildrenSync(client_, p.counters).children) {
    EXPECT_FALSE(child.starts_with("chunk-")) << child;
  }
}

// A chunk deleted by hand: the rest is still read (the failover's child scan
// covers what is lost), the loss is reported, and the next save repairs it.
TEST_F(CountersTest, AMissingChunkIsReportedAndTheRestStillRead) {
  Counters big;
  for (int i = 0; i < 20000; ++i) big["/zms/topic/topic-with-a-long-name-" + std::to_string(i)] = i;
  ASSERT_TRUE(saveCounters(client_, kStatePath, big, std::nullopt, 1).has_value());
  const StatePaths p(kStatePath);
  const auto children = zk::getChildrenSync(client_, p.counters).children;
  ASSERT_FALSE(children.empty());
  ASSERT_EQ(zk::removeSync(client_, zk::DeleteOp{p.counters + "/" + children.front()}).code, zk::Code::kOk);
  auto partial = loadCounters(client_, kStatePath);
  ASSERT_TRUE(partial.has_value()) << partial.error().describe();
  ASSERT_EQ(partial->problems.size(), 1u);
  EXPECT_NE(partial->problems[0].find(children.front()), std::string::npos) << partial->problems[0];
  EXPECT_GT(partial->counters.size(), big.size() / 2);
  EXPECT_LT(partial->counters.size(), big.size());

  ASSERT_TRUE(saveCounters(client_, kStatePath, big, std::nullopt, 2).has_value());
  auto repaired = loadCounters(client_, kStatePath);
  EXPECT_TRUE(repaired->problems.empty());
  EXPECT_TRUE(repaired->counters == big);
}

// A new leader starts with what it has seen; what earlier leaders saved for
// parents it has not seen yet must survive its first save.
TEST_F(CountersTest, SavesMergeWithWhatIsStoredKeepingTheLargerValuePerParent) {
  ASSERT_TRUE(saveCounters(client_, kStatePath, {{"/a", 5}, {"/b", 3}}, std::nullopt, 1).has_value());
  ASSERT_TRUE(saveCounters(client_, kStatePath, {{"/a", 2}, {"/c", 7}}, std::nullopt, 2).has_value());
  auto loaded = loadCounters(client_, kStatePath);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().describe();
  EXPECT_EQ(loaded->counters, (Counters{{"/a", 5}, {"/b", 3}, {"/c", 7}}));
  EXPECT_EQ(loaded->saved_ms, 2);
}

Counters manyCounters(const std::string& prefix, int n, int value) {
  Counters c;
  for (int i = 0; i < n; ++i) c[prefix + std::to_string(100000 + i) + "/a-rather-long-name-for-a-parent"] = value + i;
  return c;
}

// A save that is cut off after any of its requests (the fence moved, the
// connection broke) leaves a set a failover can read: the old one or the
// merged one, never a mix and never a meta record naming missing chunks.
TEST_F(CountersTest, ASaveCutOffAfterAnyRequestLeavesTheOldOrTheMergedSetReadable) {
  const Counters before = manyCounters("/zms/topic/b", 30000, 10);
  // Sorted first, these shift every chunk boundary of the old layout.
  const Counters added = manyCounters("/zms/topic/a", 30000, 20);
  Counters merged = before;
  for (const auto& [path, value] : added) merged[path] = value;

  bool saw_a_cut = false;
  for (uint64_t cut = 0; cut < 40; ++cut) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " multi requests");
    auto server = std::make_shared<zk::FakeServer>();
    zk::FakeClient plain(server);
    ASSERT_TRUE(saveCounters(plain, kStatePath, before, std::nullopt, 1).has_value());

    zk::FaultClient faulty(plain);
    zk::FaultRule refuse;
    refuse.ops = zk::op_mask::bit(zk::OpKind::kMulti);
    refuse.skip = cut;
    refuse.code = zk::Code::kConnectionLoss;
    faulty.addRule(refuse);
    auto saved = saveCounters(faulty, kStatePath, added, std::nullopt, 2);
    ASSERT_TRUE(faulty.waitIdle());
    if (faulty.injected() == 0) {
      ASSERT_TRUE(saved.has_value()) << saved.error().describe();
      EXPECT_GT(cut, 2u) << "a save this large takes several requests";
      break;  // the save needed fewer requests than `cut`: every cut point was tried
    }
    saw_a_cut = true;
    auto loaded = loadCounters(plain, kStatePath);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().describe();
    EXPECT_TRUE(loaded->problems.empty()) << loaded->problems.front();
    EXPECT_TRUE(loaded->counters == before || loaded->counters == merged)
        << loaded->counters.size() << " parents loaded, neither the old set nor the merged one";
    // A save reports failure only when the switch did not happen: what it
    // reports matches what readers see.
    if (!saved.has_value()) {
      EXPECT_TRUE(loaded->counters == before);
    }

    // The next save finishes the job and leaves no stray chunk behind.
    ASSERT_TRUE(saveCounters(plain, kStatePath, added, std::nullopt, 3).has_value());
    auto after = loadCounters(plain, kStatePath);
    ASSERT_TRUE(after.has_value());
    EXPECT_TRUE(after->counters == merged) << after->counters.size() << " parents loaded, " << merged.size()
                                           << " expected";
    // Every chunk left is one the meta record names.
    auto meta = nlohmann::json::parse(server->node(StatePaths(kStatePath).counters)->data);
    std::set<std::string> named;
    for (const auto& name : meta["chunks"]) {
      if (!name.get<std::string>().empty()) named.insert(name.get<std::string>());
    }
    std::set<std::string> present;
    for (const auto& child : zk::getChildrenSync(plain, StatePaths(kStatePath).counters).children) present.insert(child);
    EXPECT_EQ(present, named) << "chunks no meta names were left behind";
  }
  EXPECT_TRUE(saw_a_cut);
}

TEST_F(CountersTest, NothingSavedLoadsEmpty) {
  auto loaded = loadCounters(client_, kStatePath);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->counters.empty());
  EXPECT_EQ(loaded->saved_ms, 0);
}

TEST_F(CountersTest, AFencedReplicatorCannotOverwriteSavedCounters) {
  auto old_token = acquireFence(client_, kStatePath, "old:1");
  ASSERT_TRUE(old_token.has_value());
  ASSERT_TRUE(acquireFence(client_, kStatePath, "new:2").has_value());
  auto saved = saveCounters(client_, kStatePath, {{"/a", 1}}, *old_token, 1);
  ASSERT_FALSE(saved.has_value());
  EXPECT_EQ(saved.error().code, ErrorCode::kFenced);
  EXPECT_TRUE(loadCounters(client_, kStatePath)->counters.empty());
}

TEST_F(CountersTest, RaisedParentsHandOutSuffixesAtOrAboveTheDesiredValue) {
  for (const char* p : {"/p/a", "/p/b", "/p/c"}) ASSERT_EQ(server_->createRecursiveDirect(p), zk::Code::kOk);
  // /p/c is already past its target: it must not move.
  for (int i = 0; i < 3; ++i) nextSuffix("/p/c");
  auto report = raiseCounters(client_, {{"/p/a", 1}, {"/p/b", 777}, {"/p/c", 2}});
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->parents, 3u);
  EXPECT_EQ(report->raised, 2u);
  EXPECT_EQ(report->pairs, 1 + 777);
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(nextSuffix("/p/a"), 1);
  EXPECT_EQ(nextSuffix("/p/b"), 777);
  EXPECT_EQ(nextSuffix("/p/c"), 3);
}

TEST_F(CountersTest, PairsAreNeverSplitAcrossRequestsAndManyRequestsArePipelined) {
  ASSERT_EQ(server_->createRecursiveDirect("/p/a"), zk::Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/p/b"), zk::Code::kOk);
  RaiseOptions options;
  options.max_ops_per_multi = 7;  // odd on purpose: a pair must not straddle two requests
  options.max_request_bytes = 100000;
  std::vector<RaiseProgress> seen;
  options.progress = [&](const RaiseProgress& p) { seen.push_back(p); };
  server_->resetCounters();
  auto report = raiseCounters(client_, {{"/p/a", 100}, {"/p/b", 50}}, options);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->pairs, 150);
  EXPECT_GE(server_->counters().multis, 150u / 3);
  EXPECT_EQ(server_->counters().creates, 150u);
  EXPECT_EQ(server_->counters().deletes, 150u);
  EXPECT_EQ(zk::getChildrenSync(client_, "/p/a").children.size(), 0u);
  EXPECT_EQ(nextSuffix("/p/a"), 100);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().pairs_written, 150);
}

TEST_F(CountersTest, ReplicatedChildrenNewerThanTheSavedCounterAreCoveredButATimestampNameIsNot) {
  ASSERT_EQ(server_->createRecursiveDirect("/q"), zk::Code::kOk);
  // Replicated after the last save: the saved value (10) lags behind them.
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/q/item-0000000120"}).code, zk::Code::kOk);
  // A name that merely ends in ten digits.
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/q/session-1700000000"}).code, zk::Code::kOk);
  auto report = raiseCounters(client_, {{"/q", 10}});
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty());
  const int64_t next = nextSuffix("/q");
  EXPECT_EQ(next, 121);

  RaiseOptions no_scan;
  no_scan.scan_children = false;
  ASSERT_EQ(server_->createRecursiveDirect("/r"), zk::Code::kOk);
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/r/item-0000000120"}).code, zk::Code::kOk);
  ASSERT_TRUE(raiseCounters(client_, {{"/r", 10}}, no_scan).has_value());
  EXPECT_EQ(nextSuffix("/r"), 10);
}

TEST_F(CountersTest, AParentThatCannotBeRaisedIsReportedAndTheOthersStillAre) {
  ASSERT_EQ(server_->createRecursiveDirect("/ok"), zk::Code::kOk);
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/eph", .mode = zk::CreateMode::kEphemeral},
                                  client_.sessionId()).code,
            zk::Code::kOk);
  ASSERT_EQ(server_->createDirect(zk::CreateOp{.path = "/locked", .acl = {zk::Acl{zk::perm::kRead, "world", "anyone"}}}).code,
            zk::Code::kOk);
  auto report = raiseCounters(client_, {{"/ok", 5}, {"/eph", 5}, {"/locked", 5}, {"/absent", 5}});
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->missing, 1u);
  ASSERT_EQ(report->failures.size(), 2u);
  std::vector<std::string> failed{report->failures[0].path, report->failures[1].path};
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed, (std::vector<std::string>{"/eph", "/locked"}));
  EXPECT_EQ(nextSuffix("/ok"), 5);
}

TEST_F(CountersTest, AReplicatorRaisingAsItGoesIsStoppedByTheFence) {
  ASSERT_EQ(server_->createRecursiveDirect("/p"), zk::Code::kOk);
  auto token = acquireFence(client_, kStatePath, "replicator:1");
  ASSERT_TRUE(token.has_value());
  RaiseOptions options;
  options.fence = *token;
  auto ok = raiseCounters(client_, {{"/p", 10}}, options);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->pairs, 10);
  ASSERT_TRUE(acquireFence(client_, kStatePath, "replicator:2").has_value());
  auto fenced = raiseCounters(client_, {{"/p", 20}}, options);
  ASSERT_FALSE(fenced.has_value());
  EXPECT_EQ(fenced.error().code, ErrorCode::kFenced);
  EXPECT_EQ(nextSuffix("/p"), 10);
}

TEST_F(CountersTest, ARunawayTargetIsReportedInsteadOfRaised) {
  ASSERT_EQ(server_->createRecursiveDirect("/p"), zk::Code::kOk);
  RaiseOptions options;
  options.max_pairs_per_parent = 1000;
  auto report = raiseCounters(client_, {{"/p", 1001}}, options);
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->failures.size(), 1u);
  EXPECT_EQ(report->failures[0].path, "/p");
  EXPECT_EQ(report->pairs, 0);
  EXPECT_TRUE(raiseCounters(client_, {{"/p", 1000}}, options)->failures.empty());
}

TEST_F(CountersTest, AnUnreachableBackupIsAnError) {
  ASSERT_EQ(server_->createRecursiveDirect("/p"), zk::Code::kOk);
  client_.disconnect();
  auto report = raiseCounters(client_, {{"/p", 5}});
  ASSERT_FALSE(report.has_value());
}

TEST_F(CountersTest, ARaiseWhoseAnswersAreLostReReadsAndFinishesWithoutLeftovers) {
  ASSERT_EQ(server_->createRecursiveDirect("/p"), zk::Code::kOk);
  zk::FaultClient faulty(client_);
  zk::FaultRule applied_lost;
  applied_lost.ops = zk::op_mask::bit(zk::OpKind::kMulti);
  applied_lost.mode = zk::FaultMode::kApplyThenTimeout;
  applied_lost.max_faults = 2;
  faulty.addRule(applied_lost);
  zk::FaultRule not_sent;
  not_sent.ops = zk::op_mask::bit(zk::OpKind::kMulti);
  not_sent.max_faults = 2;
  faulty.addRule(not_sent);
  RaiseOptions options;
  options.max_ops_per_multi = 20;  // 10 pairs a request: several requests
  auto report = raiseCounters(faulty, {{"/p", 95}}, options);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(faulty.injected(), 4u);
  EXPECT_TRUE(zk::getChildrenSync(client_, "/p").children.empty());
  const int64_t next = nextSuffix("/p");
  EXPECT_GE(next, 95);
  EXPECT_LE(next, 95 + 20);  // re-read before writing again: no blind double raise
  ASSERT_TRUE(faulty.waitIdle());
}

}  // namespace
}  // namespace zks::state
