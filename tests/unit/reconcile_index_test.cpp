// NodeIndex (the flat hash table with mark and sweep) and NameList (a
// directory's names in one buffer), against plain standard containers.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "reconcile/name_list.h"
#include "reconcile/node_index.h"

namespace zks::reconcile {
namespace {

IndexEntry entryFor(int64_t n, bool replicated = true) {
  return IndexEntry{n, n + 1, n + 2, static_cast<int32_t>(n % 7), replicated};
}

TEST(NodeIndex, BehavesAsAMapUnderRandomPutsErasesAndLookups) {
  NodeIndex index;
  std::map<std::string, IndexEntry> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200000; ++step) {
    const std::string path = "/zms/topic/t" + std::to_string(rng() % 5000);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const auto e = entryFor(static_cast<int64_t>(rng() % 1000000), rng() % 2 == 0);
        index.put(path, e);
        model[path] = e;
        break;
      }
      case 2:
        index.erase(path);
        model.erase(path);
        break;
      case 3: {
        auto found = index.find(path);
        auto it = model.find(path);
        ASSERT_EQ(found.has_value(), it != model.end()) << path << " at step " << step;
        if (found) {
          EXPECT_EQ(*found, it->second);
        }
        break;
      }
    }
    ASSERT_EQ(index.size(), model.size());
  }
  for (const auto& [path, e] : model) EXPECT_EQ(index.find(path), e);
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.find(model.begin()->first));
}

TEST(NodeIndex, CostsAbout40BytesAnEntryAtItsLoad) {
  NodeIndex index;
  const size_t n = 200000;
  for (size_t i = 0; i < n; ++i) index.put("/zms/topic/topic_" + std::to_string(i), entryFor(static_cast<int64_t>(i)));
  EXPECT_EQ(index.size(), n);
  const double per_entry = static_cast<double>(index.tableBytes()) / static_cast<double>(n);
  EXPECT_LE(per_entry, 72.0);  // 40 bytes at a load of at least 0.57
  EXPECT_GE(per_entry, 40.0);
  for (size_t i = 0; i < n; i += 3) ASSERT_TRUE(index.find("/zms/topic/topic_" + std::to_string(i)));
  EXPECT_FALSE(index.find("/zms/topic/topic_" + std::to_string(n)));
}

TEST(NodeIndex, ASweepDropsWhatThePassDidNotPutAndKeepsEverythingElse) {
  NodeIndex index;
  for (int i = 0; i < 1000; ++i) index.put("/a/" + std::to_string(i), entryFor(i));
  index.hold("/a/5", ReportedKind::kParked, plan::Change{.path = "/a/5"});
  index.hold("/a/6", ReportedKind::kMappingFailure, plan::Change{.path = "/a/6"});
  EXPECT_EQ(index.parked(), 1u);
  index.beginSweep();
  // The pass sees the even ones (and /a/6), and an event pass adds a new one meanwhile.
  for (int i = 0; i < 1000; i += 2) index.put("/a/" + std::to_string(i), entryFor(i));
  index.put("/a/new", entryFor(5000));
  EXPECT_EQ(index.sweep(), 500u);
  EXPECT_EQ(index.size(), 501u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(index.find("/a/" + std::to_string(i)).has_value(), i % 2 == 0) << i;
  EXPECT_TRUE(index.find("/a/new"));
  EXPECT_EQ(index.parked(), 0u) << "the reports of a swept node go with it";
  EXPECT_EQ(index.held("/a/5"), nullptr);
  EXPECT_NE(index.held("/a/6"), nullptr);
  // A pass that saw everything drops nothing.
  index.beginSweep();
  for (int i = 0; i < 1000; i += 2) index.put("/a/" + std::to_string(i), entryFor(i));
  index.put("/a/new", entryFor(5000));
  EXPECT_EQ(index.sweep(), 0u);
  EXPECT_EQ(index.size(), 501u);
}

TEST(NodeIndex, LegacySubtreeEraseAndPathBytesStillHoldForThePerNodeDaemon) {
  NodeIndex index;
  for (const char* p : {"/zms", "/zms/a", "/zms/a/x", "/zms/a/x/y", "/zms/ab", "/zms/b"}) index.put(p, entryFor(1));
  EXPECT_EQ(index.pathBytes(), 4u + 6 + 8 + 10 + 7 + 6);
  index.hold("/zms/a/x", ReportedKind::kParked, plan::Change{});
  index.eraseSubtree("/zms/a");
  EXPECT_FALSE(index.find("/zms/a"));
  EXPECT_FALSE(index.find("/zms/a/x"));
  EXPECT_FALSE(index.find("/zms/a/x/y"));
  EXPECT_TRUE(index.find("/zms/ab")) << "a sibling sharing the prefix is not below";
  EXPECT_TRUE(index.find("/zms/b"));
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.parked(), 0u);
  EXPECT_EQ(index.pathBytes(), 4u + 7 + 6);
  index.erase("/zms/b");
  EXPECT_EQ(index.pathBytes(), 4u + 7);
}

// Recursive mode keeps no ordered set of paths (half the daemon's memory
// per znode at 1M); lookups, erases and sweeps work the same without it,
// and a fallback to per-node watches collects the paths from the next puts.
TEST(NodeIndex, WithoutPathsItKeepsOnlyTheTableAndCollectsThemAgainWhenAskedTo) {
  NodeIndex index;
  for (const char* p : {"/zms", "/zms/a", "/zms/a/x"}) index.put(p, entryFor(1));
  index.keepPaths(false);
  EXPECT_EQ(index.pathBytes(), 0u);
  index.put("/zms/b", entryFor(2));
  EXPECT_EQ(index.pathBytes(), 0u);
  EXPECT_TRUE(index.find("/zms/a/x"));
  EXPECT_TRUE(index.find("/zms/b"));
  index.erase("/zms/a/x");
  EXPECT_FALSE(index.find("/zms/a/x"));
  EXPECT_EQ(index.size(), 3u);
  index.keepPaths(true);
  for (const char* p : {"/zms", "/zms/a", "/zms/b"}) index.put(p, entryFor(3));
  EXPECT_EQ(index.pathBytes(), 4u + 6 + 6);
  index.eraseSubtree("/zms/a");
  EXPECT_FALSE(index.find("/zms/a"));
  EXPECT_TRUE(index.find("/zms/b"));
}

TEST(NameList, HoldsTheNamesSortedInOneBufferAndFindsThem) {
  std::vector<std::string> names;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) names.push_back("n" + std::to_string(rng() % 100000) + std::string(i % 30, 'x'));
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::shuffle(names.begin(), names.end(), rng);
  NameList list(std::move(names));
  ASSERT_EQ(list.size(), sorted.size());
  size_t bytes = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ(list[i], sorted[i]);
    EXPECT_EQ(list.find(sorted[i]), i);
    bytes += sorted[i].size();
  }
  EXPECT_EQ(list.find("absent"), NameList::npos);
  EXPECT_EQ(list.find(""), NameList::npos);
  // The names' bytes and 4 per name (plus the vector's slack).
  EXPECT_LE(list.bytes(), bytes + 4 * sorted.size() * 2 + 64);
  EXPECT_TRUE(NameList().empty());
  EXPECT_EQ(NameList().find("x"), NameList::npos);
}

}  // namespace
}  // namespace zks::reconcile
