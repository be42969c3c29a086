#pragma once

// Issue 11's measures around the daemon rather than its load:
//  - topic create and delete lag among many siblings: one topic at a time
//    is created on the primary, then deleted, and each change is timed from
//    the primary's acknowledgement to the backup's watch event for it (a
//    session of its own on the backup, one-shot exists watches);
//  - the primary server's live heap (jcmd <pid> GC.run, then GC.heap_info);
//  - the watches a server holds (4lw wchs).
//
// Threading: blocking calls for the benchmark's main thread.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "zk/client.h"

namespace zks::bench {

struct SiblingLag {
  std::vector<double> create_ms;  // primary ack -> NodeCreated on the backup
  std::vector<double> delete_ms;  // primary ack -> NodeDeleted on the backup
  size_t lost = 0;                // changes not seen on the backup within 10 s
};
// `count` topics dir/bench_sibling_<i>, created and deleted one after the
// other through `primary`; `payload` must map (a ZMS topic payload).
SiblingLag measureSiblingLag(zk::Client& primary, const std::string& backup_connect, const std::string& dir,
                             size_t count, const std::string& payload);

// Live heap of a JVM after a full collection, in MiB (jcmd GC.run, then
// GC.heap_info's "used"). Nothing when jcmd fails.
std::optional<double> jvmLiveHeapMb(pid_t pid);

// From a server's wchs answer: paths watched and watches in total.
struct WatchCount {
  long long paths = -1, watches = -1;
};
WatchCount parseWchs(const std::string& wchs);

}  // namespace zks::bench
