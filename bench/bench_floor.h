#pragma once

// The raw floor of a full sync: what ZooKeeper and the C client can do with
// no replicator logic at all. A pipelined tree scan (getData on every node,
// getChildren only where numChildren > 0) and byte-bounded multi creates,
// with the same windows the product uses (4,096 reads outstanding, 8 multis
// in flight), so that zkstandby's time can be read as a multiple of it.
//
// Threading: both functions block the calling thread until done; the
// client's callbacks run on its own dispatcher thread. Never call them from
// a client callback.

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "zk/client.h"

namespace zks::bench {

struct ScannedNode {
  std::string path;
  std::string data;  // empty unless ScanOptions::keep_data
  zk::Stat stat;
};

struct ScanOptions {
  bool keep_data = false;   // keep payloads (for writing the same nodes later)
  bool read_acl = false;    // also getAcl every node, as `acls: copy` does
  size_t window = 4096;     // reads outstanding at once (the reconciler's max_outstanding_reads)
};

// CPU seconds (user + system) this process used so far: the floor's own
// client-side cost, to compare with zkstandby's.
double processCpuSeconds();

struct TreeScan {
  double seconds = 0;
  double cpu_seconds = 0;  // this process's CPU time during the scan
  size_t requests = 0;
  size_t payload_bytes = 0;
  std::vector<ScannedNode> nodes;  // every node at or below the root, in no particular order
};

// Reads every node at or below `root`. A missing root gives an empty scan;
// any other error answer fails the scan.
Result<TreeScan> scanTree(zk::Client& client, const std::string& root, const ScanOptions& options);

struct WriteOptions {
  size_t max_request_bytes = 1024 * 1024 - 4096;  // the product's sync.max_request_bytes
  size_t max_ops = 1000;                           // the applier's max_ops_per_batch
  size_t in_flight = 8;                            // the applier's max_batches_in_flight
};

struct TreeWrite {
  double seconds = 0;
  double cpu_seconds = 0;
  size_t requests = 0;
};

// Creates `nodes` (sorted so that parents precede children) on an empty
// target with pipelined multi requests.
Result<TreeWrite> writeNodes(zk::Client& client, const std::vector<ScannedNode>& nodes, const WriteOptions& options);

// Sorts nodes by path: a parent's path is a prefix of its child's, so it
// sorts first.
void sortByPath(std::vector<ScannedNode>& nodes);

}  // namespace zks::bench
