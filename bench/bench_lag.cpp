// zks-bench-lag: `zkstandby run` on ZMS-shaped trees (issue 11), recursive
// and per-node watch modes side by side. Prints Markdown tables on stdout;
// progress goes to stderr.
//
// One run, on one machine: both ZooKeeper servers, the daemon, and this
// load generator share its cores, so every figure includes that contention.
//
// For each tree size (--nodes, and with --big --big-nodes), on one pair of
// servers with a flat ZMS tree (half the nodes are topics under /zms/topic,
// so 500,000 siblings at 1,000,000 nodes):
//  1. the primary's live heap without a daemon (jcmd GC.run, GC.heap_info);
//  2. for each --modes: `zkstandby run` (direct connections) to /readyz 200
//     (time to ready); idle CPU and RSS; the watches the primary holds
//     (4lw wchs) and its live heap with the daemon; topic create and delete
//     lag among the siblings (--siblings of each, one at a time); for each
//     --rates (--big-rates at the big size): --phase-s seconds of paced
//     writes (writer) with the lag of every --sample-every-th set (probe),
//     the daemon's lag histogram and its queue depth every 200 ms;
//  3. the daemon restarted with its primary connection through a TcpProxy;
//     the proxy resets it, and a new primary write is timed until it shows
//     on the backup, and the re-verification (recursive mode) or the
//     session re-read (libzookeeper over the SetWatches limit) until done.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_lag_daemon.h"
#include "bench/bench_lag_load.h"
#include "bench/bench_lag_siblings.h"
#include "bench/zms_tree.h"
#include "support/tcp_proxy.h"
#include "support/zk_server.h"
#include "zk/c_client.h"

namespace zks::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Args {
  size_t nodes = 100000;
  std::vector<std::string> modes = {"recursive", "per_node"};
  std::vector<double> rates = {1000, 5000};
  std::vector<double> big_rates = {};
  size_t siblings = 100;
  size_t big_siblings = 50;
  std::string acls = "copy";  // sync.acls of the daemon (the product's default)
  int phase_s = 20;
  int idle_s = 10;
  size_t sample_every = 50;
  size_t window = 512;
  double churn = 0.05;
  bool big = false;
  size_t big_nodes = 1000000;
  std::string zkstandby = ZKSTANDBY_BIN;
  bool keep = false;
  bool reconnect = true;
};

void note(const char* fmt, auto... args) {
  std::fprintf(stderr, "bench-lag: ");
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench-lag: error: %s\n", what.c_str());
  std::exit(2);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string firstLineAfter(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) return line.substr(prefix.size());
  }
  return "";
}

std::string machine() {
  const std::string cpu = firstLineAfter(readFile("/proc/cpuinfo"), "model name\t: ");
  const long mem_kb = std::atol(firstLineAfter(readFile("/proc/meminfo"), "MemTotal:").c_str());
  char buf[256];
  std::snprintf(buf, sizeof buf, "%ld cores (%s), %.1f GiB RAM", sysconf(_SC_NPROCESSORS_ONLN), cpu.c_str(),
                static_cast<double>(mem_kb) / (1024.0 * 1024.0));
  return buf;
}

// The flat ZMS layout of a real platform: /zms/topic holds half the nodes
// (500,000 siblings at 1,000,000), /zms/consumergroup the other half.
ZmsShape shapeFor(size_t n) {
  ZmsShape shape;
  const size_t fixed = 4 + static_cast<size_t>(shape.kafka_clusters + shape.rocketmq_clusters) + 2;
  shape.tenants = 0;
  const size_t rest = n > fixed ? n - fixed : 0;
  shape.topics = static_cast<int>(rest / 2);
  shape.groups = static_cast<int>(rest - rest / 2);
  return shape;
}

WriterTargets targetsFor(const ZmsShape& shape) {
  WriterTargets t;
  forEachZmsNode(shape, [&](ZmsNode n) {
    if (n.path.find("/topic/topic_") != std::string::npos || n.path.find("/consumergroup/group_") != std::string::npos) {
      t.nodes.push_back(std::move(n.path));
    } else if (n.path.ends_with("/topic")) {
      t.topic_dirs.push_back(std::move(n.path));
    }
  });
  t.clusters = zmsClusterNames(shape);
  return t;
}

std::unique_ptr<testing::ZkServer> startServer(size_t nodes, const std::string& name) {
  testing::ZkServerOptions o;
  const std::string heap = nodes > 300000 ? "4g" : "1g";
  o.extra_jvm_flags = {"-Xmx" + heap, "-Xms" + heap,
                       // No snapshot during the run: the measurement is of the
                       // daemon, not of the server writing its whole tree out.
                       "-Dzookeeper.snapCount=100000000",
                       // ZkServer starts the JVM with C1 only (quick start for
                       // tests); a benchmark wants the server at full speed.
                       "-XX:TieredStopAtLevel=4"};
  o.extra_config = {"preAllocSize=65536"};
  o.start_timeout = 60s;
  auto server = std::make_unique<testing::ZkServer>(o);
  if (auto s = server->start(); !s) die(name + " server: " + s.error().describe());
  note("%s ZooKeeper on %s (heap %s)", name.c_str(), server->connectString().c_str(), heap.c_str());
  return server;
}

std::unique_ptr<zk::Client> connect(const std::string& where, const std::string& name, size_t window = 2048) {
  auto client = zk::makeCClient({.connect = where, .max_in_flight = window, .name = name});
  if (auto s = client->reopen(15s); !s) die(name + ": " + s.error().describe());
  return client;
}

// `mode`: recursive (the default: native client, persistent recursive
// watches), per_node (native, `persistent_watches: false`), libzookeeper
// (`client: libzookeeper` on both sites).
std::string daemonConfig(const fs::path& dir, const std::string& name, const std::string& primary,
                         const std::string& backup, int http_port, const std::string& log_level,
                         const std::string& mode, const std::string& acls) {
  const std::string client = mode == "libzookeeper" ? "  client: libzookeeper\n" : "";
  std::ostringstream y;
  y << "primary:\n  connect: \"" << primary << "\"\n" << client
    << (mode == "per_node" ? "  persistent_watches: false\n" : "")
    << "backup:\n  connect: \"" << backup << "\"\n" << client
    << "sync:\n  roots:\n    - source: /zms\n"
    // No audit inside the measurement: it would be a full re-read.
    << "  audit_interval_s: 0\n"
    << "  acls: " << acls << "\n"
    << "mapping:\n  files: [ mapping.yaml ]\n"
    << "http:\n  listen: \"127.0.0.1:" << http_port << "\"\n"
    << "log:\n  level: " << log_level << "\n";
  const fs::path file = dir / (name + ".yaml");
  std::ofstream(file) << y.str();
  return file.string();
}

double mb(long kb) { return static_cast<double>(kb) / 1024.0; }
double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Echoes what the daemon logged since `offset` to stderr; true when a full
// reconcile ran in that time (the window was not only event-driven work).
bool echoDaemonLog(const DaemonChild& daemon, size_t offset, const char* what) {
  std::istringstream in(daemon.logSince(offset));
  bool full = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("zookeeper bench") != std::string::npos) continue;
    std::fprintf(stderr, "bench-lag:   daemon during %s: %s\n", what, line.substr(0, 240).c_str());
    full |= line.find("full reconcile started") != std::string::npos;
  }
  return full;
}

// ---- sampling during a phase ----

struct Tick {
  double t = 0;  // seconds since the sampler started
  double queue_depth = -1;
  long rss_kb = 0;
};

// Every 200 ms: the daemon's queue depth (from /metrics) and RSS.
class Sampler {
 public:
  Sampler(DaemonChild& daemon, std::chrono::milliseconds every = 200ms) : daemon_(daemon) {
    thread_ = std::thread([this, every] {
      const auto start = Clock::now();
      while (!stop_) {
        Tick tick;
        tick.t = secondsSince(start);
        if (auto m = daemon_.metrics()) tick.queue_depth = m->value("zkstandby_queue_depth").value_or(-1);
        tick.rss_kb = procSample(daemon_.pid()).rss_kb;
        {
          std::lock_guard lock(mu_);
          ticks_.push_back(tick);
        }
        std::this_thread::sleep_until(start + every * ticks_.size());
      }
    });
  }
  ~Sampler() { stop(); }
  std::vector<Tick> stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return ticks_;
  }

 private:
  DaemonChild& daemon_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Tick> ticks_;
  std::thread thread_;
};

// CPU of every process that matters, between two points in time.
struct CpuMark {
  Clock::time_point at = Clock::now();
  ProcSample daemon, primary, backup, self;
  MachineCpu machine;
};

struct Pids {
  pid_t daemon = -1, primary = -1, backup = -1;
};

CpuMark cpuMark(const Pids& pids) {
  CpuMark m;
  m.daemon = procSample(pids.daemon);
  m.primary = procSample(pids.primary);
  m.backup = procSample(pids.backup);
  m.self = procSample(getpid());
  m.machine = machineCpu();
  return m;
}

// Percent of one core.
double cpuPercent(const ProcSample& a, const ProcSample& b, double seconds) {
  return seconds > 0 ? 100.0 * (b.cpu_seconds - a.cpu_seconds) / seconds : 0;
}

struct PhaseRow {
  std::string scenario;
  double target = 0;
  WriteStats writes;
  std::vector<double> lag_ms, mtime_lag_ms;
  size_t value_bad = 0, abandoned = 0;
  std::optional<double> hist_p50, hist_p99;
  double hist_count = 0;
  double max_queue = 0, first_third = 0, last_third = 0;
  bool growing = false;
  double daemon_cpu = 0, primary_cpu = 0, backup_cpu = 0, self_cpu = 0, machine_busy = 0;
  long rss_kb = 0;
  double drain_s = 0;  // from the end of the writes until the queue was empty and every sample seen
  bool drained = false;
  // Work the daemon did from the phase's start until drained: watch events
  // received, writes applied to the backup, and its CPU per applied write
  // (the cost that decides how much one core can carry).
  double events = 0, applied = 0, cpu_us_per_apply = 0;
  bool full_reconcile = false;  // one started inside the phase
};

PhaseRow runPhase(const Args& args, double rate, DaemonChild& daemon, const Pids& pids, Writer& writer,
                  LagProbe& probe, int phase) {
  PhaseRow row;
  row.scenario = "sustained " + std::to_string(static_cast<int>(rate)) + "/s";
  row.target = rate;
  auto before = daemon.metrics();
  if (!before) die("no /metrics before the phase");
  const auto hist_before = before->buckets("zkstandby_replication_lag_seconds");
  const size_t log_at = daemon.logSize();
  const CpuMark c0 = cpuMark(pids);
  Sampler sampler(daemon);
  PhaseLoad load;
  load.rate = rate;
  load.duration = std::chrono::seconds(args.phase_s);
  load.window = args.window;
  load.create_delete_share = args.churn;
  load.sample_every = args.sample_every;
  load.phase = phase;
  note("phase %d: %.0f writes/s for %d s", phase, rate, args.phase_s);
  row.writes = writer.run(load);
  const CpuMark c1 = cpuMark(pids);
  const auto writes_end = Clock::now();
  // Drain: every sample seen and the daemon's queue empty (bounded).
  const auto deadline = writes_end + 60s;
  bool probe_done = probe.waitAllResolved(deadline);
  bool queue_empty = false;
  while (Clock::now() < deadline) {
    auto m = daemon.metrics();
    if (m && m->value("zkstandby_queue_depth").value_or(1) == 0) {
      queue_empty = true;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  row.drain_s = secondsSince(writes_end);
  row.drained = probe_done && queue_empty;
  row.abandoned = probe.abandon();
  const auto ticks = sampler.stop();
  auto after = daemon.metrics();
  if (!after) die("no /metrics after the phase");
  const ProcSample drained_at = procSample(pids.daemon);
  row.full_reconcile = echoDaemonLog(daemon, log_at, row.scenario.c_str());
  row.events = after->value("zkstandby_watch_events_total").value_or(0) -
               before->value("zkstandby_watch_events_total").value_or(0);
  row.applied = after->value("zkstandby_ops_applied_total").value_or(0) -
                before->value("zkstandby_ops_applied_total").value_or(0);
  if (row.applied > 0) row.cpu_us_per_apply = 1e6 * (drained_at.cpu_seconds - c0.daemon.cpu_seconds) / row.applied;
  const auto hist_after = after->buckets("zkstandby_replication_lag_seconds");
  row.hist_p50 = histogramQuantile(hist_before, hist_after, 0.5);
  row.hist_p99 = histogramQuantile(hist_before, hist_after, 0.99);
  if (!hist_after.empty()) row.hist_count = hist_after.back().second - (hist_before.empty() ? 0 : hist_before.back().second);

  for (const auto& r : probe.results(phase)) {
    row.lag_ms.push_back(r.lag_ms);
    row.mtime_lag_ms.push_back(r.mtime_lag_ms);
    row.value_bad += !r.value_ok;
  }
  // Backlog: queue depth while the writes ran, first third against last third.
  std::vector<double> during;
  const double write_s = std::chrono::duration<double>(writes_end - c0.at).count();
  for (const auto& t : ticks) {
    if (t.queue_depth >= 0 && t.t <= write_s) during.push_back(t.queue_depth);
    row.max_queue = std::max(row.max_queue, t.queue_depth);
    row.rss_kb = std::max(row.rss_kb, t.rss_kb);
  }
  if (during.size() >= 3) {
    const size_t third = during.size() / 3;
    double a = 0, b = 0;
    for (size_t i = 0; i < third; ++i) a += during[i], b += during[during.size() - 1 - i];
    row.first_third = a / static_cast<double>(third);
    row.last_third = b / static_cast<double>(third);
    // Growing: the last third clearly above the first (with slack for the
    // noise of a queue that holds tens of items at these rates).
    row.growing = row.last_third > 1.5 * row.first_third + 20;
  }
  const double s = std::chrono::duration<double>(c1.at - c0.at).count();
  row.daemon_cpu = cpuPercent(c0.daemon, c1.daemon, s);
  row.primary_cpu = cpuPercent(c0.primary, c1.primary, s);
  row.backup_cpu = cpuPercent(c0.backup, c1.backup, s);
  row.self_cpu = cpuPercent(c0.self, c1.self, s);
  const double total = c1.machine.total - c0.machine.total;
  row.machine_busy = total > 0 ? 100.0 * (c1.machine.busy - c0.machine.busy) / total : 0;
  note("phase %d: %zu writes ok (%.0f/s), %zu failed; %zu samples, lag p50 %.2f ms p99 %.2f ms; drained in %.1f s%s",
       phase, row.writes.ok, row.writes.achievedRate(), row.writes.failed, row.lag_ms.size(),
       percentile(row.lag_ms, 0.5), percentile(row.lag_ms, 0.99), row.drain_s, row.drained ? "" : " (NOT drained)");
  return row;
}

// ---- the reconnect ----

struct ReconnectRow {
  std::string mode;
  size_t nodes = 0;
  double watches = 0;
  double reconnected_s = -1;   // proxy reset -> the daemon's connection is back
  double first_write_s = -1;   // proxy reset -> a write made once it is back seen on the backup
  double first_write_after_write_ms = -1;  // that write's own lag
  double reread_s = -1;        // proxy reset -> the re-verification (or session re-read) done; -1: none ran
  std::string reread_reason;   // "reconnect", "session" or ""
  double daemon_cpu_s = 0;     // CPU seconds the daemon used from the reset until then
  long peak_rss_kb = 0;
  long rss_before_kb = 0;
  double after_lag_ms = -1;    // a write's lag once recovered
  // Recursive mode: a write made once the daemon logged its session back
  // (the watch re-added), while the re-verification runs: its lag.
  double live_write_ms = -1;
  bool fresh_session = false;  // the daemon logged the ZOOKEEPER-706 path
};

// Restarts nothing: `daemon` must already replicate through `proxy`.
// Recursive mode re-verifies the tree (reason "reconnect"); per-node mode
// on the native client needs no re-read (the server fires what changed);
// libzookeeper opens a new session and re-reads (reason "session") when the
// SetWatches request would pass the server's limit.
ReconnectRow measureReconnect(const std::string& mode, size_t nodes, DaemonChild& daemon, testing::TcpProxy& proxy,
                              Writer& writer, LagProbe& probe, int phase) {
  ReconnectRow row;
  row.mode = mode;
  row.nodes = nodes;
  auto m0 = daemon.metrics();
  if (!m0) die("no /metrics before the reconnect");
  row.watches = m0->value("zkstandby_watches").value_or(0);
  auto rereads = [&](const MetricsPage& m) {
    return m.value("zkstandby_reconciles_total", "reason", "session").value_or(0) +
           m.value("zkstandby_reconciles_total", "reason", "reconnect").value_or(0);
  };
  const double rereads_before = rereads(*m0);
  // Replicating now?
  if (!writer.probeWrite(phase) || !probe.waitAllResolved(Clock::now() + 30s)) die("not replicating before the reset");
  const ProcSample p0 = procSample(daemon.pid());
  row.rss_before_kb = p0.rss_kb;
  row.peak_rss_kb = p0.rss_kb;
  const size_t log_before = daemon.logSize();

  note("reconnect (%s, %zu nodes): resetting the daemon's primary connection", mode.c_str(), nodes);
  const auto t0 = Clock::now();
  proxy.setMode(testing::TcpProxy::Mode::kReset);
  std::this_thread::sleep_for(200ms);
  proxy.setMode(testing::TcpProxy::Mode::kPass);
  // The write goes out once the daemon is connected again: a write made
  // while it was away fires no event (recursive mode: the server replays
  // nothing) and is the re-verification's to find.
  const auto reconnect_deadline = Clock::now() + 30s;
  while (Clock::now() < reconnect_deadline && proxy.connections() == 0) std::this_thread::sleep_for(2ms);
  row.reconnected_s = secondsSince(t0);
  const size_t before = probe.results(phase + 1).size();
  const auto written = Clock::now();
  if (!writer.probeWrite(phase + 1)) die("the probe write after the reset failed");
  const auto deadline = t0 + (nodes > 300000 ? 1800s : 300s);
  bool seen = false, reread_started = false, reread_done = false;
  bool live_written = false, live_seen = false;
  size_t live_before = 0;
  std::optional<Clock::time_point> seen_at;
  while (Clock::now() < deadline) {
    if (!seen && probe.results(phase + 1).size() > before) {
      seen = true;
      seen_at = Clock::now();
      row.first_write_s = secondsSince(t0);
      row.first_write_after_write_ms = std::chrono::duration<double, std::milli>(*seen_at - written).count();
    }
    const std::string log = daemon.logSince(log_before);
    // The write above may reach the server before the daemon's session has
    // re-added its watch; then only the re-verification finds it. This one
    // is made once the daemon says its session is back: an event.
    if (!live_written && log.find("primary connection back") != std::string::npos) {
      live_written = true;
      live_before = probe.results(phase + 3).size();
      if (!writer.probeWrite(phase + 3)) die("the probe write after the session came back failed");
    }
    if (live_written && !live_seen) {
      if (auto r = probe.results(phase + 3); r.size() > live_before) {
        live_seen = true;
        row.live_write_ms = r.back().lag_ms;
      }
    }
    for (const char* reason : {"reconnect", "session"}) {
      if (!reread_started && log.find(std::string("full reconcile started (") + reason) != std::string::npos) {
        reread_started = true;
        row.reread_reason = reason;
      }
    }
    if (reread_started && !reread_done) {
      if (auto m = daemon.metrics(); m && rereads(*m) > rereads_before) {
        reread_done = true;
        row.reread_s = secondsSince(t0);
      }
    }
    const ProcSample p = procSample(daemon.pid());
    row.peak_rss_kb = std::max(row.peak_rss_kb, p.rss_kb);
    row.daemon_cpu_s = p.cpu_seconds - p0.cpu_seconds;
    // Done: the write arrived, and a re-read that started has ended (or
    // none started within 5 s of it).
    if (seen && (!live_written || live_seen) && (reread_done || (!reread_started && Clock::now() - *seen_at > 5s))) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  probe.abandon();
  if (!seen || (reread_started && !reread_done)) {
    note("reconnect: not recovered within the deadline (seen %d, re-read started %d, done %d)", seen, reread_started,
         reread_done);
  }
  const std::string log = daemon.logSince(log_before);
  row.fresh_session = log.find("ZOOKEEPER-706") != std::string::npos;
  // The daemon's own account of the recovery, with its timestamps.
  {
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("reconcile") != std::string::npos || line.find("connection") != std::string::npos ||
          line.find("session") != std::string::npos) {
        note("  daemon: %s", line.substr(0, 240).c_str());
      }
    }
  }
  if (writer.probeWrite(phase + 2) && probe.waitAllResolved(Clock::now() + 30s)) {
    auto r = probe.results(phase + 2);
    if (!r.empty()) row.after_lag_ms = r.back().lag_ms;
  }
  note("reconnect: first write seen after %.2f s, re-read (%s) done after %.2f s, %.1f CPU s, peak RSS %.0f MB",
       row.first_write_s, row.reread_reason.empty() ? "none" : row.reread_reason.c_str(), row.reread_s,
       row.daemon_cpu_s, mb(row.peak_rss_kb));
  return row;
}

// ---- a site pair with a tree and a daemon ----

struct Site {
  ZmsShape shape;
  std::unique_ptr<testing::ZkServer> primary, backup;
  std::unique_ptr<zk::Client> writer_client;
  std::unique_ptr<LagProbe> probe;
  std::unique_ptr<Writer> writer;
  std::unique_ptr<testing::TcpProxy> proxy;
  std::unique_ptr<DaemonChild> daemon;
  Pids pids;
  double tree_write_s = 0;
  double ready_s = 0;
  long ready_hwm_kb = 0;
};

void buildSite(Site& site, size_t nodes, const Args& args, const fs::path& dir) {
  site.shape = shapeFor(nodes);
  site.primary = startServer(nodes, "primary");
  site.backup = startServer(nodes, "backup");
  site.pids.primary = findProcess(site.primary->directory());
  site.pids.backup = findProcess(site.backup->directory());
  site.writer_client = connect(site.primary->connectString(), "bench-writer", args.window);
  note("writing a %zu-node ZMS tree (%d topics under %s/topic) on the primary", zmsNodeCount(site.shape),
       site.shape.topics, site.shape.root.c_str());
  const auto t = Clock::now();
  auto written = writeZmsTree(*site.writer_client, site.shape);
  if (!written) die("tree: " + written.error().describe());
  site.tree_write_s = secondsSince(t);
  note("tree written: %zu nodes in %.1f s", *written, site.tree_write_s);
  std::ofstream(dir / "mapping.yaml") << zmsMappingYaml(site.shape);
  auto probe = LagProbe::connect(site.backup->connectString());
  if (!probe) die("probe: " + probe.error().describe());
  site.probe = std::move(*probe);
  site.writer = std::make_unique<Writer>(*site.writer_client, targetsFor(site.shape), *site.probe);
}

// A new, empty backup server (and the probe on it): each mode's first full
// reconcile starts from nothing, as a new standby does.
void freshBackup(Site& site, size_t nodes) {
  site.probe.reset();
  site.writer.reset();
  site.backup.reset();
  site.backup = startServer(nodes, "backup");
  site.pids.backup = findProcess(site.backup->directory());
  auto probe = LagProbe::connect(site.backup->connectString());
  if (!probe) die("probe: " + probe.error().describe());
  site.probe = std::move(*probe);
  site.writer = std::make_unique<Writer>(*site.writer_client, targetsFor(site.shape), *site.probe);
}

void stopDaemon(Site& site) {
  if (!site.daemon) return;
  note("stopping the daemon (exit %d)", site.daemon->stop());
  site.daemon.reset();
  // Its primary session (and every watch it held) goes with it.
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    auto wchs = site.primary->fourLetterWord("wchs");
    if (wchs && parseWchs(*wchs).watches <= 0) break;
    std::this_thread::sleep_for(100ms);
  }
}

void startDaemon(Site& site, const Args& args, const fs::path& dir, const std::string& name, const std::string& mode,
                 bool through_proxy, std::chrono::seconds ready_timeout) {
  stopDaemon(site);
  std::string primary = site.primary->connectString();
  if (through_proxy) {
    if (!site.proxy) {
      auto proxy = testing::TcpProxy::start(site.primary->port());
      if (!proxy) die("proxy: " + proxy.error().describe());
      site.proxy = std::move(*proxy);
    }
    primary = site.proxy->connectString();
  }
  const int port = freePort();
  // Info level: a handful of lines per full reconcile (none per event), and
  // their timestamps show where the time goes.
  const std::string config =
      daemonConfig(dir, name, primary, site.backup->connectString(), port, "info", mode, args.acls);
  site.daemon = std::make_unique<DaemonChild>(args.zkstandby, config, (dir / (name + ".log")).string(), port);
  note("%s: %s run -c %s", name.c_str(), args.zkstandby.c_str(), config.c_str());
  const auto t = Clock::now();
  if (!site.daemon->start()) die("cannot start the daemon");
  if (!site.daemon->waitReady(Clock::now() + ready_timeout)) {
    die(name + ": not ready within " + std::to_string(ready_timeout.count()) + " s; log tail:\n" +
        site.daemon->logTail());
  }
  site.ready_s = secondsSince(t);
  site.pids.daemon = site.daemon->pid();
  site.ready_hwm_kb = procSample(site.daemon->pid()).hwm_kb;
  note("%s ready after %.1f s (peak RSS %.0f MB)", name.c_str(), site.ready_s, mb(site.ready_hwm_kb));
}

struct IdleRow {
  std::string mode;
  size_t nodes = 0;
  double watches = 0, cpu_percent = 0, events = 0, reconciles = 0;
  long rss_kb = 0;
  int seconds = 0;
};

IdleRow measureIdle(Site& site, const std::string& mode, size_t nodes, int seconds) {
  IdleRow row;
  row.mode = mode;
  row.nodes = nodes;
  row.seconds = seconds;
  // Let the first reconcile's tail (state update, counters) settle.
  std::this_thread::sleep_for(2s);
  auto m0 = site.daemon->metrics();
  const size_t log_at = site.daemon->logSize();
  const ProcSample a = procSample(site.daemon->pid());
  const auto t = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const ProcSample b = procSample(site.daemon->pid());
  auto m1 = site.daemon->metrics();
  row.cpu_percent = cpuPercent(a, b, secondsSince(t));
  row.rss_kb = b.rss_kb;
  if (m1) row.watches = m1->value("zkstandby_watches").value_or(0);
  if (m0 && m1) {
    row.events = m1->value("zkstandby_watch_events_total").value_or(0) -
                 m0->value("zkstandby_watch_events_total").value_or(0);
    // A full reconcile inside the window would not be idle: say so.
    row.reconciles = m1->value("zkstandby_reconciles_total").value_or(0) -
                     m0->value("zkstandby_reconciles_total").value_or(0) +
                     m1->value("zkstandby_queue_depth").value_or(0);
  }
  if (echoDaemonLog(*site.daemon, log_at, "idle")) row.reconciles += 1;
  note("idle (%s, %zu nodes, %.0f watches): %.2f%% CPU over %d s, RSS %.0f MB; %.0f events, %.0f reconciles/queued",
       mode.c_str(), nodes, row.watches, row.cpu_percent, seconds, mb(row.rss_kb), row.events, row.reconciles);
  return row;
}

// ---- one mode on one tree: issue 11's measures ----

struct ModeResult {
  std::string mode;
  std::string acls;
  size_t nodes = 0;
  double ready_s = 0;
  long ready_hwm_kb = 0;
  WatchCount wchs;
  std::optional<double> heap_mb, heap_base_mb;
  IdleRow idle;
  SiblingLag siblings;
  size_t sibling_count = 0;  // children of /zms/topic
  std::vector<PhaseRow> phases;
  std::optional<ReconnectRow> reconnect;
};

ModeResult measureMode(Site& site, const Args& args, const fs::path& dir, const std::string& mode, size_t nodes,
                       const std::vector<double>& rates, size_t siblings, std::optional<double> heap_base,
                       int phase_base) {
  ModeResult r;
  r.mode = mode;
  r.acls = args.acls;
  r.nodes = nodes;
  r.heap_base_mb = heap_base;
  if (phase_base > 1) freshBackup(site, nodes);  // the first mode has one already
  startDaemon(site, args, dir, "daemon-" + mode, mode, false, nodes > 300000 ? 3600s : 1200s);
  r.ready_s = site.ready_s;
  r.ready_hwm_kb = site.ready_hwm_kb;
  r.idle = measureIdle(site, mode, nodes, args.idle_s);
  if (auto w = site.primary->fourLetterWord("wchs")) r.wchs = parseWchs(*w);
  r.heap_mb = jvmLiveHeapMb(site.pids.primary);
  note("%s: primary holds %lld watches on %lld paths; live heap %.1f MiB (%.1f without the daemon)", mode.c_str(),
       r.wchs.watches, r.wchs.paths, r.heap_mb.value_or(-1), heap_base.value_or(-1));
  r.sibling_count = static_cast<size_t>(site.shape.topics) + 2;
  note("%s: topic create and delete lag among %zu siblings (%zu each)", mode.c_str(), r.sibling_count, siblings);
  const std::string topic_dir = site.shape.root + "/topic";
  r.siblings = measureSiblingLag(*site.writer_client, site.backup->connectString(), topic_dir, siblings,
                                 payloadFor(topic_dir + "/x", zmsClusterNames(site.shape).front(), 0));
  note("%s: create p50 %.2f ms, delete p50 %.2f ms, %zu lost", mode.c_str(), percentile(r.siblings.create_ms, 0.5),
       percentile(r.siblings.delete_ms, 0.5), r.siblings.lost);
  int phase = phase_base;
  for (double rate : rates) {
    auto row = runPhase(args, rate, *site.daemon, site.pids, *site.writer, *site.probe, phase);
    row.scenario = mode + ", " + row.scenario;
    r.phases.push_back(std::move(row));
    phase += 10;
  }
  if (args.reconnect) {
    // Again through the proxy, so that its connection can be reset.
    startDaemon(site, args, dir, "daemon-" + mode + "-proxied", mode, true, nodes > 300000 ? 3600s : 1200s);
    r.reconnect = measureReconnect(mode, nodes, *site.daemon, *site.proxy, *site.writer, *site.probe, phase);
  }
  stopDaemon(site);
  return r;
}

// ---- output ----

std::string ms(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v < 10 ? "%.2f ms" : v < 100 ? "%.1f ms" : "%.0f ms", v);
  return b;
}
std::string optMs(const std::optional<double>& seconds) {
  if (!seconds) return "–";
  return *seconds >= 10 ? "≥ 10 s" : ms(*seconds * 1000);
}
std::string fmt(const char* f, auto... a) {
  char b[256];
  std::snprintf(b, sizeof b, f, a...);
  return b;
}
std::string verdict(bool met) { return met ? " (met)" : " (missed)"; }

std::string loadAverage() {
  std::istringstream in(readFile("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Issue 11's table for one tree: a row per measure, a column per mode; the
// targets are the recursive (default) mode's.
void printSummary(const std::vector<ModeResult>& results) {
  if (results.empty()) return;
  const size_t nodes = results.front().nodes;
  const bool big = nodes >= 1000000;
  std::printf("\n#### %zu znodes (%zu children under /zms/topic), acls: %s\n\n", nodes, results.front().sibling_count,
              results.front().acls.c_str());
  std::printf("| measure | target |");
  for (const auto& r : results) std::printf(" %s |", r.mode.c_str());
  std::printf("\n|---|---|");
  for (size_t i = 0; i < results.size(); ++i) std::printf("---|");
  std::printf("\n");
  auto row = [&](const char* name, const char* target, auto cell) {
    std::printf("| %s | %s |", name, target);
    for (const auto& r : results) std::printf(" %s |", cell(r).c_str());
    std::printf("\n");
  };
  auto targeted = [](const ModeResult& r) { return r.mode == "recursive"; };
  row("time to ready", big ? "≤ 20 s" : "–", [&](const ModeResult& r) {
    return fmt("%.1f s", r.ready_s) + (big && targeted(r) ? verdict(r.ready_s <= 20) : "");
  });
  row("primary watches (wchs: watches / paths)", "= roots (1)", [&](const ModeResult& r) {
    return fmt("%lld / %lld", r.wchs.watches, r.wchs.paths) + (targeted(r) ? verdict(r.wchs.watches == 1) : "");
  });
  row("primary live heap, with − without the daemon", "≤ 5 MiB", [&](const ModeResult& r) {
    if (!r.heap_mb || !r.heap_base_mb) return std::string("–");
    const double d = *r.heap_mb - *r.heap_base_mb;
    return fmt("%+.1f MiB (%.0f B/znode)", d, d * 1048576.0 / static_cast<double>(r.nodes)) +
           (targeted(r) ? verdict(d <= 5) : "");
  });
  row("daemon RSS per znode (idle after ready; peak at ready)", "≤ 200 B", [&](const ModeResult& r) {
    const double per = 1024.0 * static_cast<double>(r.idle.rss_kb) / static_cast<double>(r.nodes);
    const double peak = 1024.0 * static_cast<double>(r.ready_hwm_kb) / static_cast<double>(r.nodes);
    return fmt("%.0f B (%.0f B)", per, peak) + (big && targeted(r) ? verdict(per <= 200) : "");
  });
  auto lag = [&](const std::vector<double>& v, size_t lost) {
    auto copy = v;
    if (copy.empty()) return std::string("–");
    const double p50 = percentile(copy, 0.5), p99 = percentile(copy, 0.99);
    return ms(p50) + " / " + ms(p99) + (lost ? fmt(" (%zu lost)", lost) : "");
  };
  row("topic create lag among the siblings, p50 / p99", "≤ 10 / 50 ms", [&](const ModeResult& r) {
    auto v = r.siblings.create_ms;
    const bool met = !v.empty() && percentile(v, 0.5) <= 10 && percentile(v, 0.99) <= 50 && r.siblings.lost == 0;
    return lag(r.siblings.create_ms, r.siblings.lost) + (targeted(r) ? verdict(met) : "");
  });
  row("topic delete lag among the siblings, p50 / p99", "≤ 10 / 50 ms", [&](const ModeResult& r) {
    auto v = r.siblings.delete_ms;
    const bool met = !v.empty() && percentile(v, 0.5) <= 10 && percentile(v, 0.99) <= 50 && r.siblings.lost == 0;
    return lag(r.siblings.delete_ms, 0) + (targeted(r) ? verdict(met) : "");
  });
  std::vector<double> rates;
  for (const auto& p : results.front().phases) rates.push_back(p.target);
  for (size_t i = 0; i < rates.size(); ++i) {
    const bool five = rates[i] >= 5000;
    const std::string name = fmt("update lag at %.0f writes/s, p50 / p99 (backlog)", rates[i]);
    row(name.c_str(), five ? "≤ 5 / 50 ms, no growth" : "–", [&](const ModeResult& r) {
      if (i >= r.phases.size()) return std::string("–");
      auto p = r.phases[i];
      const double p50 = percentile(p.lag_ms, 0.5), p99 = percentile(p.lag_ms, 0.99);
      const std::string backlog =
          p.growing ? fmt("growing %.0f → %.0f", p.first_third, p.last_third) : fmt("flat, max %.0f", p.max_queue);
      const bool met = p50 <= 5 && p99 <= 50 && !p.growing && p.drained;
      return ms(p50) + " / " + ms(p99) + " (" + backlog + (p.drained ? "" : ", not drained") + ")" +
             (five && targeted(r) ? verdict(met) : "");
    });
  }
  row("after a connection reset: first new write on the backup (after the reset; its own lag)", "≤ 1 s",
      [&](const ModeResult& r) {
        if (!r.reconnect) return std::string("–");
        return fmt("%.2f s; %s", r.reconnect->first_write_s, ms(r.reconnect->first_write_after_write_ms).c_str()) +
               (targeted(r) ? verdict(r.reconnect->first_write_s >= 0 && r.reconnect->first_write_s <= 1) : "");
      });
  row("after a connection reset: a write made once the daemon logged its session back (re-verification running), its lag",
      "–", [&](const ModeResult& r) {
        if (!r.reconnect || r.reconnect->live_write_ms < 0) return std::string("–");
        return ms(r.reconnect->live_write_ms);
      });
  row("after a connection reset: re-verification done", big ? "≤ 15 s" : "–", [&](const ModeResult& r) {
    if (!r.reconnect) return std::string("–");
    if (r.reconnect->reread_s < 0) return std::string("none needed (the server re-sent the watches' events)");
    return fmt("%.1f s (%s)", r.reconnect->reread_s, r.reconnect->reread_reason.c_str()) +
           (big && targeted(r) ? verdict(r.reconnect->reread_s <= 15) : "");
  });
}

void printDetails(const Args& args, const std::vector<PhaseRow>& rows, const std::vector<IdleRow>& idles,
                  const std::vector<ReconnectRow>& reconnects) {
  std::printf("\n| scenario | target rate | achieved rate | lag p50 | p99 | max | daemon histogram p50 / p99 | "
              "max queue depth | backlog growing? | daemon CPU | RSS MB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (auto r : rows) {
    if (r.full_reconcile) r.scenario += " (a full reconcile ran in it)";
    std::printf("| %s | %.0f/s | %.0f/s | %s | %s | %s | %s / %s | %.0f | %s | %.0f%% | %.0f |\n", r.scenario.c_str(),
                r.target, r.writes.achievedRate(), ms(percentile(r.lag_ms, 0.5)).c_str(),
                ms(percentile(r.lag_ms, 0.99)).c_str(), ms(percentile(r.lag_ms, 1.0)).c_str(),
                optMs(r.hist_p50).c_str(), optMs(r.hist_p99).c_str(), r.max_queue,
                (r.growing ? fmt("yes (%.0f → %.0f)", r.first_third, r.last_third)
                           : fmt("no (%.0f → %.0f)", r.first_third, r.last_third))
                    .c_str(),
                r.daemon_cpu, mb(r.rss_kb));
  }
  for (const auto& i : idles) {
    std::printf("| %s, idle, %zu nodes (%.0f watches%s) | – | – | – | – | – | – | – | – | %.2f%% | %.0f |\n",
                i.mode.c_str(), i.nodes, i.watches,
                i.events + i.reconciles > 0 ? ", NOT quiet: events or a reconcile in the window" : "", i.cpu_percent,
                mb(i.rss_kb));
  }
  std::printf("\nLag: sets sampled (every %zu-th write), from the primary's acknowledgement to a backup read "
              "(through a watch) that shows the mapped value. Daemon histogram: "
              "zkstandby_replication_lag_seconds deltas over the phase (primary mtime → backup apply, "
              "interpolated in 1 ms..10 s buckets). CPU: percent of one core.\n\n",
              args.sample_every);
  std::printf("| scenario | samples (value wrong / never seen) | lag from mtime p50 / p99 | write ack p50 / p99 | "
              "watch events / backup writes | daemon CPU per backup write | drain after the writes | "
              "CPU: machine busy, primary ZK, backup ZK, load gen |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (auto r : rows) {
    std::printf("| %s | %zu (%zu / %zu) | %s / %s | %s / %s | %.0f / %.0f | %.0f µs | %.1f s%s | "
                "%.0f%%, %.0f%%, %.0f%%, %.0f%% |\n",
                r.scenario.c_str(), r.lag_ms.size(), r.value_bad, r.abandoned,
                ms(percentile(r.mtime_lag_ms, 0.5)).c_str(), ms(percentile(r.mtime_lag_ms, 0.99)).c_str(),
                ms(percentile(r.writes.ack_ms, 0.5)).c_str(), ms(percentile(r.writes.ack_ms, 0.99)).c_str(),
                r.events, r.applied, r.cpu_us_per_apply, r.drain_s, r.drained ? "" : " (not drained)",
                r.machine_busy, r.primary_cpu, r.backup_cpu, r.self_cpu);
  }
  std::printf("\n| reconnect | watches | connection back | first new write replicated | re-read done | "
              "daemon CPU during recovery | RSS before → peak | lag after recovery | new session (ZOOKEEPER-706) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& r : reconnects) {
    std::printf("| %s, %zu nodes | %.0f | %.2f s | %.2f s | %s | %.1f CPU s | %.0f → %.0f MB | %s | %s |\n",
                r.mode.c_str(), r.nodes, r.watches, r.reconnected_s, r.first_write_s,
                r.reread_s < 0 ? "none" : fmt("%.2f s (%s)", r.reread_s, r.reread_reason.c_str()).c_str(),
                r.daemon_cpu_s, mb(r.rss_before_kb), mb(r.peak_rss_kb),
                r.after_lag_ms >= 0 ? ms(r.after_lag_ms).c_str() : "–", r.fresh_session ? "yes" : "no");
  }
}

int run(const Args& args) {
  char tmpl[] = "/tmp/zks-benchlag-XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp");
  const fs::path dir = tmpl;
  const std::string load_before = loadAverage();
  note("scratch directory %s; %s", dir.c_str(), machine().c_str());

  std::vector<std::vector<ModeResult>> sizes;
  auto measureSize = [&](size_t nodes, const std::vector<double>& rates, size_t siblings, const fs::path& at) {
    fs::create_directories(at);
    Site site;
    buildSite(site, nodes, args, at);
    const auto heap_base = jvmLiveHeapMb(site.pids.primary);
    note("primary live heap without a daemon: %.1f MiB", heap_base.value_or(-1));
    std::vector<ModeResult> results;
    int phase = 1;
    for (const auto& mode : args.modes) {
      results.push_back(measureMode(site, args, at, mode, nodes, rates, siblings, heap_base, phase));
      phase += 1000;
    }
    sizes.push_back(std::move(results));
  };
  if (args.nodes > 0) measureSize(args.nodes, args.rates, args.siblings, dir / "small");
  if (args.big) measureSize(args.big_nodes, args.big_rates, args.big_siblings, dir / "big");

  std::printf("\nMachine: %s; the two ZooKeeper servers, the daemon and the load generator share it. "
              "Load average (1/5/15 min) at the start %s, at the end %s.\n",
              machine().c_str(), load_before.c_str(), loadAverage().c_str());
  for (const auto& results : sizes) printSummary(results);
  std::vector<PhaseRow> rows;
  std::vector<IdleRow> idles;
  std::vector<ReconnectRow> reconnects;
  for (const auto& results : sizes) {
    for (const auto& r : results) {
      rows.insert(rows.end(), r.phases.begin(), r.phases.end());
      idles.push_back(r.idle);
      if (r.reconnect) reconnects.push_back(*r.reconnect);
    }
  }
  printDetails(args, rows, idles, reconnects);
  if (!args.keep) fs::remove_all(dir);
  else note("kept %s", dir.c_str());
  return 0;
}

}  // namespace
}  // namespace zks::bench

int main(int argc, char** argv) {
  zks::bench::Args args;
  CLI::App app{"Replication lag, backlog, idle cost and reconnect cost of zkstandby run (SPEC section 7)"};
  app.add_option("--nodes", args.nodes, "znodes in the primary tree (0: only the --big part)");
  app.add_option("--modes", args.modes, "watch modes, side by side: recursive, per_node, libzookeeper");
  app.add_option("--rates", args.rates, "sustained primary write rates at --nodes, one phase each");
  app.add_option("--big-rates", args.big_rates, "sustained primary write rates at --big-nodes (none by default)");
  app.add_option("--acls", args.acls, "sync.acls of the daemon: copy (the default), open, keep-backup");
  app.add_option("--siblings", args.siblings, "topics created and deleted one at a time at --nodes");
  app.add_option("--big-siblings", args.big_siblings, "the same at --big-nodes");
  app.add_option("--phase-s", args.phase_s, "seconds per rate");
  app.add_option("--idle-s", args.idle_s, "seconds of idle CPU measurement");
  app.add_option("--sample-every", args.sample_every, "every Nth write is followed to the backup");
  app.add_option("--window", args.window, "writer requests in flight");
  app.add_option("--churn", args.churn, "share of writes that create or delete extra topics");
  app.add_flag("--big", args.big, "also --big-nodes (JVMs with 4 GB heaps)");
  app.add_option("--big-nodes", args.big_nodes, "tree size for --big");
  app.add_option("--zkstandby", args.zkstandby, "the zkstandby binary");
  app.add_flag("!--no-reconnect", args.reconnect, "skip the reconnect measurements");
  app.add_flag("--keep", args.keep, "keep the scratch directory (configs, daemon logs)");
  CLI11_PARSE(app, argc, argv);
  return zks::bench::run(args);
}
