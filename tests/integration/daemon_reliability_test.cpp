// `zkstandby run` on failover day (issue 12), against real servers: the
// sequence counters a failover needs right after a first pass, reverse mode
// bound to the backup's role, no ACL write after the fence moved, an
// election that heals, /readyz and the state record telling the truth, a
// node the backup refuses for good, and a SIGHUP that cannot change auth.
// The backup is read through kazoo (or the test's own session).

#include <signal.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"
#include "support/wait.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;

bool waitLeader(const DaemonProcess& d, bool leader, std::chrono::milliseconds timeout) {
  return waitFor([&] { return d.isLeader() == std::optional<bool>(leader); }, timeout, 100ms);
}

bool logHas(const DaemonProcess& d, const std::string& text) { return d.logTail(100000).find(text) != std::string::npos; }

// The ten-digit suffix ZooKeeper gave a sequential node.
long long suffixOf(const std::string& path) { return path.size() < 10 ? -1 : std::stoll(path.substr(path.size() - 10)); }

nlohmann::json parsed(const std::string& text) { return nlohmann::json::parse(text, nullptr, false); }

void removeRecursive(zk::Client& c, const std::string& path) {
  for (const auto& child : zk::getChildrenSync(c, path).children) removeRecursive(c, path + "/" + child);
  zk::removeSync(c, zk::DeleteOp{.path = path});
}

// Waits until exactly one of the pair leads and both are in the election
// and ready. While candidates re-enter an election, two may briefly both
// believe they lead; the one whose fence was taken exits 1 (deposed), and
// its supervisor (systemd: Restart=on-failure) starts it again. So does
// this wait.
bool waitOneLeaderBothReady(DaemonProcess& a, DaemonProcess& b, std::chrono::milliseconds timeout) {
  auto supervise = [](DaemonProcess& d) {
    if (!d.running() && d.lastExit() == std::optional<int>(1)) d.start();
  };
  return waitFor(
      [&] {
        supervise(a);
        supervise(b);
        const auto la = a.isLeader(), lb = b.isLeader();
        return la && lb && *la != *lb && a.metric("zkstandby_election_ok") == std::optional<double>(1) &&
               b.metric("zkstandby_election_ok") == std::optional<double>(1) && a.get("/readyz").status == 200 &&
               b.get("/readyz").status == 200;
      },
      timeout, 200ms);
}

// Issue 12 item 1: a failover right after the daemon's first full pass used
// to find no saved counters (they were saved every 30 s): a sequential
// create on the promoted site then reused a name the primary had handed out
// (NodeExists, or a lower suffix).
TEST_P(DaemonTest, AFailoverRightAfterTheFirstPassFindsTheSequenceCounters) {
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/q"), zk::Code::kOk);
  for (const std::string queue : {"/zms/q/kept-tail", "/zms/q/lost-tail"}) {
    ASSERT_EQ(zk::createSync(*p_, {.path = queue}).code, zk::Code::kOk);
    for (int i = 0; i < 10; ++i) {
      ASSERT_EQ(zk::createSync(*p_, {.path = queue + "/item-", .mode = zk::CreateMode::kPersistentSequential}).code,
                zk::Code::kOk);
    }
    for (int i = 0; i < 5; ++i) zk::removeSync(*p_, {.path = queue + "/item-000000000" + std::to_string(i)});
  }
  // The newest one is gone too: only the counter remembers it.
  ASSERT_EQ(zk::removeSync(*p_, {.path = "/zms/q/lost-tail/item-0000000009"}).code, zk::Code::kOk);

  auto& d = startReadyDaemon("d1", baseConfig());  // ready: the first full pass is done
  auto failover = zkstandby({"failover", "-c", d.configFile().string(), "--yes", "--reason", "right away"}, 60s);
  ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
  EXPECT_EQ(d.waitExit(20s), std::optional<int>(3));

  auto b = connect(backup_->connectString());
  ASSERT_TRUE(b);
  for (const std::string queue : {"/zms/q/kept-tail", "/zms/q/lost-tail"}) {
    auto created = zk::createSync(*b, {.path = queue + "/item-", .mode = zk::CreateMode::kPersistentSequential});
    ASSERT_EQ(created.code, zk::Code::kOk) << queue << ": a sequential create on the promoted site collided\n"
                                           << failover.out;
    EXPECT_GE(suffixOf(created.path), 10) << created.path << " reuses a name the primary handed out\n"
                                                       << failover.out;
  }
  EXPECT_GT(d.metric("zkstandby_counters_saved_timestamp_seconds").value_or(1), 0);
}

// Issue 12 item 2: `run --reverse` writes to the rebuilt primary only while
// the backup is the active site; it exits 4 (no restart) otherwise, and when
// `resume` returns the roles.
TEST_P(DaemonTest, ReverseModeRunsOnlyWhileTheBackupIsActive) {
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/app", "v1"), zk::Code::kOk);
  auto& forward = startReadyDaemon("forward", baseConfig());
  expectConverges(30s);

  auto& early = addDaemon("early-reverse", baseConfig());
  early.setExtraArgs({"--reverse"});
  ASSERT_TRUE(early.start());
  EXPECT_EQ(early.waitExit(30s), std::optional<int>(4)) << early.logTail();
  EXPECT_TRUE(logHas(early, "role is standby")) << early.logTail();
  EXPECT_EQ(zk::getSync(*p_, "/zms/app").data, "v1");

  auto failover = zkstandby({"failover", "-c", forward.configFile().string(), "--yes", "--reason", "test"}, 60s);
  ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
  EXPECT_EQ(forward.waitExit(20s), std::optional<int>(3));

  auto& reverse = addDaemon("reverse", baseConfig());
  reverse.setExtraArgs({"--reverse"});
  ASSERT_TRUE(reverse.start());
  ASSERT_TRUE(reverse.waitReady(30s)) << reverse.get("/readyz").body << reverse.logTail();
  auto b = connect(backup_->connectString());
  ASSERT_TRUE(b);
  ASSERT_EQ(zk::setSync(*b, {.path = "/zms/app", .data = "written on the active site"}).code, zk::Code::kOk);
  EXPECT_TRUE(waitFor([&] { return zk::getSync(*p_, "/zms/app").data == "written on the active site"; }, 20s, 50ms));

  auto resume = zkstandby({"resume", "-c", forward.configFile().string(), "--yes", "--reason", "failback done"}, 60s);
  ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
  EXPECT_EQ(reverse.waitExit(20s), std::optional<int>(4)) << "a reverse daemon outlived `resume`\n" << reverse.logTail();
  EXPECT_TRUE(logHas(reverse, "returned to standby") || logHas(reverse, "role is standby")) << reverse.logTail();
}

// Issue 12 item 3: setACL is not a multi op, so it carried no fence check
// and could land seconds after a failover. Now a setACL goes out only after
// a fence check passed on the same session: once the failover returned, no
// ACL on the backup changes any more.
TEST_P(DaemonTest, NoAclWriteReachesTheBackupAfterAFailover) {
  constexpr int kNodes = 600;
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/acl"), zk::Code::kOk);
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/acl/n" + std::to_string(i)}).code, zk::Code::kOk);
  }
  auto config = baseConfig();
  config.max_write_ops_per_s = 150;  // the ACL storm below lasts seconds
  auto& d = startReadyDaemon("d1", config, 60s);
  expectConverges(60s);

  // ACL-only changes fire no watch: a reload's full reconcile finds them
  // and sets 600 ACLs on the backup, paced.
  for (int i = 0; i < kNodes; ++i) {
    zk::AclList acl{{zk::perm::kAll, "world", "anyone"},
                    {zk::perm::kRead, "digest", ZkServer::digestId("u" + std::to_string(i) + ":pw")}};
    ASSERT_EQ(zk::setAclSync(*p_, "/zms/acl/n" + std::to_string(i), acl).code, zk::Code::kOk);
  }
  d.signal(SIGHUP);
  ASSERT_TRUE(waitFor([&] { return d.metric("zkstandby_ops_applied_total", {{"kind", "set_acl"}}).value_or(0) >= 50; },
                      30s, 20ms))
      << d.logTail();
  auto failover = zkstandby({"failover", "-c", d.configFile().string(), "--yes", "--reason", "mid storm"}, 60s);
  ASSERT_EQ(failover.exit_code, 0) << failover.out << failover.err;
  const auto after_failover = dumpBackup("/zms/acl");
  EXPECT_EQ(d.waitExit(20s), std::optional<int>(3));
  const auto settled = dumpBackup("/zms/acl");

  size_t set = 0, late = 0;
  for (const auto& [path, node] : settled) {
    set += node.aversion > 0;
    const auto& before = after_failover.at(path);
    if (node.aversion != before.aversion || node.acl != before.acl) {
      ++late;
      ADD_FAILURE() << path << ": ACL written after the failover (aversion " << before.aversion << " -> "
                    << node.aversion << ")";
      if (late > 5) break;
    }
  }
  EXPECT_GT(set, 0u);
  EXPECT_LT(set, static_cast<size_t>(kNodes)) << "the storm was over before the failover: this proves nothing";
}

// Issue 12 item 4: an election error (here: state_path/leader deleted) used
// to leave both candidates out of the election for good while /readyz said
// 200. They back off, rejoin, and a follower still takes over.
TEST_P(DaemonTest, TheElectionHealsAfterItsNodeIsDeletedAndAFollowerStillTakesOver) {
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/app", "v1"), zk::Code::kOk);
  auto& a = startReadyDaemon("a", baseConfig());
  ASSERT_TRUE(waitLeader(a, true, 10s));
  auto& b = startReadyDaemon("b", baseConfig());
  ASSERT_TRUE(waitLeader(b, false, 10s));

  auto backup = connect(backup_->connectString());
  ASSERT_TRUE(backup);
  // Candidates re-enter when their node goes; keep deleting until the
  // directory itself is gone.
  ASSERT_TRUE(waitFor(
      [&] {
        removeRecursive(*backup, "/zkstandby/leader");
        return zk::existsSync(*backup, "/zkstandby/leader").code == zk::Code::kNoNode;
      },
      20s, 10ms));
  EXPECT_TRUE(waitFor([&] { return logHas(a, "joining again") || logHas(b, "joining again"); }, 30s, 100ms))
      << "no daemon saw the election break";
  ASSERT_TRUE(waitOneLeaderBothReady(a, b, 60s))
      << "a: leader=" << a.isLeader().value_or(false) << " " << a.get("/readyz").body
      << "\nb: leader=" << b.isLeader().value_or(false) << " " << b.get("/readyz").body;

  auto& leader = *a.isLeader() ? a : b;
  auto& follower = *a.isLeader() ? b : a;
  leader.kill9();
  ASSERT_TRUE(waitLeader(follower, true, 30s)) << "the follower never took over: " << follower.get("/readyz").body;
  ASSERT_EQ(zk::setSync(*p_, {.path = "/zms/app", .data = "v2"}).code, zk::Code::kOk);
  expectConverges(30s);
}

// Issue 12 items 4 and 5: a tripped delete guard makes /readyz 503 and
// says so in the metrics and the state record.
TEST_P(DaemonTest, ATrippedDeleteGuardIsNotReady) {
  seedZms();
  auto& first = startReadyDaemon("first", baseConfig());
  expectConverges(30s);
  first.signal(SIGTERM);
  ASSERT_EQ(first.waitExit(20s), std::optional<int>(0));
  for (const auto& parent : {"/zms/topic", "/zms/consumergroup"}) removeRecursive(*p_, parent);

  auto config = baseConfig();
  config.max_delete_fraction = 0.25;
  auto& d = addDaemon("guarded", config);
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(waitFor([&] { return d.metric("zkstandby_delete_guard_tripped") == std::optional<double>(1); }, 60s,
                      100ms))
      << d.logTail();
  const auto ready = d.get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("delete guard"), std::string::npos) << ready.body;
  EXPECT_EQ(d.metric("zkstandby_last_full_reconcile_converged"), std::optional<double>(0));
  EXPECT_TRUE(waitFor([&] { return parsed(stateRecord()).value("last_full_reconcile_result", "") == "not_converged"; },
                      20s, 200ms))
      << stateRecord();
}

// Issue 12 items 5, 8, 15, 16: a backup node the replicator may not write
// and a primary payload that does not map are reported — the daemon is
// ready, "converged except 2 reported nodes" — and the refused node is
// parked: it does not start full reconcile after full reconcile.
TEST_P(DaemonTest, ANodeTheBackupRefusesIsReportedAndParkedNotRetriedForever) {
  seedZms();
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/locked", .data = "primary"}).code, zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/topic/orphan_topic", .data = "clusterName=kafka_xx_99\ntype=topic\n"})
                .code,
            zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/ticker", .data = "0"}).code, zk::Code::kOk);
  auto b = connect(backup_->connectString());
  ASSERT_TRUE(b);
  ASSERT_EQ(zk::createRecursiveSync(*b, "/zms"), zk::Code::kOk);
  ASSERT_EQ(zk::createSync(*b, {.path = "/zms/locked", .data = "standby", .acl = {{zk::perm::kRead, "world", "anyone"}}})
                .code,
            zk::Code::kOk);

  auto& d = startReadyDaemon("d1", baseConfig(), 60s);
  ASSERT_TRUE(waitFor([&] { return d.metric("zkstandby_reported_nodes") == std::optional<double>(2); }, 30s, 100ms))
      << d.get("/metrics").body;
  const auto ready = d.get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("2 reported nodes"), std::string::npos) << ready.body;
  EXPECT_EQ(d.metric("zkstandby_parked_nodes"), std::optional<double>(1));
  EXPECT_EQ(d.metric("zkstandby_last_full_reconcile_converged"), std::optional<double>(1));
  EXPECT_EQ(d.metric("zkstandby_mapping_failures_total").value_or(0), 1);
  EXPECT_GT(d.metric("zkstandby_last_full_reconcile_timestamp_seconds").value_or(0), 0);

  // The state record: the result, the reported nodes, and who wrote it.
  ASSERT_TRUE(waitFor([&] { return !parsed(stateRecord()).value("leader", "").empty(); }, 20s, 200ms))
      << stateRecord();
  const auto record = parsed(stateRecord());
  EXPECT_EQ(record.value("last_full_reconcile_result", ""), "converged_except_reported") << record.dump();
  EXPECT_EQ(record.value("reported_nodes", 0), 2) << record.dump();
  EXPECT_GT(record.value("last_full_sync_ms", 0LL), 0) << record.dump();
  EXPECT_GT(record.value("updated_ms", 0LL), 0) << record.dump();

  // A window measured in replicated events, not in time: 150 primary
  // changes, each waited for on the backup. Parked, the refused node starts
  // no full reconcile in the meantime (it used to start one every 0.5 s).
  const double reconciles = d.metric("zkstandby_reconciles_total").value_or(-1);
  for (int i = 1; i <= 150; ++i) {
    const std::string v = std::to_string(i);
    ASSERT_EQ(zk::setSync(*p_, {.path = "/zms/ticker", .data = v}).code, zk::Code::kOk);
    ASSERT_TRUE(waitFor([&] { return zk::getSync(*b, "/zms/ticker").data == v; }, 10s, 1ms)) << "event " << i;
  }
  EXPECT_EQ(d.metric("zkstandby_reconciles_total").value_or(-1), reconciles)
      << "full reconciles ran while the refused node was parked";
  EXPECT_EQ(zk::getSync(*b, "/zms/locked").data, "standby");
  EXPECT_TRUE(d.running());
}

// Issue 12 item 4: an election the daemons may not rejoin (NoAuth: someone
// narrowed the election directory's ACL) is visible (/readyz 503, metric),
// retried with backoff, and heals once the ACL is put back.
TEST_P(DaemonTest, AnElectionTheDaemonsMayNotRejoinIsReportedAndHealsWhenTheAclIsBack) {
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/app", "v1"), zk::Code::kOk);
  auto& a = startReadyDaemon("a", baseConfig());
  ASSERT_TRUE(waitLeader(a, true, 10s));
  auto& b = startReadyDaemon("b", baseConfig());
  ASSERT_TRUE(waitLeader(b, false, 10s));

  auto backup = connect(backup_->connectString());
  ASSERT_TRUE(backup);
  const std::string election = "/zkstandby/leader";
  const zk::AclList read_delete{{zk::perm::kRead | zk::perm::kDelete | zk::perm::kAdmin, "world", "anyone"}};
  ASSERT_EQ(zk::setAclSync(*backup, election, read_delete).code, zk::Code::kOk);
  // Every candidate loses its node and may not create another.
  for (const auto& child : zk::getChildrenSync(*backup, election).children) {
    ASSERT_EQ(zk::removeSync(*backup, {.path = election + "/" + child}).code, zk::Code::kOk);
  }
  for (auto* d : {&a, &b}) {
    EXPECT_TRUE(waitFor(
        [&] {
          const auto ready = d->get("/readyz");
          return d->metric("zkstandby_election_ok") == std::optional<double>(0) && ready.status == 503 &&
                 ready.body.find("leader election failing") != std::string::npos &&
                 ready.body.find("not authorized") != std::string::npos;
        },
        30s, 100ms))
        << d->name() << ": " << d->get("/readyz").body;
  }
  EXPECT_TRUE(logHas(a, "joining again") || logHas(b, "joining again"));

  ASSERT_EQ(zk::setAclSync(*backup, election, zk::openAcl()).code, zk::Code::kOk);
  ASSERT_TRUE(waitOneLeaderBothReady(a, b, 60s))
      << "a: " << a.get("/readyz").body << "\nb: " << b.get("/readyz").body;
  ASSERT_EQ(zk::setSync(*p_, {.path = "/zms/app", .data = "v2"}).code, zk::Code::kOk);
  expectConverges(30s);
}

// Issue 12 item 12: a SIGHUP cannot swap the credentials (or any other
// connection setting) of open sessions; the daemon names every such key,
// says that a restart is needed, and goes on.
TEST_P(DaemonTest, ASighupThatChangesAuthSaysARestartIsNeeded) {
  ASSERT_EQ(zk::createRecursiveSync(*p_, "/zms/app", "v1"), zk::Code::kOk);
  auto config = baseConfig();
  auto& d = startReadyDaemon("d1", config);
  const auto credentials = tmp_->write("backup.digest", "zks:replicator-secret\n");
  ::chmod(credentials.c_str(), 0600);
  config.http_port = d.httpPort();
  config.backup_auth_file = credentials.string();
  config.connect_timeout_ms += 1000;  // both sites
  tmp_->write("d1.yaml", daemonConfigYaml(config));
  d.signal(SIGHUP);
  EXPECT_TRUE(waitFor(
      [&] {
        return logHas(d, "primary.connect_timeout_ms, backup.connect_timeout_ms, backup.auth changed: a restart is needed");
      },
      20s, 100ms))
      << d.logTail();
  ASSERT_EQ(zk::setSync(*p_, {.path = "/zms/app", .data = "v2"}).code, zk::Code::kOk);
  expectConverges(30s);
  EXPECT_TRUE(d.running());
}

ZKS_DAEMON_TEST_MODES(DaemonTest);

}  // namespace
}  // namespace zks::testing
