#pragma once

// `zkstandby run`: the process around the Replicator. It connects both
// sites (retrying while they are unreachable), takes part in the leader
// election on the written site, takes the fence when elected, runs the
// Replicator while leader, serves /metrics /healthz /readyz, keeps the site
// state up to date, and handles signals: SIGTERM/SIGINT drain and exit 0,
// SIGHUP reloads the mapping.
//
// Threading: run() owns the calling thread as the loop thread; every client
// callback, election callback, timer and signal is posted to it.

#include <string>

namespace zks::daemon {

struct DaemonOptions {
  std::string config_file;
  bool reverse = false;
};

// Exit statuses (SPEC 1): 0 clean stop, 2 bad config, 3 fenced (the site was
// failed over, or forward mode while it is active), 1 deposed by another
// writer (the supervisor restarts it, and it rejoins the election), 4
// reverse mode while the backup's role is standby: failback was never
// started, or `resume` finished it (the supervisor must not restart it).
int runDaemon(const DaemonOptions& options);

}  // namespace zks::daemon
