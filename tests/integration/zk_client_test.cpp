// The libzookeeper-mt client against a real ZooKeeper server: answers,
// watches, multi, ACLs, node kinds, auth, sessions, the window, and faults
// through a proxy.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/tcp_proxy.h"
#include "support/wait.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"
#include "zk/c_client.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;
using zk::Code;
using zk::CreateMode;
using zk::CreateOp;
using zk::DeleteOp;
using zk::EventType;
using zk::SessionState;
using zk::SetOp;

// Collects what a client's listeners receive.
class Events {
 public:
  void attach(zk::Client& client) {
    client.setWatchListener([this](const zk::WatchEvent& e) {
      std::lock_guard lock(mutex_);
      watches_.push_back(e);
    });
    client.setSessionListener([this](const zk::SessionEvent& e) {
      std::lock_guard lock(mutex_);
      sessions_.push_back(e);
    });
  }
  bool waitWatch(EventType type, const std::string& path, std::chrono::milliseconds timeout = 5s) {
    return waitFor([&] { return countWatch(type, path) > 0; }, timeout);
  }
  size_t countWatch(EventType type, const std::string& path) {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto& e : watches_) n += e.type == type && e.path == path;
    return n;
  }
  std::vector<zk::WatchEvent> watchesFor(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::vector<zk::WatchEvent> out;
    for (const auto& e : watches_) {
      if (e.path == path) out.push_back(e);
    }
    return out;
  }
  bool waitSession(SessionState state, uint64_t generation, std::chrono::milliseconds timeout = 10s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex_);
          for (const auto& e : sessions_) {
            if (e.state == state && e.generation == generation) return true;
          }
          return false;
        },
        timeout);
  }
  std::vector<zk::SessionEvent> sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  std::mutex mutex_;
  std::vector<zk::WatchEvent> watches_;
  std::vector<zk::SessionEvent> sessions_;
};

// Records one callback's result and the thread it ran on.
template <typename R>
struct Outcome {
  std::mutex mutex;
  std::optional<R> result;
  std::thread::id thread;
  int calls = 0;
  auto callback() {
    return [this](R r) {
      std::lock_guard lock(mutex);
      result = std::move(r);
      thread = std::this_thread::get_id();
      ++calls;
    };
  }
  bool wait(std::chrono::milliseconds timeout = 5s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex);
          return calls > 0;
        },
        timeout);
  }
};

class ZkClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ZkServerOptions options;
    options.super_user = "super:secret";
    // Empty containers and expired TTL nodes go within a fraction of a second.
    options.container_check_interval_ms = 100;
    server_ = new ZkServer(options);
    auto st = server_->start();
    ASSERT_TRUE(st) << st.error().describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->running());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = std::string("/") + info->name();
  }

  std::unique_ptr<zk::Client> connect(zk::ConnectOptions options) {
    options.backend = zk::Backend::kLibzookeeper;  // this file tests the C client
    auto client = connectClient(std::move(options));
    EXPECT_TRUE(client) << client.error().describe();
    return client ? std::move(*client) : nullptr;
  }
  std::unique_ptr<zk::Client> connect() { return connect(testClientOptions(server_->connectString())); }

  static ZkServer* server_;
  std::string root_;  // each test works under /<TestName>
};

ZkServer* ZkClientTest::server_ = nullptr;

TEST_F(ZkClientTest, CreateReadUpdateDelete) {
  auto c = connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  EXPECT_EQ(c->generation(), 1u);
  EXPECT_NE(c->sessionId(), 0);

  auto created = zk::createSync(*c, CreateOp{.path = root_, .data = "v1"});
  ASSERT_EQ(created.code, Code::kOk);
  EXPECT_EQ(created.path, root_);

  auto got = zk::getSync(*c, root_);
  ASSERT_EQ(got.code, Code::kOk);
  EXPECT_EQ(got.data, "v1");
  EXPECT_EQ(got.stat.version, 0);
  EXPECT_EQ(got.stat.data_length, 2);
  EXPECT_EQ(zk::kindOf(got.stat), zk::NodeKind::kPersistent);

  auto set = zk::setSync(*c, SetOp{.path = root_, .data = "v2", .version = 0});
  ASSERT_EQ(set.code, Code::kOk);
  EXPECT_EQ(set.stat.version, 1);
  EXPECT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "v3", .version = 0}).code, Code::kBadVersion);
  EXPECT_EQ(zk::getSync(*c, root_).data, "v2");

  // Binary data survives, including NUL bytes.
  const std::string binary("a\0b\xff", 4);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = binary}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*c, root_).data, binary);

  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kNodeExists);
  EXPECT_EQ(zk::getSync(*c, root_ + "/missing").code, Code::kNoNode);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/missing").code, Code::kNoNode);

  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/a"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/b", .data = "x"}).code, Code::kOk);
  auto children = zk::getChildrenSync(*c, root_);
  ASSERT_EQ(children.code, Code::kOk);
  std::sort(children.children.begin(), children.children.end());
  EXPECT_EQ(children.children, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(children.stat.num_children, 2);

  auto exists = zk::existsSync(*c, root_ + "/b");
  ASSERT_EQ(exists.code, Code::kOk);
  EXPECT_EQ(exists.stat.data_length, 1);

  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_}).code, Code::kNotEmpty);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/a", .version = 5}).code, Code::kBadVersion);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/a"}).code, Code::kOk);
  EXPECT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/a"}).code, Code::kNoNode);

  auto seq1 = zk::createSync(*c, CreateOp{.path = root_ + "/s-", .mode = CreateMode::kPersistentSequential});
  auto seq2 = zk::createSync(*c, CreateOp{.path = root_ + "/s-", .mode = CreateMode::kPersistentSequential});
  ASSERT_EQ(seq1.code, Code::kOk);
  ASSERT_EQ(seq2.code, Code::kOk);
  EXPECT_EQ(seq1.path.size(), (root_ + "/s-").size() + 10);
  EXPECT_LT(seq1.path, seq2.path);

  auto eph = zk::createSync(*c, CreateOp{.path = root_ + "/e", .mode = CreateMode::kEphemeral});
  ASSERT_EQ(eph.code, Code::kOk);
  auto eph_stat = zk::existsSync(*c, root_ + "/e");
  EXPECT_EQ(eph_stat.stat.ephemeral_owner, c->sessionId());
  EXPECT_EQ(zk::kindOf(eph_stat.stat), zk::NodeKind::kEphemeral);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/e/child"}).code, Code::kNoChildrenForEphemerals);
}

TEST_F(ZkClientTest, InvalidPathIsAnsweredOnTheCompletionThread) {
  auto c = connect();
  ASSERT_TRUE(c);
  Outcome<zk::GetResult> out;
  c->get("no-leading-slash", false, out.callback());
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.result->code, Code::kBadArguments);
  EXPECT_NE(out.thread, std::this_thread::get_id());
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = "/trailing/"}).code, Code::kBadArguments);
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(ZkClientTest, WatchesFireOnceWithTheSessionGeneration) {
  auto c = connect();
  ASSERT_TRUE(c);
  Events events;
  events.attach(*c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);

  // Data watch from get.
  ASSERT_EQ(zk::getSync(*c, root_, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "1"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kDataChanged, root_));
  // One-shot: a second change without re-arming sends nothing.
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "2"}).code, Code::kOk);

  // Child watch.
  ASSERT_EQ(zk::getChildrenSync(*c, root_, /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/kid"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kChildrenChanged, root_));

  // Exists watch on a missing node, then created and deleted.
  ASSERT_EQ(zk::existsSync(*c, root_ + "/later", /*watch=*/true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/later"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/later"));
  ASSERT_EQ(zk::existsSync(*c, root_ + "/later", /*watch=*/true).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/later"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kDeleted, root_ + "/later"));

  // Events arrive in order, so once this barrier's event is in, any second
  // data event for root_ would be too.
  ASSERT_EQ(zk::existsSync(*c, root_ + "/barrier", true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/barrier"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/barrier"));
  EXPECT_EQ(events.countWatch(EventType::kDataChanged, root_), 1u);
  for (const auto& e : events.watchesFor(root_)) EXPECT_EQ(e.generation, 1u);
}

TEST_F(ZkClientTest, MultiAppliesAllOrNothing) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .data = "base"}).code, Code::kOk);

  auto ok = zk::multiSync(*c, {CreateOp{.path = root_ + "/m", .data = "m"},
                               SetOp{.path = root_, .data = "changed", .version = 0},
                               zk::CheckOp{.path = root_, .version = 1},
                               CreateOp{.path = root_ + "/q-", .mode = CreateMode::kPersistentSequential}});
  ASSERT_EQ(ok.code, Code::kOk);
  ASSERT_EQ(ok.results.size(), 4u);
  EXPECT_EQ(ok.results[0].code, Code::kOk);
  EXPECT_EQ(ok.results[0].path, root_ + "/m");
  EXPECT_EQ(ok.results[1].stat.version, 1);
  EXPECT_EQ(ok.results[3].path.rfind(root_ + "/q-", 0), 0u);
  EXPECT_EQ(ok.results[3].path.size(), (root_ + "/q-").size() + 10);
  EXPECT_EQ(zk::getSync(*c, root_).data, "changed");

  // The second op fails: nothing applies, and the result says which op.
  auto failed = zk::multiSync(*c, {CreateOp{.path = root_ + "/n"},
                                   SetOp{.path = root_, .data = "no", .version = 0},
                                   zk::DeleteOp{.path = root_ + "/m"}});
  EXPECT_EQ(failed.code, Code::kBadVersion);
  ASSERT_EQ(failed.results.size(), 3u);
  EXPECT_EQ(failed.results[1].code, Code::kBadVersion);
  EXPECT_NE(failed.results[2].code, Code::kOk);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/n").code, Code::kNoNode);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/m").code, Code::kOk);
  EXPECT_EQ(zk::getSync(*c, root_).data, "changed");

  auto check_failed = zk::multiSync(*c, {zk::CheckOp{.path = root_ + "/nope", .version = 0}});
  EXPECT_EQ(check_failed.code, Code::kNoNode);

  auto empty = zk::multiSync(*c, {});
  EXPECT_EQ(empty.code, Code::kOk);
  EXPECT_TRUE(empty.results.empty());
}

TEST_F(ZkClientTest, AclsAreReadAndWritten) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  auto acl = zk::getAclSync(*c, root_);
  ASSERT_EQ(acl.code, Code::kOk);
  EXPECT_EQ(acl.acl, zk::openAcl());
  EXPECT_EQ(acl.stat.aversion, 0);

  zk::AclList read_only = {zk::Acl{zk::perm::kRead, "world", "anyone"}};
  EXPECT_EQ(zk::setAclSync(*c, root_, read_only, /*version=*/3).code, Code::kBadVersion);
  ASSERT_EQ(zk::setAclSync(*c, root_, read_only, 0).code, Code::kOk);
  acl = zk::getAclSync(*c, root_);
  EXPECT_EQ(acl.acl, read_only);
  EXPECT_EQ(acl.stat.aversion, 1);
  EXPECT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "x"}).code, Code::kNoAuth);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/kid"}).code, Code::kNoAuth);

  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "2", .acl = {zk::Acl{31, "bogus", "x"}}}).code,
            Code::kInvalidAcl);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "3", .acl = {}}).code, Code::kInvalidAcl);
  EXPECT_EQ(zk::getAclSync(*c, root_ + "/missing").code, Code::kNoNode);
}

TEST_F(ZkClientTest, DigestAuthOpensADigestProtectedNode) {
  auto opts = testClientOptions(server_->connectString());
  opts.auth = {zk::AuthEntry{"digest", "alice:wonderland"}};
  auto alice = connect(opts);
  ASSERT_TRUE(alice);
  const zk::AclList alice_only = {zk::Acl{zk::perm::kAll, "digest", ZkServer::digestId("alice:wonderland")}};
  ASSERT_EQ(zk::createSync(*alice, CreateOp{.path = root_, .data = "secret", .acl = alice_only}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*alice, root_).data, "secret");
  EXPECT_EQ(zk::getAclSync(*alice, root_).acl, alice_only);

  auto anonymous = connect();
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(zk::getSync(*anonymous, root_).code, Code::kNoAuth);
  EXPECT_EQ(zk::setSync(*anonymous, SetOp{.path = root_, .data = "x"}).code, Code::kNoAuth);

  opts.auth = {zk::AuthEntry{"digest", "alice:wrong"}};
  auto impostor = connect(opts);
  ASSERT_TRUE(impostor);
  EXPECT_EQ(zk::getSync(*impostor, root_).code, Code::kNoAuth);

  // Several entries: the superuser reads everything.
  opts.auth = {zk::AuthEntry{"digest", "bob:builder"}, zk::AuthEntry{"digest", "super:secret"}};
  auto super = connect(opts);
  ASSERT_TRUE(super);
  EXPECT_EQ(zk::getSync(*super, root_).data, "secret");

  // A scheme the server does not know fails the connect.
  opts.auth = {zk::AuthEntry{"nosuchscheme", "x"}};
  auto bad = zk::makeCClient(opts);
  auto st = bad->reopen(5s);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("wonderland"), std::string::npos);
  EXPECT_EQ(bad->state(), SessionState::kAuthFailed);
}

TEST_F(ZkClientTest, TtlAndContainerNodes) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);

  auto ttl = zk::createSync(
      *c, CreateOp{.path = root_ + "/ttl", .data = "t", .mode = CreateMode::kPersistentWithTtl, .ttl_ms = 60000});
  ASSERT_EQ(ttl.code, Code::kOk);
  // The server hides the kind from clients: ephemeralOwner of a TTL or
  // container node reads 0 (DataNode.getClientEphemeralOwner), so a client
  // cannot tell them from persistent nodes.
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ttl").stat.ephemeral_owner, 0);
  // A short TTL proves the kind: the server deletes the node.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/short", .mode = CreateMode::kPersistentWithTtl,
                                        .ttl_ms = 100})
                .code,
            Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/short").code == Code::kNoNode; }, 10s));
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ttl").code, Code::kOk);
  auto ttl_seq = zk::createSync(*c, CreateOp{.path = root_ + "/ttls-",
                                             .mode = CreateMode::kPersistentSequentialWithTtl,
                                             .ttl_ms = 60000});
  ASSERT_EQ(ttl_seq.code, Code::kOk);
  EXPECT_EQ(ttl_seq.path.size(), (root_ + "/ttls-").size() + 10);
  EXPECT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/ttl0", .mode = CreateMode::kPersistentWithTtl,
                                        .ttl_ms = 0})
                .code,
            Code::kBadArguments);

  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/box", .mode = CreateMode::kContainer}).code, Code::kOk);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/box").stat.ephemeral_owner, 0);
  // A container goes once it has had children and has none left.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/box/kid"}).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/box/kid"}).code, Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/box").code == Code::kNoNode; }, 10s));

  // The packaged C client cannot carry TTL or container creates in a multi;
  // the client refuses them instead of crashing, and nothing is created.
  auto box_multi = zk::multiSync(*c, {CreateOp{.path = root_ + "/box2", .mode = CreateMode::kContainer}});
  EXPECT_EQ(box_multi.code, Code::kUnimplemented);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/box2").code, Code::kNoNode);
  auto ttl_multi = zk::multiSync(*c, {CreateOp{.path = root_ + "/ttl2", .mode = CreateMode::kPersistentWithTtl,
                                               .ttl_ms = 60000}});
  EXPECT_EQ(ttl_multi.code, Code::kUnimplemented);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ttl2").code, Code::kNoNode);
}

TEST_F(ZkClientTest, ClientWithoutSessionAnswersClosing) {
  auto c = zk::makeCClient(testClientOptions(server_->connectString()));
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(c->generation(), 0u);
  EXPECT_EQ(c->sessionId(), 0);
  Outcome<zk::GetResult> out;
  c->get("/", false, out.callback());
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.result->code, Code::kClosing);
  EXPECT_NE(out.thread, std::this_thread::get_id());

  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kOk);
  c->close();
  c->close();  // idempotent
  EXPECT_EQ(c->state(), SessionState::kClosed);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kClosing);
}

TEST_F(ZkClientTest, WindowKeepsSubmissionOrder) {
  auto opts = testClientOptions(server_->connectString());
  opts.max_in_flight = 4;
  auto c = connect(opts);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);

  constexpr int kCount = 500;
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> done;  // (submit index, created path) in completion order
  size_t max_pending = 0;
  for (int i = 0; i < kCount; ++i) {
    c->create(CreateOp{.path = root_ + "/n-", .mode = CreateMode::kPersistentSequential},
              [&, i](zk::CreateResult r) {
                std::lock_guard lock(mutex);
                done.emplace_back(i, r.code == Code::kOk ? r.path : std::string("error"));
              });
    max_pending = std::max(max_pending, c->pending());
  }
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        return done.size() == kCount;
      },
      20s));
  EXPECT_GT(max_pending, 4u) << "requests beyond the window should wait in the client";
  EXPECT_EQ(c->pending(), 0u);
  std::lock_guard lock(mutex);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(done[static_cast<size_t>(i)].first, i);
    if (i > 0) {
      EXPECT_LT(done[static_cast<size_t>(i) - 1].second, done[static_cast<size_t>(i)].second);
    }
  }
}

TEST_F(ZkClientTest, ExpiredSessionIsReplacedByANewGeneration) {
  auto c = connect();
  ASSERT_TRUE(c);
  Events events;
  events.attach(*c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  const int64_t first_id = c->sessionId();
  ASSERT_EQ(zk::getSync(*c, root_, /*watch=*/true).code, Code::kOk);

  auto st = expireSession(*c);
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(c->state(), SessionState::kExpired);
  ASSERT_TRUE(events.waitSession(SessionState::kExpired, 1));

  // The dead handle answers at once, on the completion thread.
  Outcome<zk::GetResult> dead;
  c->get(root_, false, dead.callback());
  ASSERT_TRUE(dead.wait());
  EXPECT_EQ(dead.result->code, Code::kSessionExpired);
  EXPECT_NE(dead.thread, std::this_thread::get_id());

  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  EXPECT_NE(c->sessionId(), first_id);
  ASSERT_TRUE(events.waitSession(SessionState::kConnected, 2));

  // The generation-1 watch on root_ is gone; a generation-2 watch works.
  ASSERT_EQ(zk::existsSync(*c, root_ + "/barrier", /*watch=*/true).code, Code::kNoNode);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "after"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/barrier"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/barrier"));
  EXPECT_TRUE(events.watchesFor(root_).empty());
  for (const auto& e : events.watchesFor(root_ + "/barrier")) EXPECT_EQ(e.generation, 2u);
  for (const auto& s : events.sessions()) EXPECT_TRUE(s.generation == 1 || s.generation == 2);
}

TEST_F(ZkClientTest, ReopenDropsTheOldSessionsWatches) {
  auto c = connect();
  ASSERT_TRUE(c);
  Events events;
  events.attach(*c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_, /*watch=*/true).code, Code::kOk);
  ASSERT_TRUE(c->reopen(5s));  // a healthy session replaced on purpose
  EXPECT_EQ(c->generation(), 2u);

  // Changed by another client, so only a watch could tell ours.
  auto other = connect();
  ASSERT_TRUE(other);
  ASSERT_EQ(zk::setSync(*other, SetOp{.path = root_, .data = "x"}).code, Code::kOk);
  ASSERT_EQ(zk::existsSync(*c, root_ + "/barrier", true).code, Code::kNoNode);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_ + "/barrier"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/barrier"));
  EXPECT_TRUE(events.watchesFor(root_).empty());
}

TEST_F(ZkClientTest, CallbacksMayIssueRequestsAndReopen) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);

  // A chain: each callback issues the next request from the completion thread.
  std::atomic<int> links{0};
  std::function<void(zk::StatResult)> next = [&](zk::StatResult r) {
    if (r.code != Code::kOk) return;
    if (++links < 200) c->set(SetOp{.path = root_, .data = std::to_string(links.load())}, next);
  };
  c->set(SetOp{.path = root_, .data = "0"}, next);
  ASSERT_TRUE(waitFor([&] { return links.load() == 200; }, 10s));

  // Sessions can be replaced from a callback too (reopen() blocks only that
  // callback, not the client).
  Outcome<Status> reopened;
  c->get(root_, false, [&](zk::GetResult) { reopened.callback()(c->reopen(5s)); });
  ASSERT_TRUE(reopened.wait(10s));
  ASSERT_TRUE(*reopened.result);
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(zk::getSync(*c, root_).data, "199");
}

TEST_F(ZkClientTest, ConnectToABlackholeTimesOut) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  auto c = zk::makeCClient(testClientOptions((*proxy)->connectString()));
  const auto start = std::chrono::steady_clock::now();
  auto st = c->reopen(1000ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kTimeout);
  EXPECT_NE(st.error().message.find((*proxy)->connectString()), std::string::npos) << st.error().message;
  EXPECT_GE(elapsed, 1000ms);
  EXPECT_LT(elapsed, 3000ms);
  EXPECT_EQ(c->state(), SessionState::kClosed);

  // The same client connects once the path is open.
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kOk);
}

TEST_F(ZkClientTest, ConnectionResetKeepsTheSessionAndItsWatches) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  auto c = connect(testClientOptions(p.connectString()));
  ASSERT_TRUE(c);
  Events events;
  events.attach(*c);
  auto direct = connect();
  ASSERT_TRUE(direct);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_, /*watch=*/true).code, Code::kOk);
  const int64_t id = c->sessionId();

  p.setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  EXPECT_EQ(zk::getSync(*c, root_).code, Code::kConnectionLoss);
  // Changed while the client is away: the watch fires after it reconnects.
  ASSERT_EQ(zk::setSync(*direct, SetOp{.path = root_, .data = "while away"}).code, Code::kOk);

  p.setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(waitFor([&] { return c->state() == SessionState::kConnected; }, 10s));
  EXPECT_EQ(c->sessionId(), id);
  EXPECT_EQ(c->generation(), 1u);
  ASSERT_TRUE(events.waitWatch(EventType::kDataChanged, root_));
  EXPECT_EQ(zk::getSync(*c, root_).data, "while away");
}

TEST_F(ZkClientTest, CloseCompletesEveryPendingRequestOnce) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto opts = testClientOptions((*proxy)->connectString());
  opts.max_in_flight = 50;
  auto c = connect(opts);
  ASSERT_TRUE(c);
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);

  constexpr int kCount = 200;
  std::vector<std::atomic<int>> calls(kCount);
  std::mutex mutex;
  std::map<Code, int> codes;
  for (int i = 0; i < kCount; ++i) {
    c->get("/", false, [&, i](zk::GetResult r) {
      calls[static_cast<size_t>(i)]++;
      std::lock_guard lock(mutex);
      codes[r.code]++;
    });
  }
  EXPECT_EQ(c->pending(), static_cast<size_t>(kCount));
  c->close();
  ASSERT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(mutex);
        int n = 0;
        for (auto& [code, count] : codes) n += count;
        return n == kCount;
      },
      5s));
  for (auto& n : calls) EXPECT_EQ(n.load(), 1);
  std::lock_guard lock(mutex);
  for (auto& [code, count] : codes) EXPECT_TRUE(zk::isRetryable(code)) << zk::codeName(code);
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(ZkClientTest, DestructorCompletesPendingRequests) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto c = connect(testClientOptions((*proxy)->connectString()));
  ASSERT_TRUE(c);
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  std::atomic<int> calls{0};
  for (int i = 0; i < 20; ++i) c->exists("/", false, [&](zk::StatResult) { calls++; });
  c.reset();
  EXPECT_EQ(calls.load(), 20);
}

TEST_F(ZkClientTest, CClientLogsStayOffStderr) {
  // A refused connection makes the C client log errors; they must reach
  // spdlog (debug), not the process's stderr.
  std::string path = ::testing::TempDir() + "/stderr-capture";
  std::fflush(stderr);
  int saved = ::dup(STDERR_FILENO);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  {
    auto opts = testClientOptions("127.0.0.1:1");  // nothing listens on port 1
    auto c = zk::makeCClient(opts);
    auto st = c->reopen(300ms);
    EXPECT_FALSE(st);
  }
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream captured;
  captured << in.rdbuf();
  EXPECT_EQ(captured.str().find("ZOO_"), std::string::npos) << captured.str();
}

}  // namespace
}  // namespace zks::testing
