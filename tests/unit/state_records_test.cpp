// The pure parts of the state module: records and their JSON, counter
// chunks, the sequence arithmetic, metric picking and status formatting.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "state/counters.h"
#include "state/site_state.h"
#include "state/status.h"
#include "state/store.h"

namespace zks::state {
namespace {

TEST(SiteStateJson, RoundTripsEveryField) {
  SiteState s{.role = Role::kActive,
              .epoch = 7,
              .last_full_sync_ms = 1700000000123,
              .last_applied_zxid = 0x1000000ffLL,
              .leader = "host-a:4242",
              .updated_ms = 1700000000999,
              .role_changed_ms = 1700000000500,
              .role_changed_by = "ops@jump",
              .change_id = "00ff00ff00ff00ff"};
  auto back = siteStateFromJson(toJson(s));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(SiteStateJson, MissingKeysTakeDefaultsSoAnEmptyObjectIsAStandbyAtEpochZero) {
  auto s = siteStateFromJson("{}");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->role, Role::kStandby);
  EXPECT_EQ(s->epoch, 0);
}

TEST(SiteStateJson, KeepsUnknownKeysOfANewerWriterWhenRewritten) {
  auto s = siteStateFromJson(R"({"role":"standby","epoch":3,"future_field":{"a":[1,2]},"note":"x"})");
  ASSERT_TRUE(s.has_value());
  s->epoch = 4;
  auto j = nlohmann::json::parse(toJson(*s));
  EXPECT_EQ(j["future_field"], nlohmann::json::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(j["note"], "x");
  EXPECT_EQ(j["epoch"], 4);
}

TEST(SiteStateJson, RefusesWhatItCannotUnderstandNamingTheKey) {
  struct Case {
    const char* text;
    const char* mentions;
  };
  for (const Case& c : {Case{R"({"role":"primary"})", "primary"}, Case{R"({"epoch":"3"})", "epoch"},
                        Case{R"({"leader":5})", "leader"}, Case{R"([1,2])", "not a JSON object"},
                        Case{"not json", "not a JSON object"}, Case{"", "not a JSON object"}}) {
    auto s = siteStateFromJson(c.text);
    ASSERT_FALSE(s.has_value()) << c.text;
    EXPECT_NE(s.error().message.find(c.mentions), std::string::npos) << s.error().message;
  }
}

TEST(HistoryRecordJson, RoundTrips) {
  HistoryRecord r{.action = "failover",
                  .time_ms = 1700000000000,
                  .reason = "dc1 \"lost\"\npower",
                  .who = "ops@jump",
                  .epoch = 2,
                  .from_role = Role::kStandby,
                  .to_role = Role::kActive,
                  .last_applied_zxid = 42,
                  .last_full_sync_ms = 1699999990000,
                  .final_sync = "copied 3",
                  .counters = "raised 1 of 2 parents",
                  .change_id = "abc"};
  auto back = historyRecordFromJson(toJson(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, r);
}

TEST(StatePaths, ChildrenOfTheConfiguredRootEvenWithATrailingSlash) {
  StatePaths p("/dr/zkstandby/");
  EXPECT_EQ(p.root, "/dr/zkstandby");
  EXPECT_EQ(p.state, "/dr/zkstandby/state");
  EXPECT_EQ(p.fence, "/dr/zkstandby/fence");
  EXPECT_EQ(p.leader, "/dr/zkstandby/leader");
  EXPECT_EQ(p.history, "/dr/zkstandby/history");
  EXPECT_EQ(p.counters, "/dr/zkstandby/counters");
}

TEST(Formatting, ZxidInHexAndAgesInUnitsAnOperatorReads) {
  EXPECT_EQ(formatZxid(0x10000002aLL), "0x10000002a");
  const int64_t now = 1'700'000'000'000;
  EXPECT_EQ(formatAge(0, now), "never");
  EXPECT_EQ(formatAge(now - 45'000, now), "45s");
  EXPECT_EQ(formatAge(now - (3 * 60 + 12) * 1000, now), "3m12s");
  EXPECT_EQ(formatAge(now - (2 * 3600 + 5 * 60) * 1000LL, now), "2h5m");
  EXPECT_EQ(formatAge(now - (3 * 86400 + 4 * 3600) * 1000LL, now), "3d4h");
  EXPECT_EQ(formatAge(now + 5000, now), "0s");  // the writer's clock runs ahead
  EXPECT_EQ(formatTime(1'700'000'000'000), "2023-11-14T22:13:20Z");
}

TEST(SequenceSuffix, OnlyTenTrailingDigits) {
  EXPECT_EQ(sequenceSuffix("lock-0000000042"), 42);
  EXPECT_EQ(sequenceSuffix("0000000007"), 7);
  EXPECT_EQ(sequenceSuffix("n_ab12_2147483647"), 2147483647);
  EXPECT_EQ(sequenceSuffix("lock-000000042"), -1);  // its last ten characters, "-000000042", are not all digits
  EXPECT_EQ(sequenceSuffix("broker"), -1);
  EXPECT_EQ(sequenceSuffix("x-00000000a1"), -1);
}

// The numbers measured on a ZooKeeper 3.8 server (see counters.h): the
// reported cversion is 2 * creates - numChildren; the next suffix is creates.
TEST(NextSequence, FollowsTheServersCreationCountNotTheReportedCversion) {
  struct Case {
    int32_t cversion, children, next;
  };
  for (const Case& c : {Case{0, 0, 0}, Case{2, 0, 1},    // create + delete
                        Case{3, 1, 2},                   // then a sequential create: suffix 1 was used
                        Case{5, 1, 3}, Case{16, 2, 9}}) {  // pairs raise the reported value by 2
    zk::Stat stat;
    stat.cversion = c.cversion;
    stat.num_children = c.children;
    EXPECT_EQ(nextSequence(stat), c.next) << c.cversion << "/" << c.children;
  }
}

TEST(CounterChunks, BucketsSplitByAStableHashAndDecodeToTheSameMap) {
  Counters counters;
  for (int i = 0; i < 5000; ++i) counters["/zms/topic/t" + std::to_string(i) + "/\"q\"\\"] = i * 3;
  const size_t buckets = 8;
  std::vector<Counters> split(buckets);
  for (const auto& [path, value] : counters) split[counterBucket(path, buckets)][path] = value;
  Counters back;
  for (const auto& bucket : split) {
    EXPECT_GT(bucket.size(), 5000u / buckets / 2) << "a bucket far below its share";
    ASSERT_TRUE(decodeCounterChunk(encodeCounterChunk(bucket), back).has_value());
  }
  EXPECT_EQ(back, counters);
  // The bucket of a path depends on the path alone: the same in every process.
  EXPECT_EQ(counterBucket("/zms/topic/t1", 64), counterBucket("/zms/topic/t1", 64));
  EXPECT_EQ(counterBucket("/anything", 1), 0u);
}

TEST(CounterChunks, TheBucketCountKeepsChunksNearTheTargetAndMovesRarely) {
  EXPECT_EQ(counterBucketCount(0, 0), 1u);
  EXPECT_EQ(counterBucketCount(10, 0), 1u);
  EXPECT_EQ(counterBucketCount(100 * kCounterChunkTargetBytes, 0), 128u);
  // Growth within twice the target keeps the count (no full rewrite)...
  EXPECT_EQ(counterBucketCount(2 * 128 * kCounterChunkTargetBytes, 128), 128u);
  // ...beyond it the count moves.
  EXPECT_EQ(counterBucketCount(3 * 128 * kCounterChunkTargetBytes, 128), 512u);
  EXPECT_EQ(counterBucketCount(kCounterChunkTargetBytes, 128), 1u);
}

TEST(CounterMerge, KeepsTheLargerValuePerParent) {
  Counters into{{"/a", 5}, {"/b", 1}};
  mergeCounters(into, {{"/a", 3}, {"/b", 4}, {"/c", 2}});
  EXPECT_EQ(into, (Counters{{"/a", 5}, {"/b", 4}, {"/c", 2}}));
}

TEST(CounterChunks, RefuseAChunkThatIsNotAMapOfIntegers) {
  Counters into;
  EXPECT_FALSE(decodeCounterChunk(R"({"/a":"12"})", into).has_value());
  EXPECT_FALSE(decodeCounterChunk("[]", into).has_value());
}

TEST(LiveMetrics, PicksLagQueueRoleAndEpochButNotBuckets) {
  const char* text =
      "# HELP zkstandby_replication_lag_seconds lag\n"
      "# TYPE zkstandby_replication_lag_seconds histogram\n"
      "zkstandby_replication_lag_seconds_bucket{le=\"0.01\"} 10\n"
      "zkstandby_replication_lag_seconds_bucket{le=\"0.1\"} 12\n"
      "zkstandby_replication_lag_seconds_bucket{le=\"+Inf\"} 12\n"
      "zkstandby_replication_lag_seconds_sum 0.42\n"
      "zkstandby_replication_lag_seconds_count 12\n"
      "zkstandby_queue_depth{queue=\"apply, main\"} 3 1700000000000\n"
      "zkstandby_ops_applied_total{kind=\"create\"} 99\n"
      "zkstandby_role 0\r\n"
      "zkstandby_epoch 4\n";
  auto picked = pickLiveMetrics(text);
  std::vector<std::pair<std::string, std::string>> want{
      {"zkstandby_replication_lag_seconds_sum", "0.42"},
      {"zkstandby_replication_lag_seconds_count", "12"},
      {"zkstandby_queue_depth{queue=\"apply, main\"}", "3"},
      {"zkstandby_role", "0"},
      {"zkstandby_epoch", "4"},
      // 10 of 12 observations at or below 10 ms, all 12 at or below 100 ms.
      {"zkstandby_replication_lag_seconds:p50", "0.006"},
      {"zkstandby_replication_lag_seconds:p99", "0.0946"},
  };
  EXPECT_EQ(picked, want);
}

TEST(StatusFormat, TextAndJsonCarryRoleEpochLeaderAndHistory) {
  StatusSnapshot s;
  s.backup = "127.0.0.1:2181";
  s.state_path = "/zkstandby";
  s.state.version = 3;
  s.state.state = SiteState{.role = Role::kActive, .epoch = 5, .last_applied_zxid = 0x2a};
  s.candidates.push_back(Candidate{"n_x_0000000001", "host-a:1", 1});
  HistoryEntry e{.name = "failover-0000000000"};
  e.record = HistoryRecord{.action = "failover", .reason = "drill", .who = "ops@jump", .epoch = 5};
  s.history.push_back(e);
  LiveFigures live{.endpoint = "http://127.0.0.1:9406/metrics", .reachable = false, .problem = "refused"};
  const std::string text = formatStatusText(s, live, 1'700'000'000'000);
  EXPECT_NE(text.find("role:                      active"), std::string::npos) << text;
  EXPECT_NE(text.find("epoch:                     5"), std::string::npos) << text;
  EXPECT_NE(text.find("host-a:1"), std::string::npos);
  EXPECT_NE(text.find("0x2a"), std::string::npos);
  EXPECT_NE(text.find("reason: drill"), std::string::npos);
  EXPECT_NE(text.find("daemon not reachable"), std::string::npos);

  auto j = nlohmann::json::parse(formatStatusJson(s, live, 1'700'000'000'000));
  EXPECT_EQ(j["role"], "active");
  EXPECT_EQ(j["epoch"], 5);
  EXPECT_EQ(j["leader"], "host-a:1");
  EXPECT_EQ(j["history"][0]["reason"], "drill");
  EXPECT_EQ(j["live"]["reachable"], false);
}

}  // namespace
}  // namespace zks::state

namespace zks::state {
namespace {

TEST(StatusFormat, ShowsWhoWroteTheStateTheLastFullReconcileAndWhoMayWriteTheRecords) {
  constexpr int64_t kNow = 1'700'000'000'000;
  StatusSnapshot s;
  s.state_path = "/zkstandby";
  s.state.version = 1;
  s.state.state = SiteState{.last_full_reconcile_ms = kNow - 90'000,
                            .last_full_reconcile_result = "converged_except_reported",
                            .reported_nodes = 4,
                            .leader = "host-a:42",
                            .updated_ms = kNow - 3'000};
  s.records_acl = {{zk::perm::kAll, "digest", "zks:SECRETHASH="}, {zk::perm::kRead, "world", "anyone"}};
  s.lease = FenceLease{.holder = "final-sync@ops:7", .purpose = "failover --final-sync by ops@jump", .until_ms = kNow + 20'000};
  const LiveFigures live;
  const std::string text = formatStatusText(s, live, kNow);
  EXPECT_NE(text.find("state written:             2023-11-14T22:13:17Z  (3s ago) by host-a:42"), std::string::npos) << text;
  EXPECT_NE(text.find("last full reconcile:       2023-11-14T22:11:50Z  (1m30s ago)  converged_except_reported, 4 nodes reported"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("records:                   writable only by digest:zks, readable by all"), std::string::npos) << text;
  EXPECT_NE(text.find("fence lease:               held by final-sync@ops:7"), std::string::npos) << text;
  EXPECT_EQ(text.find("SECRETHASH"), std::string::npos) << text;

  auto j = nlohmann::json::parse(formatStatusJson(s, live, kNow));
  EXPECT_EQ(j["state_written_by"], "host-a:42");
  EXPECT_EQ(j["state_updated_ms"], kNow - 3'000);
  EXPECT_EQ(j["last_full_reconcile_ms"], kNow - 90'000);
  EXPECT_EQ(j["last_full_reconcile_result"], "converged_except_reported");
  EXPECT_EQ(j["reported_nodes"], 4);
  EXPECT_EQ(j["records"]["protected"], true);
  EXPECT_EQ(j["records"]["writers"], "digest:zks");
  EXPECT_EQ(j["fence_lease"]["holder"], "final-sync@ops:7");
  EXPECT_EQ(j.dump().find("SECRETHASH"), std::string::npos);

  s.records_acl = zk::openAcl();
  s.lease.reset();
  const std::string open = formatStatusText(s, live, kNow);
  EXPECT_NE(open.find("records:                   OPEN: any client"), std::string::npos) << open;
  EXPECT_EQ(open.find("fence lease:"), std::string::npos) << open;
}

}  // namespace
}  // namespace zks::state
