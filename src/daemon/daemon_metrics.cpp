#include "daemon/daemon_metrics.h"

namespace zks::daemon {

namespace {
constexpr const char* kOps = "zkstandby_ops_applied_total";
constexpr const char* kOpsHelp = "Writes applied to the backup, by kind";
constexpr const char* kEvents = "zkstandby_watch_events_total";
constexpr const char* kEventsHelp =
    "Watch events received from the primary, by type (children: per-node mode only; ignored in recursive mode)";
constexpr const char* kMode = "zkstandby_watch_mode";
constexpr const char* kModeHelp =
    "1 for the way the primary is watched: recursive (one persistent recursive watch per root) or per_node";
}  // namespace

DaemonMetrics::DaemonMetrics(metrics::Registry& r)
    : registry(r),
      lag(r.histogram("zkstandby_replication_lag_seconds",
                      "Time from a primary change (its mtime) to its apply on the backup", metrics::kLagBuckets)),
      creates(r.counter(kOps, kOpsHelp, {{"kind", "create"}})),
      updates(r.counter(kOps, kOpsHelp, {{"kind", "update"}})),
      deletes(r.counter(kOps, kOpsHelp, {{"kind", "delete"}})),
      acls(r.counter(kOps, kOpsHelp, {{"kind", "set_acl"}})),
      drift_corrections(r.counter("zkstandby_drift_corrections_total",
                                  "Writes an audit made because the backup differed from what the replicator had "
                                  "written for a primary node unchanged since (not primary changes it found)")),
      mapping_failures(r.counter("zkstandby_mapping_failures_total",
                                 "Primary nodes whose payload or path could not be mapped (not replicated until they "
                                 "change)")),
      refused_writes(r.counter("zkstandby_writes_unresolved_total",
                               "Writes refused or with unknown outcome, re-read and re-planned")),
      events_created(r.counter(kEvents, kEventsHelp, {{"type", "created"}})),
      events_deleted(r.counter(kEvents, kEventsHelp, {{"type", "deleted"}})),
      events_data(r.counter(kEvents, kEventsHelp, {{"type", "data"}})),
      events_children(r.counter(kEvents, kEventsHelp, {{"type", "children"}})),
      primary_connected(r.gauge("zkstandby_session_connected", "1 while the session to a site is connected",
                                {{"site", "primary"}})),
      backup_connected(r.gauge("zkstandby_session_connected", "1 while the session to a site is connected",
                               {{"site", "backup"}})),
      leader(r.gauge("zkstandby_leader", "1 while this daemon is the elected writer")),
      role_active(r.gauge("zkstandby_role_active", "1 when the backup site's role is active (failed over)")),
      epoch(r.gauge("zkstandby_epoch", "The site state's epoch")),
      queue_depth(r.gauge("zkstandby_queue_depth",
                          "Writes not yet on the backup: primary paths waiting to be read (one write each at "
                          "least) plus planned writes being batched, queued or in flight")),
      watches(r.gauge("zkstandby_watches",
                      "Watches this daemon holds on the primary: one per root in recursive mode, about one data "
                      "and one child watch per node in per-node mode")),
      primary_nodes(r.gauge("zkstandby_nodes", "Replicated nodes per site at the last full reconcile",
                            {{"site", "primary"}})),
      backup_nodes(r.gauge("zkstandby_nodes", "Replicated nodes per site at the last full reconcile",
                           {{"site", "backup"}})),
      last_applied_zxid(r.gauge("zkstandby_last_applied_zxid",
                                "Low watermark: every primary change at or below this zxid is on the backup "
                                "(except reported nodes and ACL-only changes since the last audit)")),
      ready(r.gauge("zkstandby_ready", "1 while /readyz answers 200")),
      election_ok(r.gauge("zkstandby_election_ok",
                          "1 while this daemon takes part in the leader election normally, 0 while it backs off "
                          "after an election error")),
      delete_guard_tripped(r.gauge("zkstandby_delete_guard_tripped",
                                   "1 while the last full reconcile's delete guard held back its deletes")),
      last_full_reconcile_converged(r.gauge("zkstandby_last_full_reconcile_converged",
                                            "1 when the last full reconcile converged (reported nodes allowed)")),
      last_full_reconcile_timestamp(r.gauge("zkstandby_last_full_reconcile_timestamp_seconds",
                                            "Unix time of the end of the last converged full reconcile (reported "
                                            "nodes allowed); 0 never")),
      reported_nodes(r.gauge("zkstandby_reported_nodes",
                             "Nodes reported as unreplicable by the last full reconcile")),
      unreadable_nodes(r.gauge("zkstandby_unreadable_nodes",
                               "Primary nodes the replicator may not read (no auth): found by the last full reconcile "
                               "and by the node passes since")),
      parked_nodes(r.gauge("zkstandby_parked_nodes",
                           "Nodes parked after a write refused for good, until their primary node changes")),
      counters_saved_timestamp(r.gauge("zkstandby_counters_saved_timestamp_seconds",
                                       "Unix time of the last successful save of the sequence counters; 0 never")),
      reverify_running(r.gauge("zkstandby_reverify_running",
                               "1 while a re-verification runs: every full pass after a leadership's first (a "
                               "reconnect, a new session, an audit, a reload, a retry), paced beside live events")),
      reverify_nodes(r.counter("zkstandby_reverify_nodes_total", "Primary nodes read by re-verifications")),
      mode_recursive(r.gauge(kMode, kModeHelp, {{"mode", "recursive"}})),
      mode_per_node(r.gauge(kMode, kModeHelp, {{"mode", "per_node"}})) {
  election_ok.set(1);
}

void DaemonMetrics::applied(plan::ChangeKind kind) {
  switch (kind) {
    case plan::ChangeKind::kCreate: creates.inc(); break;
    case plan::ChangeKind::kUpdate: updates.inc(); break;
    case plan::ChangeKind::kDelete: deletes.inc(); break;
    case plan::ChangeKind::kSetAcl: acls.inc(); break;
    default: break;
  }
}

void DaemonMetrics::event(zk::EventType type) {
  switch (type) {
    case zk::EventType::kCreated: events_created.inc(); break;
    case zk::EventType::kDeleted: events_deleted.inc(); break;
    case zk::EventType::kDataChanged: events_data.inc(); break;
    case zk::EventType::kChildrenChanged: events_children.inc(); break;
    default: break;
  }
}

metrics::Counter& DaemonMetrics::reconciles(const std::string& reason) {
  return registry.counter("zkstandby_reconciles_total", "Full reconciles, by what started them", {{"reason", reason}});
}

metrics::Histogram& DaemonMetrics::reconcileSeconds(const std::string& reason) {
  return registry.histogram("zkstandby_reconcile_duration_seconds", "Duration of full reconciles",
                            metrics::kDurationBuckets, {{"reason", reason}});
}

}  // namespace zks::daemon
