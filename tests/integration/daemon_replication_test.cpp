// `zkstandby run` against two real ZooKeeper servers, without faults: a
// random storm converges, the audit reverts drift written on the backup, the
// standby site's own ephemerals survive every reconcile, signals stop the
// daemon cleanly. The backup is always checked through kazoo against
// map(primary).

#include <signal.h>

#include "daemon_harness.h"
#include "support/wait.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

size_t countUnder(const Tree& tree, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [path, node] : tree) n += path.starts_with(prefix) ? 1 : 0;
  return n;
}

TEST_P(DaemonTest, ARandomStormConverges) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  ASSERT_TRUE(d.running());
  expectConverges(30s);

  // Two paced storms in parallel and one unpaced burst, each seeded: creates,
  // sets, deletes of leaves and subtrees, delete+re-create, deep chains,
  // sequential children, payloads the mapping translates.
  {
    BackgroundStorm a(primary_->connectString(), 11, "/zms/storm/a", shape_, 800);
    BackgroundStorm b(primary_->connectString(), 12, "/zms/storm/b", shape_, 800);
    Storm burst(*p_, 13, "/zms/storm/c", shape_);
    burst.prepare();
    burst.run(1500);
    ASSERT_TRUE(a.waitMoreOps(1200, 20s));
    ASSERT_TRUE(b.waitMoreOps(1200, 20s));
  }
  const auto primary = dumpPrimary();
  // The storm made what it is meant to make (otherwise this test proves little).
  EXPECT_GT(countUnder(primary, "/zms/storm/"), 300u);
  EXPECT_GT(countUnder(primary, "/zms/storm/c/queue/item-"), 5u);
  size_t deep = 0;
  for (const auto& [path, node] : primary) deep = std::max<size_t>(deep, std::count(path.begin(), path.end(), '/'));
  EXPECT_GE(deep, 8u);
  EXPECT_GT(countUnder(primary, "/zms/topic/storm_"), 0u);

  const auto diffs = waitBackupMatches(primary, 30s);
  EXPECT_TRUE(diffs.empty()) << describe(diffs);
  EXPECT_TRUE(d.running());
}

// The storm's hardest pattern on its own, many times over: a node changed,
// deleted and re-created back to back (a new czxid between two reads), then
// given a child.
TEST_P(DaemonTest, ANodeSetDeletedAndRecreatedBackToBackIsReplicated) {
  seedZms();
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/re"}).code, zk::Code::kOk);
  constexpr int kNodes = 30;
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/re/n" + std::to_string(i), .data = "1"}).code, zk::Code::kOk);
  }
  startReadyDaemon("d1", baseConfig());
  expectConverges(30s);
  for (int i = 0; i < kNodes; ++i) {
    const std::string path = "/zms/re/n" + std::to_string(i);
    ASSERT_EQ(zk::setSync(*p_, {.path = path, .data = "2"}).code, zk::Code::kOk);
    ASSERT_EQ(zk::removeSync(*p_, {.path = path}).code, zk::Code::kOk);
    ASSERT_EQ(zk::createSync(*p_, {.path = path, .data = "3"}).code, zk::Code::kOk);
    if (i % 2) {
      ASSERT_EQ(zk::createSync(*p_, {.path = path + "/child", .data = "c"}).code, zk::Code::kOk);
    }
  }
  expectConverges(20s);
}

TEST_P(DaemonTest, TheAuditRevertsDriftWrittenOnTheBackup) {
  seedZms();
  Storm s(*p_, 21, "/zms/storm/a", shape_);
  s.prepare();
  s.run(300);
  auto config = baseConfig();
  config.audit_interval_s = 2;
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);
  const auto before = d.metric("zkstandby_drift_corrections_total");

  // Someone writes on the standby site's ZooKeeper directly.
  auto b = connect(backup_->connectString());
  ASSERT_TRUE(b);
  const auto backup_tree = dumpBackup();
  std::string leaf;
  for (const auto& [path, node] : backup_tree) {
    if (path.starts_with("/zms/storm/a/") && node.num_children == 0) leaf = path;
  }
  ASSERT_FALSE(leaf.empty());
  EXPECT_EQ(zk::setSync(*b, {.path = "/zms/topic/topic_0000003", .data = "clusterName=kafka_bj_01\n"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::setSync(*b, {.path = "/zms/cluster/kafka_sh_01", .data = "tampered"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::setSync(*b, {.path = "/zms/storm/a", .data = "tampered"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::removeSync(*b, {.path = leaf}).code, zk::Code::kOk);
  EXPECT_EQ(zk::createSync(*b, {.path = "/zms/drift", .data = "x"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::createSync(*b, {.path = "/zms/drift/child", .data = "y"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::createSync(*b, {.path = "/zms/storm/a/drift", .data = "z"}).code, zk::Code::kOk);
  // No check that the drift is visible here: on a loaded machine the 2 s
  // audit may already have reverted it. The corrections counter below says
  // who did.

  // Within a few audit intervals (2 s) the backup is map(primary) again.
  expectConverges(15s);
  const auto after = d.metric("zkstandby_drift_corrections_total");
  ASSERT_TRUE(after.has_value()) << "no zkstandby_drift_corrections_total in /metrics:\n" << d.get("/metrics").body;
  EXPECT_GT(*after, before.value_or(0)) << "the audit's corrections are not counted";
}

TEST_P(DaemonTest, TheStandbySitesOwnEphemeralsAreNeverRemoved) {
  seedZms();
  for (const auto& [path, data] : std::vector<std::pair<std::string, std::string>>{
           {"/zms/apps", ""}, {"/zms/apps/svc1", "v1"}, {"/zms/apps/svc2", "v2"}, {"/zms/apps/svc2/config", "c"}}) {
    ASSERT_EQ(zk::createSync(*p_, {.path = path, .data = data}).code, zk::Code::kOk) << path;
  }
  auto config = baseConfig();
  config.audit_interval_s = 2;
  auto& d = startReadyDaemon("d1", config);
  expectConverges(30s);

  // Applications of the standby site register on their own ZooKeeper, below
  // replicated nodes (and below an excluded one).
  auto app = connect(backup_->connectString());
  ASSERT_TRUE(app);
  std::vector<std::string> ephemerals = {"/zms/apps/svc1/instance-1", "/zms/apps/svc2/instance-1",
                                         "/zms/cluster/kafka_sh_01/broker-1",
                                         "/zms/topic/topic_0000001/10.50.5.7||DEFAULT_CONSUMER||1.0.0||x||1"};
  for (const auto& path : ephemerals) {
    ASSERT_EQ(zk::createSync(*app, {.path = path, .data = "me", .mode = zk::CreateMode::kEphemeral}).code, zk::Code::kOk)
        << path;
  }
  auto seq = zk::createSync(*app, {.path = "/zms/apps/svc1/member-", .mode = zk::CreateMode::kEphemeralSequential});
  ASSERT_EQ(seq.code, zk::Code::kOk);
  ephemerals.push_back(seq.path);
  std::map<std::string, long long> czxid;
  {
    const auto b = dumpBackup();
    for (const auto& path : ephemerals) czxid[path] = b.at(path).czxid;
  }
  const auto audits_before = d.metric("zkstandby_reconciles_total", {{"reason", "audit"}}).value_or(0);

  // The primary changes around them; svc2 goes away there, but its twin on
  // the backup holds an ephemeral, so that delete is blocked, not forced.
  auto cluster = zk::getSync(*p_, "/zms/cluster/kafka_bj_01");
  ASSERT_EQ(cluster.code, zk::Code::kOk);
  EXPECT_EQ(zk::setSync(*p_, {.path = "/zms/cluster/kafka_bj_01", .data = cluster.data + "owner=ops\n"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::setSync(*p_, {.path = "/zms/apps/svc1", .data = "v1b"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::createSync(*p_, {.path = "/zms/apps/svc1/sibling", .data = "s"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::createSync(*p_, {.path = "/zms/apps/svc1/gone", .data = "g"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::removeSync(*p_, {.path = "/zms/apps/svc1/gone"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::removeSync(*p_, {.path = "/zms/apps/svc2/config"}).code, zk::Code::kOk);
  EXPECT_EQ(zk::removeSync(*p_, {.path = "/zms/apps/svc2"}).code, zk::Code::kOk);

  // Audits run (at least two), and a restart brings a startup reconcile.
  EXPECT_TRUE(waitFor(
      [&] { return d.metric("zkstandby_reconciles_total", {{"reason", "audit"}}).value_or(0) >= audits_before + 2; },
      20s, 200ms))
      << "no audit reconciles counted; /metrics:\n" << d.get("/metrics").body;
  d.signal(SIGTERM);
  EXPECT_EQ(d.waitExit(5s), std::optional<int>(0));
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(d.waitReady(30s));
  expectConverges(20s, {"/zms/apps/svc2"});
  {
    const auto b = dumpBackup();
    for (const auto& path : ephemerals) {
      auto it = b.find(path);
      ASSERT_NE(it, b.end()) << "the standby's own ephemeral was removed: " << path;
      EXPECT_EQ(it->second.czxid, czxid[path]) << "re-created: " << path;
      EXPECT_EQ(it->second.ephemeral_owner, app->sessionId()) << path;
    }
  }

  // The application leaves: the blocked delete is retried and goes through.
  app->close();
  expectConverges(20s);
}

TEST_P(DaemonTest, SigtermAndSigintStopWithinFiveSecondsAndARestartConverges) {
  seedZms();
  auto& d = startReadyDaemon("d1", baseConfig());
  for (int sig : {SIGTERM, SIGINT}) {
    BackgroundStorm load(primary_->connectString(), 31 + static_cast<uint64_t>(sig), "/zms/storm/s" + std::to_string(sig),
                         shape_, 1000);
    ASSERT_TRUE(load.waitMoreOps(500, 10s));
    const auto start = Clock::now();
    d.signal(sig);
    const auto code = d.waitExit(6s);
    ASSERT_TRUE(code.has_value()) << "still running 6 s after signal " << sig;
    EXPECT_EQ(*code, 0) << "signal " << sig;
    EXPECT_LT(Clock::now() - start, 5s) << "signal " << sig;
    ASSERT_TRUE(load.waitMoreOps(300, 10s));
    load.stop();
    ASSERT_TRUE(d.start());
    ASSERT_TRUE(d.waitReady(30s)) << d.get("/readyz").body;
  }
  expectConverges(30s);
}

TEST_P(DaemonTest, ABadConfigExitsTwo) {
  auto config = daemonConfigYaml(baseConfig());
  config += "surprise: 1\n";
  const auto file = tmp_->write("bad.yaml", config);
  auto r = zkstandby({"run", "-c", file.string()}, 20s);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("surprise"), std::string::npos) << r.err;
  EXPECT_TRUE(dumpBackup().empty()) << "wrote to the backup despite a bad config";
}

ZKS_DAEMON_TEST_MODES(DaemonTest);

}  // namespace
}  // namespace zks::testing
