#include <gtest/gtest.h>

#include "daemon/dirty_set.h"

namespace zks::daemon {
namespace {

TEST(DirtySet, CoalescesEventsPerPathAndKeepsArrivalOrder) {
  DirtySet set;
  set.mark("/a", kDirtyData);
  set.mark("/b", kDirtyChildren);
  set.mark("/a", kDirtyChildren);
  DirtyItem item;
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/a");
  EXPECT_EQ(item.flags, kDirtyData | kDirtyChildren);
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/b");
  EXPECT_FALSE(set.take(item));
}

TEST(DirtySet, NeverHandsOutAPathTwiceAtOnceAndRequeuesWhatArrivedMeanwhile) {
  DirtySet set;
  set.mark("/a", kDirtyData);
  DirtyItem item;
  ASSERT_TRUE(set.take(item));
  set.mark("/a", kDirtyChildren);  // arrives while /a is being worked on
  DirtyItem other;
  EXPECT_FALSE(set.take(other));
  EXPECT_EQ(set.inProgress(), 1u);
  set.finish("/a");
  ASSERT_TRUE(set.take(other));
  EXPECT_EQ(other.path, "/a");
  EXPECT_EQ(other.flags, kDirtyChildren);
  set.finish("/a");
  EXPECT_TRUE(set.empty());
}

TEST(DirtySet, TheRootOverlapsEverything) {
  DirtySet set;
  set.mark("/", kDirtyChildren);
  DirtyItem root;
  ASSERT_TRUE(set.take(root));
  set.mark("/x/y", kDirtyData);
  DirtyItem item;
  EXPECT_FALSE(set.take(item));
  set.finish("/");
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/x/y");
  set.mark("/", kDirtyData);  // now the root waits for /x/y
  EXPECT_FALSE(set.take(root));
  set.finish("/x/y");
  ASSERT_TRUE(set.take(root));
  EXPECT_EQ(root.path, "/");
}

}  // namespace
}  // namespace zks::daemon

namespace zks::daemon {
namespace {

TEST(DirtySet, HoldsBackASubtreeWhileAnAncestorOrDescendantIsWorkedOn) {
  DirtySet set;
  set.mark("/a/b", kDirtyData);
  DirtyItem busy;
  ASSERT_TRUE(set.take(busy));
  set.mark("/a", kDirtyChildren);     // ancestor of /a/b
  set.mark("/a/b/c", kDirtyData);     // descendant
  set.mark("/a/bc", kDirtyData);      // a sibling whose name merely starts alike
  DirtyItem item;
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/a/bc");
  EXPECT_FALSE(set.take(item));
  set.finish("/a/b");
  // /a still waits: /a/bc, below it, is in progress.
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/a/b/c");
  set.finish("/a/b/c");
  set.finish("/a/bc");
  ASSERT_TRUE(set.take(item));
  EXPECT_EQ(item.path, "/a");
}

}  // namespace
}  // namespace zks::daemon
