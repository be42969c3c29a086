// 100,000 pipelined requests through the libzookeeper-mt client while the
// server is killed (-9) and restarted: every callback fires exactly once,
// with an answer or a retryable code, and nothing hangs.

#include <atomic>
#include <chrono>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "support/wait.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"
#include "zk/c_client.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;
using zk::Code;

constexpr int kOps = 100000;
constexpr int kPaths = 500;

struct Tally {
  std::vector<std::atomic<int>> calls = std::vector<std::atomic<int>>(kOps);
  std::atomic<int> done{0};
  std::atomic<int> ok{0};
  std::atomic<int> answers{0};
  std::atomic<int> retryable{0};
  std::atomic<int> bugs{0};
  std::atomic<int> ok_after_restart{0};
  std::atomic<int> first_bug_code{-1};

  void record(int i, Code code, bool after_restart) {
    calls[static_cast<size_t>(i)].fetch_add(1);
    switch (zk::classify(code)) {
      case zk::ErrorClass::kOk:
        ok++;
        if (after_restart) ok_after_restart++;
        break;
      case zk::ErrorClass::kAnswer: answers++; break;
      case zk::ErrorClass::kRetryable: retryable++; break;
      case zk::ErrorClass::kBug:
        bugs++;
        first_bug_code = static_cast<int>(code);
        break;
    }
    done++;
  }
};

// Mixed requests on a small set of nodes, so every kind of answer occurs.
void issue(zk::Client& c, Tally& tally, int i, bool after_restart) {
  // Each node sees create, get, set, delete in turn; every fifth request
  // reads a node that never exists.
  const std::string path = "/stress/n" + std::to_string((i / 5) % kPaths);
  switch (i % 5) {
    case 0:
      c.create(zk::CreateOp{.path = path, .data = std::to_string(i)},
               [&tally, i, after_restart](zk::CreateResult r) { tally.record(i, r.code, after_restart); });
      break;
    case 1:
      c.get(path, false, [&tally, i, after_restart](zk::GetResult r) { tally.record(i, r.code, after_restart); });
      break;
    case 2:
      c.set(zk::SetOp{.path = path, .data = std::to_string(i)},
            [&tally, i, after_restart](zk::StatResult r) { tally.record(i, r.code, after_restart); });
      break;
    case 3:
      c.remove(zk::DeleteOp{.path = path},
               [&tally, i, after_restart](zk::VoidResult r) { tally.record(i, r.code, after_restart); });
      break;
    default:
      c.exists("/stress/missing", false,
               [&tally, i, after_restart](zk::StatResult r) { tally.record(i, r.code, after_restart); });
      break;
  }
}

TEST(ZkClientStress, HundredThousandRequestsAcrossAServerCrash) {
  // Each failed reconnect attempt says why at debug level: shown if this fails.
  spdlog::set_level(spdlog::level::debug);
  ZkServer server;
  ASSERT_TRUE(server.start());
  auto options = testClientOptions(server.connectString());
  // Long enough for the session to outlive the crash: the restarted server
  // restores it from its log.
  options.session_timeout = 10s;
  options.max_in_flight = 1000;
  auto connected = connectClient(options);
  ASSERT_TRUE(connected) << connected.error().describe();
  auto& c = **connected;
  ASSERT_EQ(zk::createSync(c, zk::CreateOp{.path = "/stress"}).code, Code::kOk);

  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  // Phase 1: half the requests; crash the server while they are in flight.
  for (int i = 0; i < kOps / 2; ++i) issue(c, tally, i, false);
  ASSERT_TRUE(waitFor([&] { return tally.done.load() >= kOps / 5; }, 30s));
  server.kill9();
  // Phase 2: a quarter more while the server is down.
  for (int i = kOps / 2; i < kOps * 3 / 4; ++i) issue(c, tally, i, false);
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(waitFor([&] { return c.state() == zk::SessionState::kConnected; }, 15s));
  // Phase 3: the rest, once the session is back.
  for (int i = kOps * 3 / 4; i < kOps; ++i) issue(c, tally, i, true);

  const bool all_done = waitFor([&] { return tally.done.load() == kOps; }, 60s);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(all_done) << "callbacks missing: " << kOps - tally.done.load() << " after " << elapsed.count()
                        << " ms";
  int wrong = 0;
  for (int i = 0; i < kOps; ++i) {
    if (tally.calls[static_cast<size_t>(i)].load() != 1) {
      if (++wrong <= 5) ADD_FAILURE() << "request " << i << " completed " << tally.calls[static_cast<size_t>(i)] << " times";
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(tally.bugs.load(), 0) << "a bug-class code, e.g. "
                                  << zk::codeName(static_cast<Code>(std::max(0, tally.first_bug_code.load())));
  EXPECT_GT(tally.ok.load(), kOps / 5);
  EXPECT_GT(tally.answers.load(), 0);
  EXPECT_GT(tally.retryable.load(), 0) << "the crash should have cost some requests";
  EXPECT_GT(tally.ok_after_restart.load(), 0);
  EXPECT_EQ(c.pending(), 0u);
  // The same session carries on.
  EXPECT_EQ(c.generation(), 1u);
  EXPECT_EQ(zk::getChildrenSync(c, "/stress").code, Code::kOk);
  std::printf("stress: %d ok, %d answers, %d retryable in %lld ms\n", tally.ok.load(), tally.answers.load(),
              tally.retryable.load(), static_cast<long long>(elapsed.count()));
}

}  // namespace
}  // namespace zks::testing
