#pragma once

// The daemon's Prometheus series (SPEC 6), registered once at startup.
// Updated from the loop thread; read by the HTTP server's threads.

#include "metrics/registry.h"
#include "plan/change.h"
#include "zk/types.h"

namespace zks::daemon {

struct DaemonMetrics {
  explicit DaemonMetrics(metrics::Registry& r);

  void applied(plan::ChangeKind kind);
  metrics::Counter& reconciles(const std::string& reason);
  metrics::Histogram& reconcileSeconds(const std::string& reason);

  metrics::Registry& registry;
  metrics::Histogram& lag;
  metrics::Counter& creates;
  metrics::Counter& updates;
  metrics::Counter& deletes;
  metrics::Counter& acls;
  metrics::Counter& drift_corrections;
  metrics::Counter& mapping_failures;
  metrics::Counter& refused_writes;
  // zkstandby_watch_events_total{type}: created, deleted, data, children.
  metrics::Counter& events_created;
  metrics::Counter& events_deleted;
  metrics::Counter& events_data;
  metrics::Counter& events_children;
  void event(zk::EventType type);
  metrics::Gauge& primary_connected;
  metrics::Gauge& backup_connected;
  metrics::Gauge& leader;
  metrics::Gauge& role_active;
  metrics::Gauge& epoch;
  metrics::Gauge& queue_depth;
  metrics::Gauge& watches;
  metrics::Gauge& primary_nodes;
  metrics::Gauge& backup_nodes;
  metrics::Gauge& last_applied_zxid;
  metrics::Gauge& ready;
  metrics::Gauge& election_ok;
  metrics::Gauge& delete_guard_tripped;
  metrics::Gauge& last_full_reconcile_converged;
  metrics::Gauge& last_full_reconcile_timestamp;
  metrics::Gauge& reported_nodes;
  metrics::Gauge& unreadable_nodes;
  metrics::Gauge& parked_nodes;
  metrics::Gauge& counters_saved_timestamp;
  // Re-verification (a paced full pass trusting the index, after a
  // reconnect): running or not, and primary nodes it read.
  metrics::Gauge& reverify_running;
  metrics::Counter& reverify_nodes;
  // zkstandby_watch_mode{mode}: 1 for the mode in use (recursive, per_node).
  metrics::Gauge& mode_recursive;
  metrics::Gauge& mode_per_node;
};

}  // namespace zks::daemon
