// FaultClient: injected failures, both modes, rule matching, ordering and
// threading, on top of a FakeClient.

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "testdoubles/fake_client.h"
#include "testdoubles/fault_client.h"
#include "zk/blocking.h"

namespace zks::zk {
namespace {

CreateOp createOp(std::string path) {
  CreateOp op;
  op.path = std::move(path);
  return op;
}

class FaultTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> server_ = std::make_shared<FakeServer>();
  std::shared_ptr<FakeClient> fake_ = std::make_shared<FakeClient>(server_);
};

TEST_F(FaultTest, FailBeforeNeverReachesTheInnerClient) {
  FaultClient c(fake_);
  FaultRule rule;
  rule.ops = op_mask::bit(OpKind::kCreate);
  const size_t id = c.addRule(rule);

  std::promise<std::pair<Code, std::thread::id>> answer;
  c.create(createOp("/a"), [&](CreateResult r) { answer.set_value({r.code, std::this_thread::get_id()}); });
  const auto [code, thread] = answer.get_future().get();
  EXPECT_EQ(code, Code::kConnectionLoss);
  EXPECT_NE(thread, std::this_thread::get_id()) << "never inline in the caller";
  EXPECT_FALSE(server_->node("/a"));
  EXPECT_EQ(fake_->counters().write_requests, 0u) << "nothing was sent";
  EXPECT_EQ(c.injected(), 1u);
  EXPECT_EQ(c.injected(id), 1u);

  // Other kinds pass through.
  EXPECT_EQ(getSync(c, "/").code, Code::kOk);
  EXPECT_EQ(c.injected(), 1u);
}

TEST_F(FaultTest, ApplyThenTimeoutAppliesButReportsATimeout) {
  FaultClient c(fake_);
  FaultRule rule;
  rule.mode = FaultMode::kApplyThenTimeout;
  rule.ops = op_mask::kWrites;
  c.addRule(rule);

  auto created = createSync(c, createOp("/a"));
  EXPECT_EQ(created.code, Code::kOperationTimeout);
  EXPECT_TRUE(created.path.empty()) << "the real answer is lost";
  EXPECT_TRUE(server_->node("/a")) << "but the create happened";

  // The outcome is unknown either way: a refused write also reports a timeout.
  EXPECT_EQ(createSync(c, createOp("/a")).code, Code::kOperationTimeout);
  EXPECT_EQ(fake_->counters().write_requests, 2u);
  EXPECT_EQ(fake_->counters().creates, 1u);
}

TEST_F(FaultTest, MultiFailsAsAWholeInBothModes) {
  FaultClient c(fake_);
  FaultRule before;
  before.ops = op_mask::bit(OpKind::kMulti);
  before.path_prefix = "/before";
  before.code = Code::kSessionExpired;
  c.addRule(before);
  FaultRule after;
  after.ops = op_mask::bit(OpKind::kMulti);
  after.path_prefix = "/after";
  after.mode = FaultMode::kApplyThenTimeout;
  c.addRule(after);

  auto r1 = multiSync(c, {createOp("/x"), createOp("/before")});
  EXPECT_EQ(r1.code, Code::kSessionExpired) << "any op's path matches";
  EXPECT_TRUE(r1.results.empty());
  EXPECT_FALSE(server_->node("/x"));

  auto r2 = multiSync(c, {createOp("/after"), createOp("/after/y")});
  EXPECT_EQ(r2.code, Code::kOperationTimeout);
  EXPECT_TRUE(r2.results.empty());
  EXPECT_TRUE(server_->node("/after/y"));

  auto r3 = multiSync(c, {createOp("/other")});
  EXPECT_EQ(r3.code, Code::kOk);
  ASSERT_EQ(r3.results.size(), 1u);
  EXPECT_EQ(r3.results[0].path, "/other");
}

MultiReadResult multiReadSync(Client& c, std::vector<ReadOp> ops) {
  return await<MultiReadResult>([&](auto cb) { c.multiRead(std::move(ops), std::move(cb)); });
}
VoidResult addWatchSync(Client& c, const std::string& path, AddWatchMode mode) {
  return await<VoidResult>([&](auto cb) { c.addWatch(path, mode, std::move(cb)); });
}
VoidResult removeWatchesSync(Client& c, const std::string& path) {
  return await<VoidResult>([&](auto cb) { c.removeWatches(path, std::move(cb)); });
}
VoidResult syncSync(Client& c, const std::string& path) {
  return await<VoidResult>([&](auto cb) { c.sync(path, std::move(cb)); });
}

TEST_F(FaultTest, NewerCallsFailBeforeWithoutReachingTheInnerClient) {
  ASSERT_EQ(server_->createDirect(createOp("/w")).code, Code::kOk);
  FaultClient c(fake_);
  c.addRule(FaultRule{.ops = op_mask::kWatches | op_mask::bit(OpKind::kMultiRead) | op_mask::bit(OpKind::kSync)});
  auto reads = multiReadSync(c, {ReadOp{ReadKind::kGetData, "/w"}, ReadOp{ReadKind::kGetChildren, "/w"}});
  EXPECT_EQ(reads.code, Code::kConnectionLoss);
  EXPECT_TRUE(reads.results.empty());
  EXPECT_EQ(addWatchSync(c, "/w", AddWatchMode::kPersistentRecursive).code, Code::kConnectionLoss);
  EXPECT_EQ(fake_->watchCount(), 0u) << "the watch was never set";
  EXPECT_EQ(removeWatchesSync(c, "/w").code, Code::kConnectionLoss);
  EXPECT_EQ(syncSync(c, "/w").code, Code::kConnectionLoss);
  EXPECT_EQ(fake_->counters().multi_reads, 0u);
  EXPECT_EQ(c.injected(), 4u);
  EXPECT_EQ(getSync(c, "/w").code, Code::kOk) << "other kinds pass";
}

TEST_F(FaultTest, NewerCallsApplyThenReportATimeout) {
  ASSERT_EQ(server_->createDirect(createOp("/w")).code, Code::kOk);
  FaultClient c(fake_);
  std::mutex mu;
  std::vector<WatchEvent> events;
  c.setWatchListener([&](const WatchEvent& e) {
    std::lock_guard lk(mu);
    events.push_back(e);
  });
  c.addRule(FaultRule{.ops = op_mask::kAll, .mode = FaultMode::kApplyThenTimeout});
  auto reads = multiReadSync(c, {ReadOp{ReadKind::kGetData, "/w"}});
  EXPECT_EQ(reads.code, Code::kOperationTimeout);
  EXPECT_TRUE(reads.results.empty()) << "the real answer is lost";
  EXPECT_EQ(fake_->counters().multi_reads, 1u) << "but it was read";
  // The watch is set although the caller cannot know: its events arrive,
  // with the registrations they matched.
  EXPECT_EQ(addWatchSync(c, "/w", AddWatchMode::kPersistentRecursive).code, Code::kOperationTimeout);
  server_->createDirect(createOp("/w/kid"));
  ASSERT_TRUE(fake_->waitIdle());
  ASSERT_TRUE(c.waitIdle());
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, EventType::kCreated);
    EXPECT_EQ(events[0].path, "/w/kid");
    EXPECT_EQ(events[0].origins, watch_origin::kRecursive);
  }
  EXPECT_EQ(syncSync(c, "/w").code, Code::kOperationTimeout);
  EXPECT_EQ(removeWatchesSync(c, "/w").code, Code::kOperationTimeout);
  EXPECT_EQ(fake_->watchCount(), 0u) << "removed all the same";
}

TEST_F(FaultTest, CapabilitiesAreTheInnerClients) {
  FaultClient all(fake_);
  EXPECT_TRUE(all.capabilities().multi_read);
  EXPECT_TRUE(all.capabilities().persistent_watches);
  auto plain = std::make_shared<FakeClient>(server_, FakeClientOptions{.capabilities = Capabilities{}});
  FaultClient none(plain);
  EXPECT_FALSE(none.capabilities().multi_read);
  EXPECT_FALSE(none.capabilities().persistent_watches);
  // What the inner client lacks it answers itself: emulated or unimplemented.
  auto reads = multiReadSync(none, {ReadOp{ReadKind::kGetChildren, "/"}});
  ASSERT_EQ(reads.code, Code::kOk);
  EXPECT_EQ(reads.results[0].stat.num_children, 1) << "the emulation's getChildren keeps its stat";
  EXPECT_EQ(addWatchSync(none, "/", AddWatchMode::kPersistent).code, Code::kUnimplemented);
}

TEST_F(FaultTest, SkipAndMaxFaultsPickTheNthCall) {
  FaultClient c(fake_);
  FaultRule third;
  third.ops = op_mask::bit(OpKind::kGet);
  third.skip = 2;
  third.max_faults = 1;
  c.addRule(third);
  std::vector<Code> codes;
  for (int i = 0; i < 5; ++i) codes.push_back(getSync(c, "/").code);
  EXPECT_EQ(codes, (std::vector<Code>{Code::kOk, Code::kOk, Code::kConnectionLoss, Code::kOk, Code::kOk}));
}

TEST_F(FaultTest, RulesMatchByKindPrefixAndPredicate) {
  ASSERT_EQ(server_->createRecursiveDirect("/app/a"), Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/apple"), Code::kOk);
  ASSERT_EQ(server_->createRecursiveDirect("/other"), Code::kOk);
  FaultClient c(fake_);
  FaultRule rule;
  rule.ops = op_mask::kReads;
  rule.path_prefix = "/app/";
  rule.predicate = [](OpKind kind, const std::string& path) { return kind != OpKind::kExists || path != "/app/a"; };
  c.addRule(rule);

  struct Case {
    std::function<Code()> op;
    Code expected;
    const char* name;
  };
  const Case cases[] = {
      {[&] { return getSync(c, "/app/a").code; }, Code::kConnectionLoss, "get under the prefix"},
      {[&] { return getChildrenSync(c, "/app/a").code; }, Code::kConnectionLoss, "children under the prefix"},
      {[&] { return existsSync(c, "/app/a").code; }, Code::kOk, "excluded by the predicate"},
      {[&] { return getSync(c, "/app").code; }, Code::kOk, "prefix is a plain string: /app is not /app/"},
      {[&] { return getSync(c, "/apple").code; }, Code::kOk, "other path"},
      {[&] { return setSync(c, SetOp{"/app/a", "x"}).code; }, Code::kOk, "a write is not a read"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    EXPECT_EQ(tc.op(), tc.expected);
  }
  EXPECT_EQ(c.injected(), 2u);
}

TEST_F(FaultTest, ProbabilityIsDrawnFromTheSeed) {
  auto run = [&](uint64_t seed) {
    FaultClient c(*fake_, seed);
    FaultRule rule;
    rule.probability = 0.3;
    c.addRule(rule);
    std::vector<bool> failed;
    for (int i = 0; i < 400; ++i) failed.push_back(existsSync(c, "/").code != Code::kOk);
    return failed;
  };
  const auto a = run(42);
  const auto b = run(42);
  const auto other = run(7);
  EXPECT_EQ(a, b) << "same seed, same faults";
  EXPECT_NE(a, other);
  const auto count = std::count(a.begin(), a.end(), true);
  EXPECT_GT(count, 80);
  EXPECT_LT(count, 160);
}

TEST_F(FaultTest, FirstMatchingRuleDecidesAndRulesCanBeRemoved) {
  FaultClient c(fake_);
  FaultRule first;
  first.code = Code::kSessionMoved;
  first.max_faults = 1;
  const size_t a = c.addRule(first);
  FaultRule second;
  second.code = Code::kThrottled;
  const size_t b = c.addRule(second);
  EXPECT_EQ(getSync(c, "/").code, Code::kSessionMoved);
  EXPECT_EQ(getSync(c, "/").code, Code::kThrottled) << "the first rule is used up";
  c.removeRule(b);
  EXPECT_EQ(getSync(c, "/").code, Code::kOk);
  EXPECT_EQ(c.injected(a), 1u);
  EXPECT_EQ(c.injected(b), 1u) << "counts outlive the rule";
  EXPECT_EQ(c.injected(), 2u);
  c.addRule(FaultRule{});
  c.clearRules();
  EXPECT_EQ(getSync(c, "/").code, Code::kOk);
}

TEST_F(FaultTest, AnswersKeepRequestOrderAcrossInjectedFailures) {
  ASSERT_EQ(server_->createDirect(createOp("/o")).code, Code::kOk);
  FaultClient c(fake_);
  FaultRule rule;
  rule.ops = op_mask::bit(OpKind::kExists);
  c.addRule(rule);

  std::mutex mu;
  std::vector<std::string> order;
  std::set<std::thread::id> threads;
  auto record = [&](std::string what) {
    std::lock_guard lk(mu);
    order.push_back(std::move(what));
    threads.insert(std::this_thread::get_id());
  };
  // The fake holds its requests, so the injected failure is ready long
  // before the earlier request's answer: it must still come second.
  fake_->pauseRequests();
  c.get("/o", false, [&](GetResult r) { record("get " + std::string(codeName(r.code))); });
  c.exists("/o", false, [&](StatResult r) { record("exists " + std::string(codeName(r.code))); });
  c.set(SetOp{"/o", "x"}, [&](StatResult r) { record("set " + std::string(codeName(r.code))); });
  EXPECT_EQ(c.pending(), 3u);
  fake_->resumeRequests();
  ASSERT_TRUE(fake_->waitIdle());
  ASSERT_TRUE(c.waitIdle());
  EXPECT_EQ(order, (std::vector<std::string>{"get ok", "exists connection loss", "set ok"}));
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
  EXPECT_EQ(c.pending(), 0u);
}

TEST_F(FaultTest, EventsAreForwardedOnTheFaultClientsThread) {
  ASSERT_EQ(server_->createDirect(createOp("/w")).code, Code::kOk);
  FaultClient c(fake_);
  std::mutex mu;
  std::vector<WatchEvent> events;
  std::vector<SessionState> states;
  std::thread::id answer_thread;
  std::set<std::thread::id> event_threads;
  c.setWatchListener([&](const WatchEvent& e) {
    std::lock_guard lk(mu);
    events.push_back(e);
    event_threads.insert(std::this_thread::get_id());
  });
  c.setSessionListener([&](const SessionEvent& e) {
    std::lock_guard lk(mu);
    states.push_back(e.state);
    event_threads.insert(std::this_thread::get_id());
  });
  c.get("/w", true, [&](GetResult) {
    std::lock_guard lk(mu);
    answer_thread = std::this_thread::get_id();
  });
  ASSERT_TRUE(c.waitIdle());
  server_->setDirect("/w", "x");
  fake_->disconnect();
  ASSERT_TRUE(fake_->waitIdle());
  ASSERT_TRUE(c.waitIdle());
  std::lock_guard lk(mu);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kDataChanged);
  EXPECT_EQ(events[0].path, "/w");
  EXPECT_EQ(states, std::vector<SessionState>{SessionState::kConnecting});
  EXPECT_EQ(event_threads, std::set<std::thread::id>{answer_thread});
  EXPECT_EQ(c.state(), SessionState::kConnecting) << "session calls go to the inner client";
}

TEST_F(FaultTest, AnswersArrivingAfterDestructionStillReachTheirCallbacks) {
  std::promise<Code> answer;
  {
    FaultClient c(*fake_);
    fake_->pauseRequests();
    c.get("/", false, [&](GetResult r) { answer.set_value(r.code); });
  }
  fake_->resumeRequests();
  EXPECT_EQ(answer.get_future().get(), Code::kOk);
}

}  // namespace
}  // namespace zks::zk
