// What is particular to the libzookeeper-mt backend, against a real
// ZooKeeper server: its capabilities and multi limits, the window, connect
// timeouts, faults through a proxy, and its log. The Client contract itself
// (answers, watches, multi, ACLs, auth, ordering, sessions) is checked for
// every backend by zk_conformance_test.cpp.

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

class ZkClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ZkServerOptions options;
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

TEST_F(ZkClientTest, TheServerReapsTtlAndContainerNodes) {
  auto c = connect();
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  // A client cannot tell these kinds from persistent nodes (ephemeralOwner
  // 0, see the conformance suite); what the server does with them proves it.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/ttl", .mode = CreateMode::kPersistentWithTtl,
                                        .ttl_ms = 60000})
                .code,
            Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/short", .mode = CreateMode::kPersistentWithTtl,
                                        .ttl_ms = 100})
                .code,
            Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/short").code == Code::kNoNode; }, 10s));
  EXPECT_EQ(zk::existsSync(*c, root_ + "/ttl").code, Code::kOk);

  // A container goes once it has had children and has none left.
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/box", .mode = CreateMode::kContainer}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/box/kid"}).code, Code::kOk);
  ASSERT_EQ(zk::removeSync(*c, DeleteOp{.path = root_ + "/box/kid"}).code, Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::existsSync(*c, root_ + "/box").code == Code::kNoNode; }, 10s));
}

TEST_F(ZkClientTest, HasNoMultiReadNorAddWatchAndNoSpecialCreatesInMulti) {
  auto c = connect();
  ASSERT_TRUE(c);
  const zk::Capabilities caps = c->capabilities();
  EXPECT_FALSE(caps.multi_read);
  EXPECT_FALSE(caps.persistent_watches);
  EXPECT_FALSE(caps.special_creates_in_multi);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/kid"}).code, Code::kOk);

  // multiRead is the pipelined emulation: getChildren entries keep their stat.
  auto reads = zk::await<zk::MultiReadResult>([&](auto cb) {
    c->multiRead({zk::ReadOp{zk::ReadKind::kGetChildren, root_}}, std::move(cb));
  });
  ASSERT_EQ(reads.code, Code::kOk);
  ASSERT_EQ(reads.results.size(), 1u);
  EXPECT_EQ(reads.results[0].children, (std::vector<std::string>{"kid"}));
  EXPECT_EQ(reads.results[0].stat.num_children, 1);

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
