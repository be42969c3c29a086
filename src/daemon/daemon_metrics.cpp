#include "daemon/daemon_metrics.h"

namespace zks::daemon {

namespace {
constexpr const char* kOps = "zkstandby_ops_applied_total";
constexpr const char* kOpsHelp = "Writes applied to the backup, by kind";
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
                                  "Writes an audit made because the backup had drifted from map(primary)")),
      mapping_failures(r.counter("zkstandby_mapping_failures_total",
                                 "Primary nodes that could not be mapped (not replicated until they change)")),
      refused_writes(r.counter("zkstandby_writes_unresolved_total",
                               "Writes refused or with unknown outcome, re-read and re-planned")),
      events(r.counter("zkstandby_watch_events_total", "Watch events received from the primary")),
      primary_connected(r.gauge("zkstandby_session_connected", "1 while the session to a site is connected",
                                {{"site", "primary"}})),
      backup_connected(r.gauge("zkstandby_session_connected", "1 while the session to a site is connected",
                               {{"site", "backup"}})),
      leader(r.gauge("zkstandby_leader", "1 while this daemon is the elected writer")),
      role_active(r.gauge("zkstandby_role_active", "1 when the backup site's role is active (failed over)")),
      epoch(r.gauge("zkstandby_epoch", "The site state's epoch")),
      queue_depth(r.gauge("zkstandby_queue_depth", "Primary paths waiting to be replicated plus writes in flight")),
      watches(r.gauge("zkstandby_watches", "Primary nodes watched (data and child watches)")),
      primary_nodes(r.gauge("zkstandby_nodes", "Replicated nodes per site at the last full reconcile",
                            {{"site", "primary"}})),
      backup_nodes(r.gauge("zkstandby_nodes", "Replicated nodes per site at the last full reconcile",
                           {{"site", "backup"}})),
      last_applied_zxid(r.gauge("zkstandby_last_applied_zxid", "Highest primary zxid applied to the backup")),
      ready(r.gauge("zkstandby_ready", "1 while /readyz answers 200")) {}

void DaemonMetrics::applied(plan::ChangeKind kind) {
  switch (kind) {
    case plan::ChangeKind::kCreate: creates.inc(); break;
    case plan::ChangeKind::kUpdate: updates.inc(); break;
    case plan::ChangeKind::kDelete: deletes.inc(); break;
    case plan::ChangeKind::kSetAcl: acls.inc(); break;
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
