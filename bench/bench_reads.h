#pragma once

// Raw reads of a tree with no replicator logic, for the sync benchmark
// (issue 10): getData of known paths three ways (pipelined single requests
// with either backend, or multiRead batches), a pipelined getACL of every
// path, and the multiRead scan of a whole tree (getData of every node,
// getChildren where numChildren > 0) that is the read half of the floor.
// Each run reports its wall time, this process's CPU time (the client's
// cost) and the server JVM's CPU time read from /proc.
//
// Threading: every function blocks the calling thread until done; the
// client's callbacks run on its own thread. Never call them from a client
// callback.

#include <sys/types.h>

#include <string>
#include <vector>

#include "bench/bench_floor.h"
#include "common/error.h"
#include "zk/client.h"

namespace zks::bench {

struct ReadRun {
  double seconds = 0;
  double client_cpu_s = 0;  // this process, user + system
  double server_cpu_s = 0;  // the server's JVM, user + system (0 when its pid is unknown)
  size_t nodes = 0;         // nodes answered (data or ACL)
  size_t requests = 0;      // requests sent (a multiRead is one)
  size_t payload_bytes = 0;
  double clientMicrosPerNode() const { return nodes ? client_cpu_s * 1e6 / static_cast<double>(nodes) : 0; }
  double serverMicrosPerNode() const { return nodes ? server_cpu_s * 1e6 / static_cast<double>(nodes) : 0; }
};

// user + system CPU seconds of process `pid` so far (/proc/<pid>/stat), -1
// when it cannot be read.
double processCpuSecondsOf(pid_t pid);

struct MultiReadShape {
  size_t batch = 200;    // getData ops per multiRead (the reconciler's read_batch_ops)
  size_t in_flight = 8;  // multiReads in flight (the reconciler's read_batches_in_flight)
};

// getData of every path: one request each, `window` outstanding.
Result<ReadRun> readPathsPipelined(zk::Client& client, const std::vector<std::string>& paths, size_t window,
                                   pid_t server_pid);
// getData of every path in multiRead batches.
Result<ReadRun> readPathsMulti(zk::Client& client, const std::vector<std::string>& paths, MultiReadShape shape,
                               pid_t server_pid);
// getACL of every path: one request each, `window` outstanding.
Result<ReadRun> readAclsPipelined(zk::Client& client, const std::vector<std::string>& paths, size_t window,
                                  pid_t server_pid);

struct MultiScan {
  ReadRun run;
  std::vector<ScannedNode> nodes;  // every node at or below the root (data only with keep_data)
};
// The whole tree below `root` with multiRead: getData in batches, then
// getChildren (batched too) of the nodes whose stat says they have children.
Result<MultiScan> scanTreeMulti(zk::Client& client, const std::string& root, bool keep_data, MultiReadShape shape,
                                pid_t server_pid);

}  // namespace zks::bench
