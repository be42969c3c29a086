#pragma once

// The lag benchmark's view of a running `zkstandby run`: the child process,
// its /metrics and /readyz, and what /proc says about its CPU and memory.
//
// Threading: a DaemonChild is driven from one thread; the free functions may
// be called from any thread.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace zks::bench {

// A loopback port nobody listens on right now (bound to 0, then released).
int freePort();

// GET http://127.0.0.1:<port><path>; status 0 when there is no answer.
struct HttpReply {
  int status = 0;
  std::string body;
};
HttpReply httpGet(int port, const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(2));

// A parsed Prometheus text page: every sample line, by its full series
// text ("name" or "name{a=\"b\"}"), plus lookups that ignore labels.
class MetricsPage {
 public:
  static MetricsPage parse(const std::string& text);
  // The sum of every series of `name` whose labels include `label=value`
  // (no label given: all series of that name). Nothing when none matches.
  std::optional<double> value(const std::string& name, const std::string& label = "",
                              const std::string& label_value = "") const;
  // A histogram's cumulative buckets, by upper bound (+Inf last).
  std::vector<std::pair<double, double>> buckets(const std::string& name) const;

 private:
  struct Sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  std::vector<Sample> samples_;
};

// p-quantile (0..1) of the observations between two cumulative bucket
// snapshots of one histogram, interpolated linearly inside the bucket as
// Prometheus' histogram_quantile does. Nothing when no observation fell in
// between; the last finite bound when the quantile lies in +Inf.
std::optional<double> histogramQuantile(const std::vector<std::pair<double, double>>& before,
                                        const std::vector<std::pair<double, double>>& after, double q);

// /proc/<pid>: CPU seconds used (user + system) and resident memory.
struct ProcSample {
  bool ok = false;
  double cpu_seconds = 0;
  long rss_kb = 0;  // VmRSS
  long hwm_kb = 0;  // VmHWM: peak resident set so far
  int threads = 0;
};
ProcSample procSample(pid_t pid);
// Busy and total jiffies of the whole machine (/proc/stat "cpu" line).
struct MachineCpu {
  double busy = 0, total = 0;
};
MachineCpu machineCpu();
// The pid of the first process whose command line contains `needle`; -1.
pid_t findProcess(const std::string& needle);

// `zkstandby run -c <config>` as a child process with its output appended
// to `log_file`. It dies with this process (PR_SET_PDEATHSIG); the
// destructor stops it.
class DaemonChild {
 public:
  DaemonChild(std::string binary, std::string config_file, std::string log_file, int http_port);
  ~DaemonChild();
  DaemonChild(const DaemonChild&) = delete;
  DaemonChild& operator=(const DaemonChild&) = delete;

  bool start();
  bool running();
  // SIGTERM; SIGKILL if it has not exited within `grace`. Its exit status,
  // or -signal.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Polls until the daemon leads and /readyz answers 200 (its first full
  // reconcile is done); false at the deadline or if the process ended.
  bool waitReady(std::chrono::steady_clock::time_point deadline);

  pid_t pid() const { return pid_; }
  int httpPort() const { return http_port_; }
  std::optional<MetricsPage> metrics() const;
  std::string logTail(size_t bytes = 4000) const;
  // The log's size now, and what it gained since an earlier size.
  size_t logSize() const;
  std::string logSince(size_t offset) const;

 private:
  std::string binary_, config_file_, log_file_;
  int http_port_;
  pid_t pid_ = -1;
};

}  // namespace zks::bench
