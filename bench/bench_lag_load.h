#pragma once

// The lag benchmark's load and its independent lag measurement.
//
// Writer: a paced stream of primary writes through one async C-client
// session with a window of requests in flight (token bucket, at most 100 ms
// of tokens saved up). Mostly setData on existing ZMS topic and group nodes
// with the mapped field (clusterName) changing every time and a global
// sequence number (benchSeq=N) in the payload; a share of creates and
// deletes of extra topics. Every `sample_every`-th set is handed to the
// LagProbe once the primary has acknowledged it.
//
// LagProbe: a session on the backup that watches each sampled node and
// reads it after every change until it holds a benchSeq at least as new as
// the sample (a later write to the same node counts: it carries the sample's
// change too). The sample's lag is from the primary's acknowledgement of the
// write to the backup read that showed it, so it overstates the apply time
// by up to one backup round trip. The mapped value is checked as well.
//
// Threading: Writer::run blocks the calling thread; completions run on the
// clients' dispatcher threads. LagProbe is thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "zk/client.h"

namespace zks::bench {

using Clock = std::chrono::steady_clock;

// A change on the backup is recognised by benchSeq=N in the payload.
std::string payloadFor(const std::string& path, const std::string& cluster, uint64_t seq);
// The benchSeq of a payload; 0 when it has none.
uint64_t payloadSeq(const std::string& data);
// "kafka_bj_01" -> "kafka_sh_01" (the generated mapping's cluster table).
std::string standbyCluster(const std::string& cluster);

struct LagResult {
  int phase = 0;
  double lag_ms = 0;        // primary ack -> backup read showing it
  double mtime_lag_ms = 0;  // primary mtime -> backup read (wall clock, ms resolution)
  bool value_ok = false;    // the backup held the mapped clusterName
};

class LagProbe {
 public:
  // Connects its own session to the backup.
  static Result<std::unique_ptr<LagProbe>> connect(const std::string& backup_connect);
  ~LagProbe();

  // The primary acknowledged set `seq` of `path` (same path on the backup:
  // topics and groups are not renamed) at `acked`, with primary mtime.
  void expect(int phase, const std::string& path, uint64_t seq, Clock::time_point acked, int64_t mtime_ms,
              std::string standby_cluster);
  std::vector<LagResult> results(int phase) const;
  size_t unresolved() const;
  // Waits until nothing is unresolved; false at the deadline.
  bool waitAllResolved(Clock::time_point deadline) const;
  // Samples never seen on the backup (given up at the end of a phase).
  size_t abandon();

 private:
  struct Pending {
    int phase;
    uint64_t seq;
    Clock::time_point acked;
    int64_t mtime_ms;
    std::string standby_cluster;
  };
  LagProbe() = default;
  void read(const std::string& path);
  void onRead(const std::string& path, zk::GetResult r, Clock::time_point at);

  std::unique_ptr<zk::Client> client_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Pending>> pending_;
  size_t pending_count_ = 0;
  std::vector<LagResult> results_;
};

struct WriterTargets {
  std::vector<std::string> nodes;       // existing topic and group nodes (set targets; never deleted)
  std::vector<std::string> topic_dirs;  // where extra topics are created
  std::vector<std::string> clusters;    // primary cluster names
};

struct PhaseLoad {
  double rate = 1000;                 // writes per second
  std::chrono::milliseconds duration{20000};
  size_t window = 512;                // requests in flight
  double create_delete_share = 0.05;  // of all writes, half creates, half deletes
  size_t sample_every = 50;           // every Nth set goes to the probe
  int phase = 0;
};

struct WriteStats {
  size_t issued = 0, ok = 0, failed = 0;
  size_t sets = 0, creates = 0, deletes = 0;
  double seconds = 0;  // from the first issue to the last completion
  std::vector<double> ack_ms;  // issue -> primary acknowledgement, every write
  double achievedRate() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

class Writer {
 public:
  Writer(zk::Client& primary, WriterTargets targets, LagProbe& probe, uint64_t seed = 7);

  // Writes at `load.rate` for `load.duration`, then waits (up to 30 s) for
  // the writes in flight.
  WriteStats run(const PhaseLoad& load);
  // One sampled set of a random target node, blocking until acknowledged;
  // returns its acknowledgement time (nothing if it failed).
  std::optional<Clock::time_point> probeWrite(int phase);

 private:
  struct Shared;
  void issueSet(const PhaseLoad& load, const std::shared_ptr<Shared>& shared);
  void issueCreate(const std::shared_ptr<Shared>& shared);
  void issueDelete(const std::shared_ptr<Shared>& shared);

  zk::Client& primary_;
  WriterTargets targets_;
  LagProbe& probe_;
  uint64_t rng_state_;
  uint64_t seq_ = 0;
  std::mutex created_mu_;
  std::deque<std::string> created_;  // extra topics, oldest first
  uint64_t next_created_ = 0;
  uint64_t next() {  // splitmix64: cheap, deterministic
    uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

// p in [0,1] of `values` (sorted in place); 0 when empty.
double percentile(std::vector<double>& values, double p);

}  // namespace zks::bench
