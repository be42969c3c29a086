// Failover, status and resume: the real zkstandby binary against real
// ZooKeeper servers, and the fence and election on the real client.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "state/counters.h"
#include "state/election.h"
#include "state/store.h"
#include "support/wait.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kConnectTimeoutMs = 4000;
constexpr const char* kStatePath = "/zkstandby";

struct CommandResult {
  int status = -1;  // exit status; -1 when it did not exit normally
  std::string out;  // stdout and stderr, interleaved
  std::chrono::milliseconds elapsed{0};
};

// Runs zkstandby with `args`, stdin from /dev/null (no terminal), and kills
// it after `timeout`: a command that hangs fails the test instead of it.
CommandResult runZkstandby(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return {};
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    dup2(pipefd[1], STDOUT_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    close(pipefd[0]);
    std::vector<char*> argv;
    std::string bin = ZKS_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  CommandResult result;
  int wstatus = 0;
  bool exited = false;
  char buf[4096];
  while (true) {
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) > 0) result.out.append(buf, static_cast<size_t>(n));
    if (exited && n <= 0) break;
    if (!exited && waitpid(pid, &wstatus, WNOHANG) == pid) {
      exited = true;
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      continue;  // drain what is left
    }
    if (!exited && Clock::now() - start > timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      result.out += "\n[killed after timeout]";
      exited = true;
      result.elapsed = timeout;
      wstatus = -1;
      continue;
    }
    std::this_thread::sleep_for(5ms);
  }
  close(pipefd[0]);
  if (wstatus != -1 && WIFEXITED(wstatus)) result.status = WEXITSTATUS(wstatus);
  return result;
}

// A loopback port nobody listens on: bound, then released.
int closedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backup_.start().has_value());
    dir_ = backup_.directory() + "/cli";
    std::filesystem::create_directories(dir_);
    writeConfig("127.0.0.1:" + std::to_string(closedPort()));
    auto client = connectClient(testClientOptions(backup_.connectString()));
    ASSERT_TRUE(client.has_value()) << client.error().describe();
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (client_) client_->close();
  }

  void writeConfig(const std::string& primary_connect) {
    config_ = dir_ + "/zkstandby.yaml";
    std::ofstream f(config_);
    f << "primary:\n  connect: \"" << primary_connect << "\"\n  connect_timeout_ms: " << kConnectTimeoutMs << "\n"
      << "backup:\n  connect: \"" << backup_.connectString() << "\"\n  connect_timeout_ms: " << kConnectTimeoutMs
      << "\n  session_timeout_ms: 4000\n"
      << "sync:\n  roots:\n    - source: /app\n"
      << "mapping:\n  files: []\n"
      << "state_path: " << kStatePath << "\n"
      << "http:\n  listen: 127.0.0.1:" << closedPort() << "\n";
  }

  state::SiteState siteState() {
    auto stored = state::readState(*client_, kStatePath);
    EXPECT_TRUE(stored.has_value());
    return stored ? stored->state : state::SiteState{};
  }

  ZkServer backup_;
  std::string dir_;
  std::string config_;
  std::unique_ptr<zk::Client> client_;
};

TEST_F(FailoverTest, CompletesWithinTheConnectTimeoutWithThePrimaryUnreachable) {
  auto r = runZkstandby({"failover", "-c", config_, "--yes", "--reason", "primary site lost"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_LT(r.elapsed.count(), kConnectTimeoutMs) << r.out;
  EXPECT_NE(r.out.find("is now ACTIVE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 -> 1"), std::string::npos) << r.out;
  const auto st = siteState();
  EXPECT_EQ(st.role, state::Role::kActive);
  EXPECT_EQ(st.epoch, 1);
}

TEST_F(FailoverTest, RefusesWithoutConfirmationAndChangesNothing) {
  auto r = runZkstandby({"failover", "-c", config_});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--yes"), std::string::npos) << r.out;
  EXPECT_EQ(siteState().role, state::Role::kStandby);

  // --final-sync cannot run in a build without the sync engine: refused up front.
  auto fs = runZkstandby({"failover", "-c", config_, "--yes", "--final-sync"});
  if (fs.out.find("not available in this build") != std::string::npos) {
    EXPECT_EQ(fs.status, 2);
    EXPECT_EQ(siteState().role, state::Role::kStandby);
  }
}

TEST_F(FailoverTest, ASecondFailoverIsIdempotent) {
  ASSERT_EQ(runZkstandby({"failover", "-c", config_, "--yes"}).status, 0);
  auto again = runZkstandby({"failover", "-c", config_, "--yes"});
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("already ACTIVE"), std::string::npos) << again.out;
  EXPECT_EQ(siteState().epoch, 1);
  auto history = state::readHistory(*client_, kStatePath, 0);
  ASSERT_TRUE(history.has_value());
  EXPECT_EQ(history->size(), 1u);
}

TEST_F(FailoverTest, StatusShowsRoleEpochAndHistoryFromTheBackupAlone) {
  auto before = runZkstandby({"status", "-c", config_});
  EXPECT_EQ(before.status, 0) << before.out;
  EXPECT_NE(before.out.find("standby"), std::string::npos) << before.out;

  ASSERT_EQ(runZkstandby({"failover", "-c", config_, "--yes", "--reason", "drill 7"}).status, 0);
  auto text = runZkstandby({"status", "-c", config_});
  EXPECT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("role:                      active"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("epoch:                     1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("reason: drill 7"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("daemon not reachable"), std::string::npos) << text.out;

  auto js = runZkstandby({"status", "-c", config_, "--format", "json"});
  ASSERT_EQ(js.status, 0) << js.out;
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << js.out;
  EXPECT_EQ(j["role"], "active");
  EXPECT_EQ(j["epoch"], 1);
  EXPECT_EQ(j["history"].size(), 1u);
  EXPECT_EQ(j["history"][0]["reason"], "drill 7");

  auto bad = runZkstandby({"status", "-c", config_, "--format", "yaml"});
  EXPECT_EQ(bad.status, 2);
}

TEST_F(FailoverTest, ResumeReturnsTheSiteToStandbyWithANewEpoch) {
  ASSERT_EQ(runZkstandby({"failover", "-c", config_, "--yes"}).status, 0);
  // Resume works on the rebuilt primary too (its fence, its counters).
  ZkServer rebuilt;
  ASSERT_TRUE(rebuilt.start().has_value());
  writeConfig(rebuilt.connectString());
  auto refused = runZkstandby({"resume", "-c", config_});
  EXPECT_EQ(refused.status, 2) << refused.out;
  EXPECT_EQ(siteState().role, state::Role::kActive);

  auto r = runZkstandby({"resume", "-c", config_, "--yes", "--reason", "dc1 rebuilt"});
  EXPECT_EQ(r.status, 0) << r.out;
  const auto st = siteState();
  EXPECT_EQ(st.role, state::Role::kStandby);
  EXPECT_EQ(st.epoch, 2);
  auto history = state::readHistory(*client_, kStatePath, 0);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ(history->back().record.action, "resume");
  EXPECT_TRUE(state::acquireFence(*client_, kStatePath, "daemon:1").has_value());
}

TEST_F(FailoverTest, AnUnreachableBackupIsAOneLineErrorWithinTheConnectTimeout) {
  config_ = dir_ + "/nobackup.yaml";
  std::ofstream(config_) << "primary:\n  connect: \"127.0.0.1:" << closedPort() << "\"\n"
                         << "backup:\n  connect: \"127.0.0.1:" << closedPort() << "\"\n  connect_timeout_ms: 1500\n"
                         << "sync:\n  roots:\n    - source: /app\nmapping:\n  files: []\n";
  auto r = runZkstandby({"failover", "-c", config_, "--yes"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_LT(r.elapsed.count(), 1500 + 2000) << r.out;
  EXPECT_NE(r.out.find("not reachable"), std::string::npos) << r.out;
}

// The replicator's part, played by the test: copy sequential children of
// the primary by name and save the primary's counters on the backup. Then
// the primary dies and the promoted backup must hand out higher numbers.
TEST_F(FailoverTest, SequentialNodesCreatedAfterFailoverAreAboveEveryReplicatedOne) {
  ZkServer primary_server;
  ASSERT_TRUE(primary_server.start().has_value());
  auto primary = connectClient(testClientOptions(primary_server.connectString()));
  ASSERT_TRUE(primary.has_value());
  zk::Client& p = **primary;
  zk::Client& b = *client_;
  ASSERT_EQ(zk::createRecursiveSync(p, "/app/locks"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(p, "/app/queue"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(b, "/app/locks"), zk::Code::kOk);
  ASSERT_EQ(zk::createRecursiveSync(b, "/app/queue"), zk::Code::kOk);
  // Ephemeral sequentials (never replicated) and children that come and go
  // between two reads move the primary's counters well past what the
  // backup's replicated creates do.
  int64_t highest = -1;
  for (int i = 0; i < 60; ++i) {
    auto e = zk::createSync(p, zk::CreateOp{.path = "/app/locks/lock-", .mode = zk::CreateMode::kEphemeralSequential});
    ASSERT_EQ(e.code, zk::Code::kOk);
    ASSERT_EQ(zk::createSync(p, zk::CreateOp{.path = "/app/queue/transient"}).code, zk::Code::kOk);
    ASSERT_EQ(zk::removeSync(p, zk::DeleteOp{.path = "/app/queue/transient"}).code, zk::Code::kOk);
    if (i % 3 != 0) continue;
    auto q = zk::createSync(p, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
    ASSERT_EQ(q.code, zk::Code::kOk);
    ASSERT_EQ(zk::createSync(b, zk::CreateOp{.path = q.path}).code, zk::Code::kOk);  // replicated by name
    highest = std::max(highest, state::sequenceSuffix(q.path));
  }
  auto persistent_lock = zk::createSync(p, zk::CreateOp{.path = "/app/locks/lock-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(zk::createSync(b, zk::CreateOp{.path = persistent_lock.path}).code, zk::Code::kOk);
  const int64_t highest_lock = state::sequenceSuffix(persistent_lock.path);

  auto token = state::acquireFence(b, kStatePath, "replicator:1");
  ASSERT_TRUE(token.has_value());
  state::Counters counters;
  for (const char* parent : {"/app/locks", "/app/queue"}) {
    auto st = zk::existsSync(p, parent);
    counters[parent] = state::nextSequence(st.stat);
  }
  ASSERT_TRUE(state::saveCounters(b, kStatePath, counters, *token, 1).has_value());
  // One more replicated item after the last save. Its number equals the
  // saved counter, so raising to the saved value alone would hand it out
  // again: the child scan has to cover it.
  auto late = zk::createSync(p, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(zk::createSync(b, zk::CreateOp{.path = late.path}).code, zk::Code::kOk);
  highest = state::sequenceSuffix(late.path);

  (*primary)->close();
  primary_server.kill9();
  auto r = runZkstandby({"failover", "-c", config_, "--yes"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_LT(r.elapsed.count(), kConnectTimeoutMs) << r.out;
  EXPECT_NE(r.out.find("raised 2 of 2 parents"), std::string::npos) << r.out;

  auto lock = zk::createSync(b, zk::CreateOp{.path = "/app/locks/lock-", .mode = zk::CreateMode::kEphemeralSequential});
  ASSERT_EQ(lock.code, zk::Code::kOk);
  EXPECT_GT(state::sequenceSuffix(lock.path), highest_lock);
  EXPECT_GE(state::sequenceSuffix(lock.path), counters["/app/locks"]);
  auto item = zk::createSync(b, zk::CreateOp{.path = "/app/queue/item-", .mode = zk::CreateMode::kPersistentSequential});
  ASSERT_EQ(item.code, zk::Code::kOk);
  EXPECT_GT(state::sequenceSuffix(item.path), highest);
  // Nothing left behind by the raise.
  for (const auto& child : zk::getChildrenSync(b, "/app/queue").children) {
    EXPECT_NE(child, std::string(state::kRaiseChildName));
  }
}

// A replicator writing fenced batches as fast as it can while the operator
// fails over: not one of its writes lands after the failover's zxid.
TEST_F(FailoverTest, NoReplicatorWriteLandsAfterTheEpochBump) {
  zk::Client& b = *client_;
  ASSERT_EQ(zk::createRecursiveSync(b, "/app/load"), zk::Code::kOk);
  auto token = state::acquireFence(b, kStatePath, "replicator:1");
  ASSERT_TRUE(token.has_value());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  zk::Code last = zk::Code::kOk;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      auto r = zk::multiSync(b, {state::fenceCheckOp(*token),
                                 zk::CreateOp{.path = "/app/load/n" + std::to_string(i)}});
      last = r.code;
      if (r.code != zk::Code::kOk) return;
      ++written;
    }
  });
  ASSERT_TRUE(waitFor([&] { return written > 50; }, 10s));
  auto r = runZkstandby({"failover", "-c", config_, "--yes"});
  ASSERT_EQ(r.status, 0) << r.out;
  writer.join();  // stops on its own: its next batch is refused
  EXPECT_EQ(last, zk::Code::kBadVersion);
  auto why = state::explainFenceLoss(b, kStatePath);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, state::FenceLoss::kFailedOver);

  // The state node's mzxid is the failover's multi.
  const int64_t failover_zxid = zk::existsSync(b, std::string(kStatePath) + "/state").stat.mzxid;
  auto children = zk::getChildrenSync(b, "/app/load");
  ASSERT_EQ(children.code, zk::Code::kOk);
  EXPECT_EQ(children.children.size(), static_cast<size_t>(written.load()));
  for (const auto& c : children.children) {
    EXPECT_LT(zk::existsSync(b, "/app/load/" + c).stat.mzxid, failover_zxid) << c;
  }
  auto refused = state::acquireFence(b, kStatePath, "replicator:1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFenced);
}

TEST(ElectionOnRealServer, AFollowerTakesOverWhenTheLeadersSessionExpires) {
  ZkServer server;
  ASSERT_TRUE(server.start().has_value());
  struct Daemon {
    std::unique_ptr<zk::Client> client;
    std::unique_ptr<state::LeaderElection> election;
    std::atomic<int> elected{0}, lost{0};
  };
  auto make = [&](const std::string& id) {
    auto d = std::make_unique<Daemon>();
    auto c = connectClient(testClientOptions(server.connectString()));
    EXPECT_TRUE(c.has_value());
    d->client = std::move(*c);
    Daemon* raw = d.get();
    d->election = std::make_unique<state::LeaderElection>(
        *d->client, kStatePath, id,
        state::LeaderElection::Callbacks{.on_elected = [raw] { ++raw->elected; }, .on_lost = [raw] { ++raw->lost; }});
    d->client->setWatchListener([raw](const zk::WatchEvent& e) { raw->election->handleWatch(e); });
    d->client->setSessionListener([raw](const zk::SessionEvent& e) { raw->election->handleSession(e); });
    return d;
  };
  auto a = make("a:1");
  auto b = make("b:2");
  ASSERT_TRUE(state::ensureLayout(*a->client, kStatePath).has_value());
  a->election->start();
  ASSERT_TRUE(waitFor([&] { return a->election->isLeader(); }, 10s));
  b->election->start();
  ASSERT_TRUE(waitFor([&] { return !b->election->nodePath().empty(); }, 10s));
  EXPECT_FALSE(b->election->isLeader());

  ASSERT_TRUE(expireSession(*a->client).has_value());
  ASSERT_TRUE(waitFor([&] { return b->election->isLeader(); }, 15s));
  EXPECT_TRUE(waitFor([&] { return a->lost == 1; }, 5s));
  EXPECT_EQ(b->elected, 1);

  for (auto* d : {a.get(), b.get()}) {
    d->election->stop();
    d->client->close();
  }
  a->client.reset();
  b->client.reset();
}

}  // namespace
}  // namespace zks::testing
