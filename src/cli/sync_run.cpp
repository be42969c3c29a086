#include "cli/sync_run.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "cli/command.h"
#include "cli/diff_format.h"
#include "cli/reconcile_common.h"
#include "state/counters.h"
#include "state/identity.h"
#include "state/store.h"

namespace zks::cli {

namespace {
int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

SyncOutcome syncBehindFence(const reconcile::Engine& engine, reconcile::Sites& sites, bool allow_mass_delete,
                            const std::string& who) {
  const auto& state_path = engine.config.state_path;
  zk::Client& writer = *sites.write;
  if (auto s = state::ensureLayout(writer, state_path); !s) {
    return {kExitError, "zkstandby: error: " + s.error().describe()};
  }
  // Reverse writers fence on the rebuilt primary, and only while the
  // backup (the site read) is active: `resume` stops them.
  const std::string identity = who + "@" + state::processIdentity();
  auto token = engine.reverse ? state::acquireReverseFence(writer, *sites.read, state_path, identity)
                              : state::acquireFence(writer, state_path, identity, state::FenceMode::kForward);
  if (!token) {
    if (engine.reverse && token.error().code == ErrorCode::kFenced) {
      return {kExitError, "zkstandby: refused: " + token.error().describe()};
    }
    if (token.error().code == ErrorCode::kFenced) {
      return {kExitFenced, "zkstandby: refused: " + token.error().describe()};
    }
    return {kExitError, "zkstandby: error: " + token.error().describe()};
  }

  auto options = engine.options;
  options.allow_mass_delete = allow_mass_delete;
  options.applier.prefix = {state::fenceCheckOp(*token)};
  state::Counters counters;
  if (!engine.reverse) {
    options.on_replicated_node = [&counters](const std::string& backup_path, const zk::Stat& stat) {
      if (stat.cversion > 0 || stat.num_children > 0) counters[backup_path] = state::nextSequence(stat);
    };
  }
  auto passes = [&] {
    ProgressReporter progress(who);
    progress.attach(options);
    return reconcile::reconcileUntilStable(*sites.read, writer, options);
  }();
  const auto& report = passes.report;

  if (report.fenced && engine.reverse) {
    auto loss = state::explainReverseFenceLoss(*sites.read, state_path);
    if (loss && *loss == state::ReverseFenceLoss::kFailbackOver) {
      return {kExitError, "zkstandby: stopped: `zkstandby resume` returned the backup to standby during this sync"};
    }
    return {kExitNotConverged, "zkstandby: stopped: another reverse replicator took the fence during this sync"};
  }
  if (report.fenced) {
    auto loss = state::explainFenceLoss(writer, state_path);
    if (loss && *loss == state::FenceLoss::kFailedOver) {
      return {kExitFenced, "zkstandby: stopped: the backup site was failed over during this sync"};
    }
    return {kExitNotConverged, "zkstandby: stopped: another replicator took the fence during this sync"};
  }
  for (const auto& c : report.changes) {
    std::string line = std::string(c.reported ? "reported " : "") + std::string(plan::changeKindName(c.kind)) + " " +
                       c.path + ": " + c.reason;
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (report.error) {
    return {kExitError, "zkstandby: error: " + report.error->describe()};
  }
  const auto result = report.result();
  const size_t reported = report.reportedNodes();
  if (!engine.reverse) {
    const int64_t now = nowMillis();
    auto updated = state::updateState(writer, state_path, *token, [&](state::SiteState& s) {
      s.last_full_reconcile_ms = now;
      s.last_full_reconcile_result = std::string(reconcile::resultName(result));
      s.reported_nodes = static_cast<int64_t>(reported);
      s.updated_ms = now;
      if (result != reconcile::ReconcileResult::kNotConverged) {
        s.last_full_sync_ms = now;
        // Every node was read after its root's answer, so a pass that
        // wrote everything it planned holds every change up to the roots'
        // zxid (a sync sets no watches: the later zxids it read prove
        // nothing about nodes read before them).
        s.last_applied_zxid = std::max(s.last_applied_zxid, report.root_zxid);
      }
    });
    if (!updated) spdlog::warn("could not record the sync in the site state: {}", updated.error().describe());
    if (auto saved = state::saveCounters(writer, state_path, counters, *token, nowMillis()); !saved) {
      spdlog::warn("could not save the sequence counters: {}", saved.error().describe());
    }
  }

  std::ostringstream line;
  line << who << ": "
       << (result == reconcile::ReconcileResult::kConverged                 ? "converged"
           : result == reconcile::ReconcileResult::kConvergedExceptReported ? "converged except reported nodes"
                                                                            : "NOT converged")
       << ": " << report.applied.created << " created, " << report.applied.updated << " updated, "
       << report.applied.acls_set << " ACLs set, " << report.applied.deleted << " deleted; " << report.primary_nodes
       << " " << engine.read_site << " nodes in " << std::fixed;
  line.precision(2);
  line << passes.seconds << " s (" << passes.passes << (passes.passes == 1 ? " pass)" : " passes)");
  if (report.guard_tripped) line << "; " << report.guard_reason;
  if (reported) line << "; " << reported << " reported nodes (listed above)";
  if (report.conflicts) line << "; " << report.conflicts << " conflicts";
  if (report.refused || report.unknown) line << "; " << report.refused + report.unknown << " writes unresolved";
  const int code = result == reconcile::ReconcileResult::kConverged                 ? kExitOk
                   : result == reconcile::ReconcileResult::kConvergedExceptReported ? kExitReportedNodes
                                                                                    : kExitNotConverged;
  return {code, line.str()};
}

}  // namespace zks::cli
