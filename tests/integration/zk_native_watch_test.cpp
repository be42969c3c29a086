// Watches of the native client against a real ZooKeeper 3.8 server:
// one-shot, persistent and persistent-recursive watches, removeWatches,
// what the client drops, ZOOKEEPER-4466, and the order in which replies
// and events of one session are delivered.

#include <atomic>
#include <mutex>

#include <gtest/gtest.h>

#include "support/zk_server.h"
#include "zk_native_harness.h"

namespace zks::testing {
namespace {

using zk::AddWatchMode;
using zk::Code;
using zk::CreateOp;
using zk::DeleteOp;
using zk::EventType;
using zk::SetOp;
namespace origin = zk::watch_origin;

class ZkNativeWatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ZkServer();
    auto st = server_->start();
    ASSERT_TRUE(st) << st.error().describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    root_ = std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    c_ = connectNative(nativeOptions(server_->connectString()), &events_);
    other_ = connectNative(nativeOptions(server_->connectString()));
    ASSERT_TRUE(c_ && other_);
    ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_}).code, Code::kOk);
  }

  // Events of one session arrive in order: once an event set up after
  // everything else has come in, any earlier event has too.
  void barrier(const std::string& name = "barrier") {
    const std::string path = "/" + name + "-" + root_.substr(1);
    zk::removeSync(*other_, DeleteOp{.path = path});
    ASSERT_EQ(zk::existsSync(*c_, path, /*watch=*/true).code, Code::kNoNode);
    ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = path}).code, Code::kOk);
    ASSERT_TRUE(events_.waitWatch(EventType::kCreated, path));
    events_.clear();
  }

  static ZkServer* server_;
  std::string root_;
  std::unique_ptr<zk::Client> c_;      // watches
  std::unique_ptr<zk::Client> other_;  // changes
  Events events_;
};

ZkServer* ZkNativeWatchTest::server_ = nullptr;

TEST_F(ZkNativeWatchTest, OneShotWatchesFireOnceWithTheirOrigin) {
  ASSERT_EQ(zk::getSync(*c_, root_, true).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c_, root_, true).code, Code::kOk);  // the same watch again: still one event
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "1"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDataChanged, root_));
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "2"}).code, Code::kOk);

  ASSERT_EQ(zk::getChildrenSync(*c_, root_, true).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/kid"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kChildrenChanged, root_));

  ASSERT_EQ(zk::existsSync(*c_, root_ + "/later", true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/later"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/later"));
  ASSERT_EQ(zk::existsSync(*c_, root_ + "/later", true).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = root_ + "/later"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDeleted, root_ + "/later"));

  // A child watch fires on the node's deletion too.
  ASSERT_EQ(zk::getChildrenSync(*c_, root_ + "/kid", true).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = root_ + "/kid"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDeleted, root_ + "/kid"));

  const auto all = events_.watches();
  barrier();
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [&](auto& e) { return e.path == root_; }), 2);
  for (const auto& e : all) {
    EXPECT_EQ(e.origins, origin::kOneShot) << e.path;
    EXPECT_EQ(e.generation, 1u);
  }
  EXPECT_TRUE(events_.watches().empty());
}

TEST_F(ZkNativeWatchTest, APersistentWatchStaysAndSeesOnlyItsNode) {
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistent).code, Code::kOk);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = std::to_string(i)}).code, Code::kOk);
  ASSERT_TRUE(waitFor([&] { return events_.countWatch(EventType::kDataChanged, root_) == 3; }, 10s));
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/kid"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kChildrenChanged, root_));
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_ + "/kid", .data = "x"}).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = root_ + "/kid"}).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = root_}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDeleted, root_));
  // It outlives the node: a new node of that name fires it again.
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_));
  const auto all = events_.watches();
  for (const auto& e : all) {
    EXPECT_EQ(e.path, root_) << "a persistent watch does not see descendants";
    EXPECT_EQ(e.origins, origin::kPersistent);
  }

  ASSERT_EQ(removeWatchesSync(*c_, root_).code, Code::kOk);
  events_.clear();
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "after"}).code, Code::kOk);
  barrier();
  EXPECT_EQ(events_.countWatch(EventType::kDataChanged, root_), 0u);
  EXPECT_EQ(removeWatchesSync(*c_, root_).code, Code::kNoNode) << "no watch left to remove";
}

TEST_F(ZkNativeWatchTest, ARecursiveWatchSeesDeepDescendantsOnceAndNoChildrenEvents) {
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  // A second recursive watch below the first: events under both come once.
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/a"}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c_, root_ + "/a", AddWatchMode::kPersistentRecursive).code, Code::kOk);
  const std::string deep = root_ + "/a/b/c";
  ASSERT_EQ(zk::createRecursiveSync(*other_, deep), Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = deep, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "y"}).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = deep}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDeleted, deep));
  ASSERT_EQ(zk::existsSync(*c_, root_ + "/fence", true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/fence"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/fence"));

  const auto all = events_.watches();
  std::vector<std::pair<EventType, std::string>> seen;
  for (const auto& e : all) {
    EXPECT_NE(e.type, EventType::kChildrenChanged) << e.path;
    EXPECT_TRUE(e.origins & origin::kRecursive) << e.path;
    seen.emplace_back(e.type, e.path);
  }
  const std::vector<std::pair<EventType, std::string>> expected = {
      {EventType::kCreated, root_ + "/a"},        {EventType::kCreated, root_ + "/a/b"},      {EventType::kCreated, deep},
      {EventType::kDataChanged, deep},            {EventType::kDataChanged, root_},
      {EventType::kDeleted, deep},                {EventType::kCreated, root_ + "/fence"}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(all.back().origins, origin::kOneShot | origin::kRecursive);

  // removeWatches ends the outer one; the inner one still reports below it.
  ASSERT_EQ(removeWatchesSync(*c_, root_).code, Code::kOk);
  events_.clear();
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/outside"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/a/inside"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/a/inside"));
  EXPECT_EQ(events_.countWatch(EventType::kCreated, root_ + "/outside"), 0u);
}

TEST_F(ZkNativeWatchTest, ChildEventsOnlyReachAChildWatch) {
  // ZOOKEEPER-4475: with a recursive watch and child watches in one
  // session, a children-changed event is delivered for the child watch
  // only, never as a recursive event.
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/x"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/y"}).code, Code::kOk);
  ASSERT_EQ(zk::getChildrenSync(*c_, root_ + "/x", true).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/y/k"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/x/k"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kChildrenChanged, root_ + "/x"));
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/x/k"));
  EXPECT_EQ(events_.find(EventType::kChildrenChanged, root_ + "/x")->origins, origin::kOneShot);
  EXPECT_EQ(events_.find(EventType::kCreated, root_ + "/y/k")->origins, origin::kRecursive);
  EXPECT_EQ(events_.countWatch(EventType::kChildrenChanged, root_ + "/y"), 0u);
  EXPECT_EQ(events_.countWatch(EventType::kChildrenChanged, root_), 0u);
}

// ZOOKEEPER-4466, documented in native_client.h: a one-shot watch that the
// session sets on the root of its own recursive watch replaces the
// recursive one on a 3.8 server. If this test fails, the server no longer
// does that; update the header.
TEST_F(ZkNativeWatchTest, OneShotWatchOnARecursiveRootReplacesItOnTheServer) {
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/x"}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/before"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/before"));

  ASSERT_EQ(zk::getSync(*c_, root_, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "1"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDataChanged, root_));
  EXPECT_EQ(events_.find(EventType::kDataChanged, root_)->origins, origin::kOneShot | origin::kRecursive);

  // The client still lists the recursive watch, the server does not: no
  // created or data-changed events below the root any more.
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/after"}).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_ + "/x", .data = "changed"}).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "2"}).code, Code::kOk);
  ASSERT_EQ(zk::existsSync(*c_, "/fence-" + root_.substr(1), true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = "/fence-" + root_.substr(1)}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, "/fence-" + root_.substr(1)));
  EXPECT_EQ(events_.countWatch(EventType::kCreated, root_ + "/after"), 0u);
  EXPECT_EQ(events_.countWatch(EventType::kDataChanged, root_ + "/x"), 0u);
  EXPECT_EQ(events_.countWatch(EventType::kDataChanged, root_), 1u);
  // Deletions below still arrive: the server keeps the recursive watch in
  // its child-watch table, which the data one-shot did not touch.
  ASSERT_EQ(zk::removeSync(*other_, DeleteOp{.path = root_ + "/x"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kDeleted, root_ + "/x"));

  // Adding the recursive watch again restores it.
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other_, CreateOp{.path = root_ + "/again"}).code, Code::kOk);
  ASSERT_TRUE(events_.waitWatch(EventType::kCreated, root_ + "/again"));
}

TEST_F(ZkNativeWatchTest, RepliesAndEventsKeepTheServersOrder) {
  // The server sends the event of a write before the write's reply, and
  // answers requests in order: one dispatcher keeps that order.
  ASSERT_EQ(addWatchSync(*c_, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  std::mutex mutex;
  std::vector<std::string> log;
  c_->setWatchListener([&](const zk::WatchEvent& e) {
    std::lock_guard lock(mutex);
    log.push_back("event " + e.path);
  });
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    const std::string path = root_ + "/n" + std::to_string(i);
    c_->create(CreateOp{.path = path}, [&, path](zk::CreateResult r) {
      std::lock_guard lock(mutex);
      log.push_back(r.code == Code::kOk ? "reply " + path : "error " + path);
    });
  }
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return log.size() == 2 * kCount;
      },
      30s));
  std::lock_guard lock(mutex);
  for (int i = 0; i < kCount; ++i) {
    const std::string path = root_ + "/n" + std::to_string(i);
    EXPECT_EQ(log[2 * static_cast<size_t>(i)], "event " + path);
    EXPECT_EQ(log[2 * static_cast<size_t>(i) + 1], "reply " + path);
  }
}

TEST_F(ZkNativeWatchTest, AWatchEventArrivesBeforeTheDataItAnnounces) {
  // ZooKeeper's guarantee: a client sees the event of a watched change
  // before it sees the changed data. The write is done when the read is
  // sent, so the server sends the event first; the client must keep it so.
  ASSERT_EQ(zk::getSync(*c_, root_, true).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*other_, SetOp{.path = root_, .data = "new"}).code, Code::kOk);
  Outcome<std::pair<std::string, size_t>> read;
  c_->get(root_, false, [&](zk::GetResult r) {
    read.callback()({r.data, events_.countWatch(EventType::kDataChanged, root_)});
  });
  ASSERT_TRUE(read.wait());
  EXPECT_EQ(read.result->first, "new");
  EXPECT_EQ(read.result->second, 1u);
}

}  // namespace
}  // namespace zks::testing
