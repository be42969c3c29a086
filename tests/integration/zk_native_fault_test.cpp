// The native client through faults, against real ZooKeeper 3.8 servers:
// connection resets with session resume, a partition past the session
// timeout, kill -9 and restart of the server, an ensemble losing the member
// a client is on, a lagging server refusing a client, a restart under
// 100,000 pipelined requests, re-registration of more than 1 MiB of watched
// paths, and close() while a connect is pending.

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "support/tcp_proxy.h"
#include "support/zk_ensemble.h"
#include "support/zk_server.h"
#include "zk/native/native_testing.h"
#include "zk_native_harness.h"

namespace zks::testing {
namespace {

using zk::AddWatchMode;
using zk::Code;
using zk::CreateMode;
using zk::CreateOp;
using zk::DeleteOp;
using zk::EventType;
using zk::SessionState;
using zk::SetOp;
using Clock = std::chrono::steady_clock;

// Counts the callbacks of numbered requests: each must run exactly once.
class Ledger {
 public:
  explicit Ledger(size_t n) : calls_(n) {}
  void record(size_t i, Code code) {
    calls_[i].fetch_add(1);
    std::lock_guard lock(mutex_);
    codes_[code]++;
    ++done_;
  }
  size_t done() {
    std::lock_guard lock(mutex_);
    return done_;
  }
  bool waitAll(std::chrono::milliseconds timeout) {
    return waitFor([&] { return done() >= calls_.size(); }, timeout, 20ms);
  }
  void expectEachOnce() {
    size_t wrong = 0;
    for (auto& c : calls_) wrong += c.load() != 1;
    EXPECT_EQ(wrong, 0u) << "requests not completed exactly once";
  }
  std::map<Code, size_t> codes() {
    std::lock_guard lock(mutex_);
    return codes_;
  }

 private:
  std::vector<std::atomic<int>> calls_;
  std::mutex mutex_;
  std::map<Code, size_t> codes_;
  size_t done_ = 0;
};

class ZkNativeFaultTest : public ::testing::Test {
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
  }

  static ZkServer* server_;
  std::string root_;
};

ZkServer* ZkNativeFaultTest::server_ = nullptr;

TEST_F(ZkNativeFaultTest, AResetConnectionResumesTheSessionWithItsWatches) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  Events events;
  auto c = connectNative(nativeOptions(p.connectString()), &events);
  auto other = connectNative(nativeOptions(server_->connectString()));
  ASSERT_TRUE(c && other);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_}).code, Code::kOk);
  for (const char* name : {"/d", "/p", "/r"}) ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_ + name}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/e", .mode = CreateMode::kEphemeral}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_ + "/d", true).code, Code::kOk);
  ASSERT_EQ(zk::existsSync(*c, root_ + "/m", true).code, Code::kNoNode);
  ASSERT_EQ(zk::getChildrenSync(*c, root_ + "/p", true).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, root_ + "/r", AddWatchMode::kPersistentRecursive).code, Code::kOk);
  const int64_t id = c->sessionId();

  p.setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  EXPECT_EQ(c->state(), SessionState::kConnecting);
  // While away: requests fail at once, their outcome known to be nothing.
  EXPECT_EQ(zk::getSync(*c, root_).code, Code::kConnectionLoss);
  ASSERT_EQ(zk::setSync(*other, SetOp{.path = root_ + "/d", .data = "while away"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_ + "/m"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_ + "/p/kid"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_ + "/r/missed"}).code, Code::kOk);

  p.setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  EXPECT_EQ(c->sessionId(), id);
  EXPECT_EQ(c->generation(), 1u);
  // One-shot watches catch up on what changed while away (SetWatches with
  // the last zxid seen).
  ASSERT_TRUE(events.waitWatch(EventType::kDataChanged, root_ + "/d"));
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/m"));
  ASSERT_TRUE(events.waitWatch(EventType::kChildrenChanged, root_ + "/p"));
  EXPECT_EQ(zk::getSync(*c, root_ + "/d").data, "while away");
  EXPECT_EQ(zk::existsSync(*other, root_ + "/e").stat.ephemeral_owner, id);
  // The recursive watch is back (it replays nothing it missed).
  ASSERT_EQ(zk::createRecursiveSync(*other, root_ + "/r/x/y"), Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/r/x/y"));
  EXPECT_EQ(events.countWatch(EventType::kCreated, root_ + "/r/missed"), 0u);
  EXPECT_GE(zk::setWatchesPacketsForTesting(*c), 1u);
}

TEST_F(ZkNativeFaultTest, APartitionPastTheSessionTimeoutEndsInExpiry) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  Events events;
  auto c = connectNative(nativeOptions(p.connectString()), &events);
  auto other = connectNative(nativeOptions(server_->connectString()));
  ASSERT_TRUE(c && other);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .mode = CreateMode::kEphemeral}).code, Code::kOk);

  p.setMode(TcpProxy::Mode::kBlackhole);
  constexpr size_t kCount = 50;
  Ledger ledger(kCount);
  for (size_t i = 0; i < kCount; ++i) c->get("/", false, [&, i](zk::GetResult r) { ledger.record(i, r.code); });
  // Nothing arrives: after two thirds of the timeout the connection is
  // given up and every request on it fails once.
  ASSERT_TRUE(ledger.waitAll(15s));
  ledger.expectEachOnce();
  EXPECT_EQ(ledger.codes(), (std::map<Code, size_t>{{Code::kConnectionLoss, kCount}}));
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));

  // The server expires the session meanwhile (its ephemeral node goes)...
  ASSERT_TRUE(waitFor([&] { return zk::existsSync(*other, root_).code == Code::kNoNode; }, 20s));
  // ...and tells the client so once it is back.
  p.setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSession(SessionState::kExpired, 1, 20s));
  EXPECT_EQ(c->state(), SessionState::kExpired);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kSessionExpired);

  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kOk);
}

TEST_F(ZkNativeFaultTest, AnExpiredSessionIsReplacedByANewGeneration) {
  Events events;
  auto c = connectNative(nativeOptions(server_->connectString()), &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_, true).code, Code::kOk);
  const int64_t first = c->sessionId();
  auto st = expireSession(*c);
  ASSERT_TRUE(st) << st.error().describe();
  EXPECT_EQ(c->state(), SessionState::kExpired);
  ASSERT_TRUE(events.waitSession(SessionState::kExpired, 1));
  Outcome<zk::GetResult> dead;
  c->get(root_, false, dead.callback());
  ASSERT_TRUE(dead.wait());
  EXPECT_EQ(dead.result->code, Code::kSessionExpired);
  EXPECT_NE(dead.thread, std::this_thread::get_id());

  ASSERT_TRUE(c->reopen(5s));
  EXPECT_EQ(c->generation(), 2u);
  EXPECT_NE(c->sessionId(), first);
  ASSERT_TRUE(events.waitSession(SessionState::kConnected, 2));
  ASSERT_EQ(zk::existsSync(*c, root_ + "/barrier", true).code, Code::kNoNode);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "after"}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/barrier"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/barrier"));
  EXPECT_EQ(events.countWatch(EventType::kDataChanged, root_), 0u) << "the old generation's watch is gone";
}

TEST_F(ZkNativeFaultTest, TheSessionSurvivesKillNineAndRestartOfTheServer) {
  ZkServer server;
  ASSERT_TRUE(server.start());
  // The server restores the session with a fresh timeout once it is up; a
  // JVM restart on a loaded machine can take longer than 4 s.
  auto options = nativeOptions(server.connectString());
  options.session_timeout = 20000ms;
  Events events;
  auto c = connectNative(options, &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/e", .mode = CreateMode::kEphemeral}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_, true).code, Code::kOk);
  const int64_t id = c->sessionId();

  server.kill9();
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  EXPECT_EQ(c->sessionId(), id);
  EXPECT_EQ(zk::existsSync(*c, root_ + "/e").stat.ephemeral_owner, id);
  ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = "after restart"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(EventType::kDataChanged, root_));
}

TEST_F(ZkNativeFaultTest, AnEnsembleLosingTheClientsMemberKeepsTheSession) {
  ZkServerOptions base;
  base.start_timeout = std::chrono::seconds(60);
  ZkEnsemble ensemble(3, base);
  auto st = ensemble.start();
  ASSERT_TRUE(st) << st.error().describe();
  auto options = nativeOptions(ensemble.connectString());
  options.session_timeout = 20000ms;
  options.connect_timeout = 20000ms;
  Events events;
  auto c = connectNative(options, &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_ + "/e", .mode = CreateMode::kEphemeral}).code, Code::kOk);
  ASSERT_EQ(addWatchSync(*c, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  const int64_t id = c->sessionId();

  int serving = -1;
  ASSERT_TRUE(waitFor([&] { return (serving = ensemble.memberServing(id)) >= 0; }, 10s));
  ensemble.member(serving).kill9();
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2, 30s));
  EXPECT_EQ(c->sessionId(), id);
  int now_serving = -1;
  ASSERT_TRUE(waitFor([&] { return (now_serving = ensemble.memberServing(id)) >= 0; }, 10s));
  EXPECT_NE(now_serving, serving);
  // Writes go on, the ephemeral node stayed, the recursive watch came along.
  ASSERT_TRUE(waitFor([&] { return zk::createSync(*c, CreateOp{.path = root_ + "/after"}).code == Code::kOk; }, 20s));
  ASSERT_TRUE(events.waitWatch(EventType::kCreated, root_ + "/after"));
  EXPECT_EQ(zk::existsSync(*c, root_ + "/e").stat.ephemeral_owner, id);

  // The killed member comes back and catches up.
  ASSERT_TRUE(ensemble.member(serving).start());
  auto direct = connectNative(nativeOptions(ensemble.member(serving).connectString()));
  ASSERT_TRUE(direct);
  ASSERT_EQ(syncSync(*direct, root_).code, Code::kOk);
  EXPECT_EQ(zk::existsSync(*direct, root_ + "/after").code, Code::kOk);
}

TEST_F(ZkNativeFaultTest, AServerBehindTheClientRefusesItAndTheNextHostIsTried) {
  // Two servers behind one connect string stand in for a leader and a
  // lagging follower: `behind` has seen fewer transactions than the
  // client, so it must refuse the client's session (it closes the
  // connection) instead of answering "expired"; the client tries the next
  // host and resumes there.
  ZkServer behind;
  ASSERT_TRUE(behind.start());
  auto ahead_proxy = TcpProxy::start(server_->port());
  auto behind_proxy = TcpProxy::start(behind.port());
  ASSERT_TRUE(ahead_proxy && behind_proxy);
  auto& ahead = **ahead_proxy;
  auto& lagging = **behind_proxy;
  lagging.setMode(TcpProxy::Mode::kReset);  // the session starts on `ahead`
  Events events;
  auto c = connectNative(nativeOptions(ahead.connectString() + "," + lagging.connectString()), &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(zk::setSync(*c, SetOp{.path = root_, .data = std::to_string(i)}).code, Code::kOk);
  }
  const int64_t id = c->sessionId();

  lagging.setMode(TcpProxy::Mode::kPass);
  const uint64_t tried_before = lagging.accepted();
  ahead.setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  // The client reaches `behind` (more than once: it cycles) and is refused.
  ASSERT_TRUE(waitFor([&] { return lagging.accepted() >= tried_before + 2; }, 20s));
  EXPECT_EQ(c->state(), SessionState::kConnecting);
  ahead.setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(waitFor([&] { return c->state() == SessionState::kConnected; }, 20s));
  EXPECT_EQ(c->sessionId(), id);
  for (const auto& e : events.sessions()) EXPECT_NE(e.state, SessionState::kExpired);
  EXPECT_EQ(zk::getSync(*c, root_).data, "19");
}

TEST_F(ZkNativeFaultTest, HundredThousandPipelinedRequestsAcrossARestartCompleteOnceEach) {
  // Each failed reconnect attempt says why at debug level: shown if this fails.
  spdlog::set_level(spdlog::level::debug);
  ZkServer server;
  ASSERT_TRUE(server.start());
  // The server restores the session with a fresh timeout once it is up; a
  // JVM restart on a loaded machine can take longer than 4 s.
  auto options = nativeOptions(server.connectString());
  options.session_timeout = 20000ms;
  Events events;
  auto c = connectNative(options, &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);

  constexpr size_t kCount = 100000;
  Ledger ledger(kCount);
  std::atomic<size_t> submitted{0};
  std::thread submitter([&] {
    for (size_t i = 0; i < kCount; ++i) {
      if (i % 2 == 0) {
        c->set(SetOp{.path = root_, .data = std::to_string(i)}, [&, i](zk::StatResult r) { ledger.record(i, r.code); });
      } else {
        c->get(root_, false, [&, i](zk::GetResult r) { ledger.record(i, r.code); });
      }
      submitted = i + 1;
    }
  });
  ASSERT_TRUE(waitFor([&] { return ledger.done() >= 20000; }, 60s));
  server.kill9();
  ASSERT_TRUE(server.start());
  submitter.join();
  ASSERT_TRUE(ledger.waitAll(180s)) << ledger.done() << " of " << kCount;
  ledger.expectEachOnce();
  auto codes = ledger.codes();
  for (auto& [code, n] : codes) {
    EXPECT_TRUE(code == Code::kOk || code == Code::kConnectionLoss) << zk::codeName(code) << " x" << n;
  }
  EXPECT_GT(codes[Code::kOk], 20000u);
  EXPECT_EQ(c->pending(), 0u);
  ASSERT_TRUE(waitFor([&] { return c->state() == SessionState::kConnected; }, 20s));
  EXPECT_EQ(zk::getSync(*c, root_).code, Code::kOk);
}

TEST_F(ZkNativeFaultTest, CompletionsKeepSubmissionOrderThroughALossAndAClose) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto options = nativeOptions((*proxy)->connectString());
  options.max_in_flight = 64;
  Events events;
  auto c = connectNative(options, &events);
  ASSERT_TRUE(c);
  std::mutex mutex;
  std::vector<int> order;
  std::map<Code, int> codes;
  int next = 0;
  auto issue = [&](int n) {
    for (int k = 0; k < n; ++k) {
      const int i = next++;
      c->exists("/", false, [&, i](zk::StatResult r) {
        std::lock_guard lock(mutex);
        order.push_back(i);
        codes[r.code]++;
      });
    }
  };
  auto done = [&] {
    std::lock_guard lock(mutex);
    return order.size();
  };
  // Answers, then a loss that fails what is on the wire and waiting, then
  // requests made while away (failed at once).
  issue(5000);
  ASSERT_TRUE(waitFor([&] { return done() >= 100; }, 30s));
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  issue(100);
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  // Then a close with most of a batch still waiting behind the window.
  issue(5000);
  c->close();
  issue(100);  // after the close: kClosing at once
  ASSERT_TRUE(waitFor([&] { return done() == static_cast<size_t>(next); }, 30s));
  std::lock_guard lock(mutex);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_GE(codes[Code::kOk], 100);
  EXPECT_GE(codes[Code::kConnectionLoss], 100);
  EXPECT_GT(codes[Code::kClosing], 100);
  for (auto& [code, n] : codes) {
    EXPECT_TRUE(code == Code::kOk || code == Code::kConnectionLoss || code == Code::kClosing) << zk::codeName(code);
  }
}

TEST_F(ZkNativeFaultTest, MoreThanOneMiBOfWatchedPathsIsReRegisteredInPieces) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  Events events;
  auto c = connectNative(nativeOptions(p.connectString()), &events);
  auto other = connectNative(nativeOptions(server_->connectString()));
  ASSERT_TRUE(c && other);
  ASSERT_EQ(zk::createSync(*other, CreateOp{.path = root_}).code, Code::kOk);
  // 20,000 exist watches on paths of ~100 bytes: ~2 MB, twice the
  // server's jute.maxbuffer for one packet.
  constexpr size_t kWatches = 20000;
  const std::string padding(40, 'x');
  auto path = [&](size_t i) { return root_ + "/w" + std::to_string(i) + "-" + padding; };
  Ledger ledger(kWatches);
  for (size_t i = 0; i < kWatches; ++i) {
    c->exists(path(i), true, [&, i](zk::StatResult r) { ledger.record(i, r.code); });
  }
  ASSERT_TRUE(ledger.waitAll(60s));
  EXPECT_EQ(ledger.codes()[Code::kNoNode], kWatches);
  ASSERT_EQ(addWatchSync(*c, root_, AddWatchMode::kPersistentRecursive).code, Code::kOk);
  const int64_t id = c->sessionId();

  p.setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  p.setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  // At most 128 KiB of paths per packet.
  EXPECT_GE(zk::setWatchesPacketsForTesting(*c), kWatches * path(0).size() / (128 * 1024));
  // The session survived the re-registration (one oversized packet would
  // have made the server drop the connection, again and again) ...
  EXPECT_EQ(zk::getSync(*c, root_).code, Code::kOk);
  EXPECT_EQ(c->sessionId(), id);
  EXPECT_EQ(c->state(), SessionState::kConnected);
  // ... and the watches are on the server: one-shot ones and the recursive one.
  for (size_t i : {size_t{0}, kWatches / 2, kWatches - 1}) {
    ASSERT_EQ(zk::createSync(*other, CreateOp{.path = path(i)}).code, Code::kOk);
    ASSERT_TRUE(events.waitWatch(EventType::kCreated, path(i)));
    EXPECT_EQ(events.find(EventType::kCreated, path(i))->origins,
              zk::watch_origin::kOneShot | zk::watch_origin::kRecursive);
  }
}

// A server that takes the connection and never answers the handshake (a
// restarting JVM has bound its port before it serves) must not hold the one
// attempt for the whole session timeout: the server would expire the session
// meanwhile. An attempt gets a third of it, then the next one goes out.
TEST_F(ZkNativeFaultTest, AnUnansweredHandshakeIsGivenUpAfterAThirdOfTheSessionTimeout) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  auto options = nativeOptions((*proxy)->connectString());
  options.session_timeout = 9000ms;
  Events events;
  auto c = connectNative(options, &events);
  ASSERT_TRUE(c);
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  const uint64_t accepted = (*proxy)->accepted();
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  ASSERT_TRUE(waitFor([&] { return (*proxy)->accepted() > accepted; }, 5s));
  const auto stalled = Clock::now();
  ASSERT_TRUE(waitFor([&] { return (*proxy)->accepted() > accepted + 1; }, 8s)) << "the first attempt was never given up";
  const auto waited = Clock::now() - stalled;
  EXPECT_GE(waited, 2500ms);
  EXPECT_LE(waited, 5000ms) << "an unanswered attempt held the session for most of its timeout";
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  for (const auto& e : events.sessions()) EXPECT_NE(e.state, SessionState::kExpired);
}

TEST_F(ZkNativeFaultTest, CloseDuringAPendingConnectReturnsPromptly) {
  auto proxy = TcpProxy::start(server_->port());
  ASSERT_TRUE(proxy);
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  auto options = nativeOptions((*proxy)->connectString());
  options.session_timeout = 30000ms;  // a connect attempt may wait a third of this
  auto c = zk::makeNativeClient(options);
  Outcome<Status> reopened;
  std::thread opener([&] { reopened.callback()(c->reopen(60s)); });
  ASSERT_TRUE(waitFor([&] { return (*proxy)->accepted() >= 1; }, 10s));
  Outcome<zk::GetResult> waiting;
  c->get("/", false, waiting.callback());  // waits for the first connection
  auto start = Clock::now();
  c->close();
  EXPECT_LT(Clock::now() - start, 2s);
  ASSERT_TRUE(reopened.wait(5s));
  opener.join();
  EXPECT_FALSE(*reopened.result);
  EXPECT_EQ(c->state(), SessionState::kClosed);
  ASSERT_TRUE(waiting.wait(5s));
  EXPECT_EQ(waiting.result->code, Code::kClosing);

  // The same while reconnecting after a loss, and through the destructor:
  // the connection is reset, then new attempts hang in the blackhole.
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  Events events;
  auto d = connectNative(options, &events);
  ASSERT_TRUE(d);
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  const uint64_t accepted = (*proxy)->accepted();
  (*proxy)->setMode(TcpProxy::Mode::kBlackhole);
  ASSERT_TRUE(waitFor([&] { return (*proxy)->accepted() > accepted; }, 10s));
  std::atomic<int> calls{0};
  for (int i = 0; i < 20; ++i) d->exists("/", false, [&](zk::StatResult) { calls++; });
  start = Clock::now();
  d.reset();
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(calls.load(), 20);
}

}  // namespace
}  // namespace zks::testing
