#pragma once

// For the integration and fault tests of `zkstandby run`: the daemon as a
// child process, its HTTP endpoint, a seeded random storm of primary writes,
// and the oracle the backup is checked against — map(primary) of the
// generated ZMS tree, read back through kazoo (cli_harness.h dumpTree), never
// through zk-standby's own client.
//
// Threading: everything here is driven from the test's thread, except
// BackgroundStorm, which owns one writer thread of its own.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/zms_tree.h"
#include "cli_harness.h"
#include "support/tcp_proxy.h"
#include "support/zk_server.h"
#include "zk/client.h"

namespace zks::testing {

using Tree = std::map<std::string, DumpedNode>;

// A loopback port nobody listens on right now: bound to port 0, then released.
int freeLoopbackPort();

struct HttpAnswer {
  int status = 0;  // 0: no answer (refused, timed out)
  std::string body;
};
// GET http://127.0.0.1:<port><path>, bounded by `timeout` for connect and read.
HttpAnswer httpGet(int port, const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// The sum over every series of metric `name` in Prometheus text whose labels
// include `labels` (other labels are ignored, so the exact label set does not
// matter). Nothing when no series matches.
std::optional<double> metricValue(const std::string& text, const std::string& name,
                                  const std::map<std::string, std::string>& labels = {});

// How the daemon watches the primary and which backend it runs on. Every
// daemon test runs in each mode (test names end in /recursive, /per_node,
// /libzookeeper).
enum class DaemonMode : uint8_t {
  kRecursive,     // native client, one persistent recursive watch per root (the default)
  kPerNode,       // native client, `persistent_watches: false` on the primary: a watch per node
  kLibzookeeper,  // `client: libzookeeper` on both sites: a watch per node, SetWatches size budget
};
std::string daemonModeName(DaemonMode mode);
// The parameter name gtest prints: the mode's name.
std::string daemonModeParamName(const ::testing::TestParamInfo<DaemonMode>& info);
// The libzookeeper instances of the general suites (instantiation "Modes")
// run only with ZKS_TEST_ALL_MODES=1 (ctest -L all-modes lists them); tests
// about that backend instantiate it on their own and always run.
bool allModesRequested();

// What the tests vary in a daemon's config (SPEC section 2). The rest is
// fixed: root /zms, the ZMS excludes, mapping.yaml next to the config file.
struct DaemonConfig {
  DaemonMode mode = DaemonMode::kRecursive;
  std::string primary_connect;
  std::string backup_connect;
  int session_timeout_ms = 4000;
  int connect_timeout_ms = 5000;
  int audit_interval_s = 600;
  double max_delete_fraction = 1.0;  // the fault tests delete whole subtrees on purpose
  std::string state_path = "/zkstandby";
  int http_port = 0;  // 0: the harness picks a free one
  std::string log_level = "info";
  std::string acls;              // sync.acls; empty: the default (copy)
  int max_write_ops_per_s = 0;   // sync.max_write_ops_per_s; 0: unlimited
  std::string primary_auth_file;  // a digest credentials_file for the site; empty: no auth
  std::string backup_auth_file;
};
std::string daemonConfigYaml(const DaemonConfig& config);

// One `zkstandby run -c FILE` child process. Its stdout and stderr go to a
// log file (appended across restarts). It dies with the test's thread
// (PR_SET_PDEATHSIG); the destructor kills it (SIGKILL) if still running.
class DaemonProcess {
 public:
  DaemonProcess(std::string name, std::filesystem::path config_file, int http_port,
                std::filesystem::path log_file);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Arguments after `run -c FILE` (e.g. --reverse).
  void setExtraArgs(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // Starts the process (again, after it ended). False if fork/exec failed.
  // The binary is ZKSTANDBY_BIN, or $ZKS_TEST_ZKSTANDBY_BIN when set (to run
  // a test against another build, e.g. to see it fail before a fix).
  bool start();
  // Reaps the process if it ended.
  bool running();
  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  int httpPort() const { return http_port_; }
  const std::filesystem::path& configFile() const { return config_file_; }

  void signal(int sig) const;
  // SIGKILL and reap: a crash.
  void kill9();
  // Waits for the process to end and reaps it: its exit status, or -signal
  // when a signal ended it; nothing if it still runs at the deadline.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  // The exit status of the last run (as waitExit), once it ended.
  std::optional<int> lastExit() const { return last_exit_; }

  HttpAnswer get(const std::string& path) const { return httpGet(http_port_, path); }
  // Polls /readyz until it answers 200; false at the deadline (or if the
  // process ended).
  bool waitReady(std::chrono::milliseconds timeout);
  // metricValue() on a fresh GET /metrics.
  std::optional<double> metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  // zkstandby_leader: 1 when this daemon leads, 0 when it follows.
  std::optional<bool> isLeader() const;

  // The last `lines` lines of its log, for failure messages.
  std::string logTail(size_t lines = 80) const;

 private:
  std::string name_;
  std::filesystem::path config_file_;
  int http_port_;
  std::filesystem::path log_file_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  std::optional<int> last_exit_;
};

// The oracle (independent of the mapping engine): what the ZMS mapping makes
// of a primary path and payload. Primary "bj" cluster names and 10.10.*
// addresses become "sh" and 10.50.* in the mapped nodes' paths and payloads.
std::string expectedPath(std::string path);
std::string expectedData(const std::string& path, std::string data);
// True for a primary path the config excludes (/zms/topic/*/*,
// /zms/consumergroup/*/*, and below).
bool excludedPath(const std::string& path);
// map(primary): every persistent, not excluded primary node, renamed and
// remapped as the backup must hold it.
Tree expectedBackup(const Tree& primary);
// The differences between `want` and the backup's `have`, one line each;
// empty when converged. Data and ACLs are compared byte for byte. The
// backup's own ephemerals and excluded nodes are not differences, nor are
// the paths in `allowed_extra` (for example a parent kept by a standby-site
// ephemeral below it).
std::vector<std::string> treeDifferences(const Tree& want, const Tree& have,
                                         const std::set<std::string>& allowed_extra = {});
// The first `max` lines, joined, for failure messages.
std::string describe(const std::vector<std::string>& differences, size_t max = 20);

// Session ids ("sid=0x...") the server lists in its "cons" answer.
std::set<int64_t> serverSessions(const ZkServer& server);
// Paths watched on the server, from its "wchs" answer ("... watching N paths").
std::optional<long long> watchedPaths(const ZkServer& server);

// A seeded random storm of writes on the primary under `base` (its own
// subtree; one storm per subtree), plus payload edits, creates and deletes of
// ZMS topics and groups whose values the mapping must translate. Keeps a
// model of its subtree so every op is meaningful: creates under existing
// nodes, sets and deletes of existing ones, delete+re-create of one path back
// to back, deep chains, and sequential children. Ops that fail (a node gone
// meanwhile) are skipped. Not thread-safe: one thread drives one storm.
class Storm {
 public:
  Storm(zk::Client& client, uint64_t seed, std::string base, const bench::ZmsShape& shape,
        size_t max_nodes = 1500);
  // Creates `base` (and parents) if missing.
  void prepare();
  // One random op.
  void step();
  void run(size_t ops) {
    for (size_t i = 0; i < ops; ++i) step();
  }
  size_t ops() const { return ops_; }

 private:
  std::string pick();
  std::string pickLeaf();
  bool isLeaf(const std::string& path) const;
  void forget(const std::string& path);
  bool create(const std::string& path, zk::CreateMode mode = zk::CreateMode::kPersistent,
              std::string* created = nullptr);
  bool removeSubtree(const std::string& path);
  std::string randomData();
  std::string mappedPayload(bool group);

  zk::Client& client_;
  std::mt19937_64 rng_;
  std::string base_;
  std::vector<std::string> clusters_;
  std::vector<std::string> hosts_;
  int topics_ = 0;
  int groups_ = 0;
  size_t max_nodes_;
  std::set<std::string> nodes_;  // the storm's own nodes under base_ (base_ included)
  std::vector<std::string> own_topics_;  // /zms/topic/* and /zms/consumergroup/* it created
  uint64_t counter_ = 0;
  size_t ops_ = 0;
};

// A Storm on its own thread with its own primary session, paced to
// `ops_per_s`, until stop().
class BackgroundStorm {
 public:
  BackgroundStorm(const std::string& primary_connect, uint64_t seed, std::string base, const bench::ZmsShape& shape,
                  int ops_per_s = 400);
  ~BackgroundStorm();  // stop()
  void stop();
  size_t ops() const { return ops_.load(); }
  // Waits until `n` more ops are done than when called.
  bool waitMoreOps(size_t n, std::chrono::milliseconds timeout) const;

 private:
  std::unique_ptr<zk::Client> client_;
  std::unique_ptr<Storm> storm_;
  int ops_per_s_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> ops_{0};
  std::thread thread_;
};

// A pair of real ZooKeeper servers (primary, backup), a primary session for
// the test's own writes, a temp directory with mapping.yaml, and daemons.
// Each test gets fresh servers. On failure, TearDown prints every daemon's
// log tail.
class DaemonTest : public ::testing::TestWithParam<DaemonMode> {
 protected:
  DaemonMode mode() const { return GetParam(); }
  bool recursive() const { return mode() == DaemonMode::kRecursive; }
  void SetUp() override;
  void TearDown() override;

  // A config pointing at the servers directly, in this test's mode
  // (override the connect strings to go through a proxy).
  DaemonConfig baseConfig() const;
  // Writes `<name>.yaml` and creates (does not start) a daemon for it.
  DaemonProcess& addDaemon(const std::string& name, DaemonConfig config);
  // addDaemon + start + waitReady; fails the test when not ready in time.
  DaemonProcess& startReadyDaemon(const std::string& name, DaemonConfig config,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The generated ZMS tree on the primary.
  void seedZms();
  // kazoo reads.
  Tree dumpPrimary(const std::string& root = "/zms") const;
  Tree dumpBackup(const std::string& root = "/zms") const;
  // Polls the backup (through kazoo) until it equals map(`primary`) or the
  // deadline passes; returns the remaining differences (empty: converged).
  std::vector<std::string> waitBackupMatches(const Tree& primary, std::chrono::milliseconds timeout,
                                             const std::set<std::string>& allowed_extra = {}) const;
  // Dumps the primary now (it must be quiet) and waits for the backup to match it.
  void expectConverges(std::chrono::milliseconds timeout, const std::set<std::string>& allowed_extra = {});
  // The stat mzxid of state_path/fence on the backup (kazoo); 0 if absent.
  long long fenceMzxid(const std::string& state_path = "/zkstandby") const;
  // The site state record (state_path/state on the backup) as JSON text,
  // read through kazoo; empty if absent.
  std::string stateRecord(const std::string& state_path = "/zkstandby") const;

  std::unique_ptr<zk::Client> connect(const std::string& connect_string) const;

  bench::ZmsShape shape_;
  std::unique_ptr<ZkServer> primary_;
  std::unique_ptr<ZkServer> backup_;
  std::unique_ptr<zk::Client> p_;  // the test's own primary session
  std::unique_ptr<TempDir> tmp_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

// Instantiates a DaemonTest suite in every mode.
#define ZKS_DAEMON_TEST_MODES(Suite)                                                                          \
  INSTANTIATE_TEST_SUITE_P(Modes, Suite,                                                                      \
                           ::testing::Values(::zks::testing::DaemonMode::kRecursive,                          \
                                             ::zks::testing::DaemonMode::kPerNode,                            \
                                             ::zks::testing::DaemonMode::kLibzookeeper),                      \
                           ::zks::testing::daemonModeParamName)

}  // namespace zks::testing
