// The engine as the planner sees it: paths, scope, rule order, failures,
// the inverse and collisions.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "mapping_test_util.h"

// Counts heap allocations while a test asks, to check that mapping a node
// which needs no change allocates nothing.
// AddressSanitizer brings its own operator new, so the count is off there.
namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace
#if !defined(__SANITIZE_ADDRESS__)
#define ZKS_COUNT_ALLOCATIONS 1
void* operator new(size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#endif

namespace zks::mapping {
namespace {

using testing::mustLoad;

constexpr const char* kZmsLike = R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01, rmq_bj_order: rmq_sh_order }
  host: { 10.10.1.11: 10.50.1.11, 10.10.1.12: 10.50.1.12 }
rules:
  - paths: [ /zms/cluster/* ]
    segments: { table: cluster }
    unmapped: error
  - paths: [ /zms/cluster/* ]
    format: properties
    fields:
      bootAddr: { table: host, hosts: true }
  - paths: [ /zms/topic/*, /zms/consumergroup/* ]
    format: properties
    fields:
      clusterName: cluster
      gatedCluster: cluster
)";

TEST(Engine, IdentityWithoutRules) {
  MappingSet set;
  MapResult result = set.map("/any/path", "data");
  EXPECT_EQ(result.outcome, Outcome::kMapped);
  EXPECT_EQ(result.path, "/any/path");
  EXPECT_EQ(result.data, "data");
  EXPECT_FALSE(result.path_changed);
  EXPECT_FALSE(result.data_changed);
}

TEST(Engine, SegmentsRenameTheNodeAndEveryDescendant) {
  MappingSet set = mustLoad(kZmsLike);
  struct {
    const char* from;
    const char* to;
  } cases[] = {
      {"/zms/cluster/kafka_bj_01", "/zms/cluster/kafka_sh_01"},
      {"/zms/cluster/kafka_bj_01/child", "/zms/cluster/kafka_sh_01/child"},
      {"/zms/cluster/kafka_bj_01/a/kafka_bj_01", "/zms/cluster/kafka_sh_01/a/kafka_bj_01"},
      {"/zms/cluster", "/zms/cluster"},
      {"/zms", "/zms"},
      {"/", "/"},
      {"/zms/topic/kafka_bj_01", "/zms/topic/kafka_bj_01"},
  };
  for (const auto& c : cases) {
    MapResult result = set.map(c.from, "");
    ASSERT_EQ(result.outcome, Outcome::kMapped) << c.from << ": " << result.reason;
    EXPECT_EQ(result.path, c.to) << c.from;
    EXPECT_EQ(result.path_changed, std::string(c.from) != c.to);
  }
  // unmapped: error covers the segment and everything below it.
  for (const char* path : {"/zms/cluster/kafka_xx", "/zms/cluster/kafka_xx/child"}) {
    MapResult result = set.map(path, "");
    EXPECT_EQ(result.outcome, Outcome::kFailed) << path;
    EXPECT_EQ(result.failure, FailureKind::kUnmapped);
    EXPECT_NE(result.reason.find("path segment 'kafka_xx' is not in table cluster"), std::string::npos) << result.reason;
  }
}

TEST(Engine, ZmsNodeKinds) {
  MappingSet set = mustLoad(kZmsLike);
  MapResult cluster = set.map("/zms/cluster/kafka_bj_01",
                              "bootAddr=10.10.1.11:9092,10.10.1.12:9092\nbrokerType=kafka\nserverIps=10.10.0.31:2181\n", true);
  ASSERT_TRUE(cluster.mapped()) << cluster.reason;
  EXPECT_EQ(cluster.path, "/zms/cluster/kafka_sh_01");
  EXPECT_EQ(cluster.data, "bootAddr=10.50.1.11:9092,10.50.1.12:9092\nbrokerType=kafka\nserverIps=10.10.0.31:2181\n");
  ASSERT_EQ(cluster.changes.size(), 2u);
  EXPECT_EQ(cluster.changes[0].field, "path segment");
  EXPECT_EQ(cluster.changes[1].field, "bootAddr");

  MapResult topic = set.map("/zms/topic/order_created",
                            "clusterName=kafka_bj_01\ntype=topic\ngatedIps=\ngatedCluster=\n");
  EXPECT_EQ(topic.path, "/zms/topic/order_created");
  EXPECT_EQ(topic.data, "clusterName=kafka_sh_01\ntype=topic\ngatedIps=\ngatedCluster=\n");

  // A client registration below a topic matches no payload rule: copied as is.
  MapResult client = set.map("/zms/topic/order_created/10.20.5.7||DEFAULT_PRODUCER||1.0.0", "");
  EXPECT_TRUE(client.mapped());
  EXPECT_EQ(client.data, "");

  // Half-written node: empty payload maps to itself.
  MapResult empty = set.map("/zms/topic/order_created", "");
  EXPECT_TRUE(empty.mapped());
  EXPECT_FALSE(empty.data_changed);
}

TEST(Engine, RulesApplyInFileOrderEachToTheLastResult) {
  MappingSet set = mustLoad(R"(
tables:
  a: { x: y }
  b: { y: z }
rules:
  - paths: [ /n/* ]
    segments: a
  - paths: [ /n/** ]
    segments: b
  - paths: [ /n/* ]
    format: properties
    fields: { k: a }
  - paths: [ /** ]
    replace:
      - { regex: 'k=y', with: 'k=Y' }
)");
  MapResult result = set.map("/n/x", "k=x\n");
  ASSERT_TRUE(result.mapped()) << result.reason;
  EXPECT_EQ(result.path, "/n/z");  // x → y by the first rule, y → z by the second
  EXPECT_EQ(result.data, "k=Y\n");
  // Globs always see the primary path, not a renamed one.
  EXPECT_EQ(set.map("/n/y/x", "").path, "/n/z/x");
}

TEST(Engine, TextReplaceChangesOnlyMatches) {
  MappingSet set = mustLoad(R"(
rules:
  - paths: [ /legacy/** ]
    format: text
    replace:
      - { regex: '10\.10\.(\d+)\.(\d+)', with: '10.50.$1.$2' }
      - { regex: 'price: \$(\d+)', with: 'cost: $$${1}' }
)");
  MapResult result = set.map("/legacy/a/b", "hosts 10.10.1.11 and 10.10.2.3\nprice: $5\nkeep 10.100.1.1\n", true);
  ASSERT_TRUE(result.mapped()) << result.reason;
  EXPECT_EQ(result.data, "hosts 10.50.1.11 and 10.50.2.3\ncost: $5\nkeep 10.100.1.1\n");
  ASSERT_EQ(result.changes.size(), 3u);
  EXPECT_EQ(result.changes[0].before, "10.10.1.11");
  EXPECT_EQ(result.changes[0].after, "10.50.1.11");
  EXPECT_EQ(set.map("/legacy", "10.10.1.1").data, "10.50.1.1");  // ** matches zero segments
  EXPECT_EQ(set.map("/other", "10.10.1.1").data, "10.10.1.1");
}

TEST(Engine, EmptyMatchesFollowGlobalReplace) {
  MappingSet set = mustLoad(R"(
rules:
  - paths: [ /t ]
    replace: [ { regex: 'x*', with: '-' } ]
)");
  EXPECT_EQ(set.map("/t", "abc").data, "-a-b-c-");  // as RE2::GlobalReplace
  EXPECT_EQ(set.map("/t", "xxa").data, "-a-");
  EXPECT_EQ(set.map("/t", "é").data, "-é-");  // steps over a whole UTF-8 character
}

TEST(Engine, FieldLevelReplace) {
  MappingSet set = mustLoad(R"(
rules:
  - paths: [ /s ]
    format: json
    fields:
      /url: { replace: [ { regex: '^http://10\.10\.', with: 'http://10.50.' } ] }
)");
  MapResult result = set.map("/s", R"({"url":"http://10.10.1.1:8983/solr","other":"http://10.10.1.1"})");
  EXPECT_EQ(result.data, R"({"url":"http://10.50.1.1:8983/solr","other":"http://10.10.1.1"})");
}

TEST(Engine, OversizedResultFailsWhole) {
  MappingSet set = mustLoad(R"(
rules:
  - paths: [ /big ]
    replace: [ { regex: 'a', with: 'aa' } ]
)");
  std::string data(600 * 1024, 'a');
  MapResult result = set.map("/big", data);
  EXPECT_EQ(result.outcome, Outcome::kFailed);
  EXPECT_EQ(result.failure, FailureKind::kTooLarge);
  EXPECT_TRUE(result.data.empty());
  EXPECT_NE(result.reason.find("1048576"), std::string::npos) << result.reason;
  // Exactly at the limit is fine.
  EXPECT_TRUE(set.map("/big", std::string(kMaxDataBytes / 2, 'a')).mapped());
}

TEST(Engine, InvalidResultingPathFails) {
  MappingSet set = mustLoad(R"(
tables:
  h: { 10.10.1.11: "10.50.1.11/x" }
rules:
  - paths: [ /live/* ]
    segments: { table: h, hosts: true }
)");
  MapResult result = set.map("/live/10.10.1.11:8983_solr", "");
  EXPECT_EQ(result.outcome, Outcome::kFailed);
  EXPECT_EQ(result.failure, FailureKind::kBadPath);
  EXPECT_EQ(result.reason,
            "path segment '10.10.1.11:8983_solr' maps to '10.50.1.11/x:8983_solr', which is not a valid path "
            "segment: it contains '/'");
}

TEST(Engine, ScopeRootsAndExclude) {
  MappingSet base = mustLoad(kZmsLike);
  auto set = base.withScope({{"/zms", "/standby/zms"}, {"/other", ""}}, {"/zms/topic/*/*", "/zms/private"});
  ASSERT_TRUE(set) << set.error().message;
  struct {
    const char* from;
    Outcome outcome;
    const char* to_or_reason;
  } cases[] = {
      {"/zms", Outcome::kMapped, "/standby/zms"},
      {"/zms/cluster/kafka_bj_01", Outcome::kMapped, "/standby/zms/cluster/kafka_sh_01"},
      {"/zms/topic/t", Outcome::kMapped, "/standby/zms/topic/t"},
      {"/other/x", Outcome::kMapped, "/other/x"},
      {"/", Outcome::kNotReplicated, "outside every root"},
      {"/zmsx", Outcome::kNotReplicated, "outside every root"},
      {"/zms/topic/t/client", Outcome::kNotReplicated, "excluded by '/zms/topic/*/*'"},
      {"/zms/topic/t/client/below", Outcome::kNotReplicated, "excluded by '/zms/topic/*/*'"},
      {"/zms/private/x", Outcome::kNotReplicated, "excluded by '/zms/private'"},
  };
  for (const auto& c : cases) {
    MapResult result = set->map(c.from, "");
    EXPECT_EQ(result.outcome, c.outcome) << c.from << ": " << result.reason;
    if (c.outcome == Outcome::kMapped) {
      EXPECT_EQ(result.path, c.to_or_reason) << c.from;
    } else {
      EXPECT_EQ(result.reason, c.to_or_reason) << c.from;
    }
  }
  std::string reason;
  EXPECT_FALSE(set->replicated("/zms/topic/t/c", &reason));
  EXPECT_EQ(reason, "excluded by '/zms/topic/*/*'");
  EXPECT_TRUE(set->replicated("/zms/topic/t"));

  auto whole = base.withScope({{"/", "/copy"}}, {});
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->map("/", "").path, "/copy");
  EXPECT_EQ(whole->map("/zms/cluster/kafka_bj_01", "").path, "/copy/zms/cluster/kafka_sh_01");
  auto into_root = base.withScope({{"/zms", "/"}}, {});
  ASSERT_TRUE(into_root);
  EXPECT_EQ(into_root->map("/zms", "").path, "/");
  EXPECT_EQ(into_root->map("/zms/cluster/kafka_bj_01", "").path, "/cluster/kafka_sh_01");

  EXPECT_FALSE(base.withScope({{"zms", ""}}, {}));
  EXPECT_FALSE(base.withScope({{"/zms", ""}}, {"/bad/a**"}));
}

TEST(Engine, SegmentsInsideARootAreNotRenamed) {
  MappingSet base = mustLoad(R"(
tables:
  t: { zms: ZMS, x: X }
rules:
  - paths: [ /** ]
    segments: t
)");
  auto set = base.withScope({{"/zms", "/zms"}}, {});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->map("/zms/x/zms", "").path, "/zms/X/ZMS");
}

TEST(Engine, InverseRoundTripsZms) {
  MappingSet forward = *mustLoad(kZmsLike).withScope({{"/zms", "/dr/zms"}}, {"/zms/topic/*/*"});
  auto reverse = forward.inverse();
  ASSERT_TRUE(reverse) << reverse.error()[0].describe();
  EXPECT_TRUE(reverse->reversed());
  struct {
    const char* path;
    const char* data;
  } nodes[] = {
      {"/zms/cluster/kafka_bj_01", "bootAddr=10.10.1.11:9092,10.10.1.12:9092\nbrokerType=kafka\n"},
      {"/zms/cluster/rmq_bj_order/child", "x"},
      {"/zms/topic/order", "clusterName=kafka_bj_01\ngatedCluster=rmq_bj_order\n"},
      {"/zms/consumergroup/g", "clusterName=rmq_bj_order\ntype=consumergroup\n"},
      {"/zms", ""},
  };
  for (const auto& node : nodes) {
    MapResult there = forward.map(node.path, node.data);
    ASSERT_TRUE(there.mapped()) << there.reason;
    MapResult back = reverse->map(there.path, there.data);
    ASSERT_TRUE(back.mapped()) << node.path << ": " << back.reason;
    EXPECT_EQ(back.path, node.path);
    EXPECT_EQ(back.data, node.data);
  }
  // Exclusion holds on the way back too (globs name primary-side paths).
  MapResult client = reverse->map("/dr/zms/topic/order/10.50.0.1||C||1", "");
  EXPECT_EQ(client.outcome, Outcome::kNotReplicated);
  EXPECT_EQ(reverse->map("/zms/x", "").outcome, Outcome::kNotReplicated);  // outside every target root
  // The inverse of the inverse is the forward set.
  auto again = reverse->inverse();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->reversed());
  EXPECT_EQ(again->map("/zms/cluster/kafka_bj_01", "").path, "/dr/zms/cluster/kafka_sh_01");
}

TEST(Engine, InverseWithReplaceNeedsReverse) {
  MappingSet with_reverse = mustLoad(R"(
rules:
  - paths: [ /legacy/** ]
    replace:
      - regex: '10\.10\.(\d+)\.(\d+)'
        with: '10.50.$1.$2'
        reverse: { regex: '10\.50\.(\d+)\.(\d+)', with: '10.10.$1.$2' }
)");
  auto reverse = with_reverse.inverse();
  ASSERT_TRUE(reverse);
  EXPECT_EQ(reverse->map("/legacy/x", "a 10.50.3.4 b").data, "a 10.10.3.4 b");

  MappingSet without = mustLoad(R"(
rules:
  - paths: [ /legacy/** ]
    replace:
      - { regex: 'a', with: 'b' }
)");
  auto refused = without.inverse();
  ASSERT_FALSE(refused);
  ASSERT_EQ(refused.error().size(), 1u);
  EXPECT_EQ(refused.error()[0].line, 5);
  EXPECT_NE(refused.error()[0].message.find("has no 'reverse'"), std::string::npos);
}

TEST(Engine, InverseRefusesTablesThatAreNotOneToOne) {
  MappingSet set = mustLoad(R"(
tables:
  cluster:
    kafka_bj_01: kafka_sh_01
    kafka_bj_02: kafka_sh_01
rules:
  - paths: [ /t/* ]
    format: properties
    fields: { clusterName: cluster }
)");
  // Forward is fine: two primary clusters may share one standby cluster.
  EXPECT_EQ(set.map("/t/x", "clusterName=kafka_bj_02").data, "clusterName=kafka_sh_01");
  auto refused = set.inverse();
  ASSERT_FALSE(refused);
  ASSERT_EQ(refused.error().size(), 1u);
  EXPECT_EQ(refused.error()[0].describe(),
            "test.yaml:5: table 'cluster' is not one-to-one: 'kafka_bj_01' and 'kafka_bj_02' both map to "
            "'kafka_sh_01', so --reverse cannot tell which to restore");
}

TEST(Engine, InverseRefusesSegmentsNamedLiterally) {
  MappingSet set = mustLoad(R"(
tables:
  t: { a: b }
rules:
  - paths: [ /x/a ]
    segments: t
)");
  EXPECT_EQ(set.map("/x/a", "").path, "/x/b");
  auto refused = set.inverse();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error()[0].message.find("--reverse needs '*' or '**'"), std::string::npos);
}

TEST(Engine, SourcePathsForFindsCollisionCandidates) {
  MappingSet set = mustLoad(kZmsLike);
  // kafka_bj_01 is renamed to kafka_sh_01, and a primary node already named
  // kafka_sh_01 would keep its name: both land on one backup path.
  EXPECT_EQ(set.sourcePathsFor("/zms/cluster/kafka_sh_01"),
            (std::vector<std::string>{"/zms/cluster/kafka_bj_01"}));  // kafka_sh_01 itself fails: unmapped: error
  MappingSet loose = mustLoad(R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01 }
rules:
  - paths: [ /c/* ]
    segments: cluster
)");
  EXPECT_EQ(loose.sourcePathsFor("/c/kafka_sh_01/x"),
            (std::vector<std::string>{"/c/kafka_sh_01/x", "/c/kafka_bj_01/x"}));
  EXPECT_EQ(loose.sourcePathsFor("/c/kafka_bj_01"), (std::vector<std::string>{}));  // nothing maps there
  EXPECT_EQ(loose.sourcePathsFor("/c"), (std::vector<std::string>{"/c"}));
  auto scoped = loose.withScope({{"/c", "/dr"}}, {});
  ASSERT_TRUE(scoped);
  EXPECT_EQ(scoped->sourcePathsFor("/dr/kafka_sh_01"), (std::vector<std::string>{"/c/kafka_sh_01", "/c/kafka_bj_01"}));
  EXPECT_TRUE(scoped->sourcePathsFor("/c/kafka_sh_01").empty());
  auto reverse = scoped->inverse();
  ASSERT_TRUE(reverse);
  // Going back, a backup node that kept the primary name collides with the renamed one.
  EXPECT_EQ(reverse->sourcePathsFor("/c/kafka_bj_01"),
            (std::vector<std::string>{"/dr/kafka_bj_01", "/dr/kafka_sh_01"}));
}

TEST(Engine, CollisionIndexReportsTheFirstClaimant) {
  CollisionIndex index;
  EXPECT_FALSE(index.claim("/b/x", "/p/x"));
  EXPECT_FALSE(index.claim("/b/x", "/p/x"));  // the same node again is no collision
  auto other = index.claim("/b/x", "/p/y");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, "/p/x");
  EXPECT_EQ(index.size(), 1u);
}

TEST(Engine, NodesNeedingNoChangeAllocateNothing) {
#if !defined(ZKS_COUNT_ALLOCATIONS)
  GTEST_SKIP() << "allocation counting is off under AddressSanitizer";
#endif
  MappingSet set = *mustLoad(kZmsLike).withScope({{"/zms", "/zms"}}, {"/zms/topic/*/*"});
  MapResult result;
  // Grow the result's buffers once.
  set.map("/zms/consumergroup/a_rather_long_group_name_to_grow_buffers", std::string(512, 'x'), result);
  const std::pair<const char*, const char*> nodes[] = {
      {"/zms/topic/order_created_with_a_long_name", "type=topic\ngatedIps=\ngatedCluster=\n# comment\n"},
      {"/zms/consumergroup/billing_group_name", "clusterName=unknown_cluster\ntype=consumergroup\n"},
      {"/zms/cluster", ""},
      {"/zms/other/path/without/rules", "anything at all"},
      {"/zms/topic/empty_payload_of_a_half_written_node", ""},
  };
  for (const auto& [path, data] : nodes) {
    g_allocations = 0;
    g_counting = true;
    set.map(path, data, result);
    g_counting = false;
    EXPECT_EQ(g_allocations, 0u) << path;
    EXPECT_FALSE(result.data_changed) << path;
  }
  // The counter does count: a node that changes builds a new payload.
  g_allocations = 0;
  g_counting = true;
  set.map("/zms/topic/t", "clusterName=kafka_bj_01\n", result);
  g_counting = false;
  EXPECT_GT(g_allocations, 0u);
}

TEST(Engine, ResultBuffersAreReused) {
  MappingSet set = mustLoad(kZmsLike);
  MapResult result;
  set.map("/zms/topic/a", "clusterName=kafka_bj_01\n", result, true);
  EXPECT_EQ(result.changes.size(), 1u);
  set.map("/zms/topic/b", "type=topic\n", result);
  EXPECT_TRUE(result.mapped());
  EXPECT_EQ(result.path, "/zms/topic/b");
  EXPECT_EQ(result.data, "type=topic\n");
  EXPECT_TRUE(result.changes.empty());
  EXPECT_FALSE(result.data_changed);
  set.map("/zms/cluster/nope", "x", result);
  EXPECT_EQ(result.outcome, Outcome::kFailed);
  EXPECT_TRUE(result.data.empty());
  EXPECT_TRUE(result.path.empty());  // nothing stale from the last node
  set.map("/zms/topic/b", "clusterName=nope\n", result);
  EXPECT_EQ(result.outcome, Outcome::kMapped);  // unmapped: keep in this set
  MappingSet strict = mustLoad(R"(
tables: { cluster: { a: b } }
rules:
  - paths: [ /t/* ]
    format: properties
    fields: { clusterName: cluster }
    unmapped: error
)");
  strict.map("/t/x", "clusterName=nope\n", result);
  EXPECT_EQ(result.outcome, Outcome::kFailed);
  EXPECT_EQ(result.path, "/t/x");  // the payload failed; the path is known
  set.map("/zms/topic/b", "type=topic\n", result);
  EXPECT_TRUE(result.mapped());
  EXPECT_TRUE(result.reason.empty());
}

}  // namespace
}  // namespace zks::mapping
