#include <gtest/gtest.h>

#include "mapping/glob.h"
#include "mapping/path.h"

namespace zks::mapping {
namespace {

struct GlobCase {
  const char* glob;
  const char* path;
  bool matches;
};

TEST(Glob, MatchesTable) {
  const GlobCase cases[] = {
      {"/", "/", true},
      {"/", "/zms", false},
      {"/zms", "/zms", true},
      {"/zms", "/zms/topic", false},
      {"/zms/topic/*", "/zms/topic/order_created", true},
      {"/zms/topic/*", "/zms/topic", false},
      {"/zms/topic/*", "/zms/topic/a/b", false},
      {"/zms/*/x", "/zms/topic/x", true},
      {"/zms/*/x", "/zms/topic/y", false},
      {"/zms/topic/*/*", "/zms/topic/t/10.20.5.7||DEFAULT_PRODUCER||1.0.0", true},
      {"/legacy/**", "/legacy", true},
      {"/legacy/**", "/legacy/a", true},
      {"/legacy/**", "/legacy/a/b/c", true},
      {"/legacy/**", "/legacyx", false},
      {"/legacy/**", "/other/legacy", false},
      {"/**", "/", true},
      {"/**", "/any/thing", true},
      {"/a/**/z", "/a/z", true},
      {"/a/**/z", "/a/b/c/z", true},
      {"/a/**/z", "/a/b/c/y", false},
      {"/a/**/z/*", "/a/b/z/q", true},
      {"/a/**/**/z", "/a/z", true},
      {"/zms/topic/statistic_*", "/zms/topic/statistic_topic_producerinfo", true},
      {"/zms/topic/statistic_*", "/zms/topic/statistic_", true},
      {"/zms/topic/statistic_*", "/zms/topic/order", false},
      {"/zms/topic/*_info", "/zms/topic/producer_info", true},
      {"/zms/topic/a*b*c", "/zms/topic/aXbYc", true},
      {"/zms/topic/a*b*c", "/zms/topic/aXbY", false},
      {"/zms/topic/a*b*c", "/zms/topic/abcbc", true},
      {"/x/*", "/x/a/b", false},
  };
  for (const auto& c : cases) {
    auto glob = Glob::compile(c.glob);
    ASSERT_TRUE(glob) << c.glob << ": " << glob.error().message;
    EXPECT_EQ(glob->matches(c.path), c.matches) << c.glob << " on " << c.path;
  }
}

TEST(Glob, RejectsBadPatternsWithReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty"},
      {"zms/topic", "absolute"},
      {"/zms/", "end with '/'"},
      {"/zms//topic", "empty segment"},
      {"/zms/../x", "'..'"},
      {"/zms/./x", "'.'"},
      {"/zms/a**", "'**' inside"},
      {"/zms/***", "'**' inside"},
      {"/zms/\x01", "control"},
  };
  for (const auto& [pattern, why] : cases) {
    auto glob = Glob::compile(pattern);
    ASSERT_FALSE(glob) << pattern;
    EXPECT_NE(glob.error().message.find(why), std::string::npos) << glob.error().message;
  }
}

TEST(Glob, ExcludeCoversDescendants) {
  auto set = GlobSet::compile({"/zms/topic/*/*", "/tmp"});
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->matchesSelfOrAncestor("/zms/topic/t/client"));
  EXPECT_TRUE(set->matchesSelfOrAncestor("/zms/topic/t/client/deeper"));
  EXPECT_FALSE(set->matchesSelfOrAncestor("/zms/topic/t"));
  EXPECT_TRUE(set->matchesSelfOrAncestor("/tmp/x"));
  EXPECT_FALSE(set->matchesSelfOrAncestor("/tmpx"));
  auto hit = set->firstSelfOrAncestorMatch("/zms/topic/t/c/d");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->first, 0u);
  EXPECT_EQ(hit->second, std::string("/zms/topic/t/c").size());
}

TEST(Glob, SetReportsEveryMatchingIndexInOrder) {
  auto set = GlobSet::compile({"/a/**", "/a/b", "/x", "/a/*", "/a/b"});
  ASSERT_TRUE(set);
  std::vector<uint32_t> hits;
  set->allMatches("/a/b", hits);
  EXPECT_EQ(hits, (std::vector<uint32_t>{0, 1, 3, 4}));
  EXPECT_EQ(set->firstMatch("/a/b"), 0u);
  EXPECT_EQ(set->firstMatch("/x"), 2u);
  EXPECT_FALSE(set->firstMatch("/y"));
  set->allMatches("/nothing", hits);
  EXPECT_TRUE(hits.empty());
}

TEST(Glob, ManyLiveStatesStillMatch) {
  // More '**' branches than the inline state storage holds.
  std::vector<std::string> patterns;
  for (int i = 0; i < 40; ++i) patterns.push_back("/**/n" + std::to_string(i) + "/**");
  patterns.push_back("/**/target");
  auto set = GlobSet::compile(patterns);
  ASSERT_TRUE(set);
  std::string path;
  for (int i = 0; i < 40; ++i) path += "/n" + std::to_string(i);
  EXPECT_TRUE(set->matches(path));
  EXPECT_TRUE(set->matches(path + "/target"));
  std::vector<uint32_t> hits;
  set->allMatches(path + "/target", hits);
  EXPECT_EQ(hits.size(), 41u);
}

TEST(Path, ErrorsAndSegments) {
  EXPECT_FALSE(pathError("/"));
  EXPECT_FALSE(pathError("/zms/topic/10.20.5.7||P||1.0.0||2020-06-01T10:15:30.123||48213"));
  EXPECT_FALSE(pathError("/中文/节点"));
  EXPECT_TRUE(pathError(""));
  EXPECT_TRUE(pathError("zms"));
  EXPECT_TRUE(pathError("/zms/"));
  EXPECT_TRUE(pathError("/a//b"));
  EXPECT_TRUE(pathError("/a/."));
  EXPECT_TRUE(pathError(std::string("/a\0b", 4)));
  EXPECT_TRUE(pathError("/a\x7f"));
  EXPECT_TRUE(pathError("/a/\xff"));             // not UTF-8
  EXPECT_TRUE(pathError("/a/\xF0\x9F\x98\x80"));  // beyond U+FFFF: ZooKeeper refuses surrogates
  EXPECT_TRUE(segmentError("a/b"));
  std::vector<std::string> segments;
  for (SegmentIterator it("/a/bc/d"); !it.done(); it.next()) segments.emplace_back(it.segment());
  EXPECT_EQ(segments, (std::vector<std::string>{"a", "bc", "d"}));
  EXPECT_TRUE(SegmentIterator("/").done());
  EXPECT_TRUE(isUnder("/zms/topic", "/zms"));
  EXPECT_TRUE(isUnder("/zms", "/zms"));
  EXPECT_FALSE(isUnder("/zmsx", "/zms"));
  EXPECT_TRUE(isUnder("/anything", "/"));
}

}  // namespace
}  // namespace zks::mapping
