// `zkstandby failover`: fences every replicator and marks the backup site
// active (SPEC.md section 5). Needs only the backup: it never connects to the
// primary unless --final-sync asks for one last reconcile.

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/reconcile_common.h"
#include "cli/state_common.h"
#include "cli/sync_run.h"
#include "state/failover.h"
#include "state/identity.h"
#include "state/status.h"

namespace zks::cli {
namespace {

struct FailoverArgs {
  std::string config_file;
  std::string reason;
  bool final_sync = false;
  bool yes = false;
};

// --final-sync: one last forward sync from the primary, if it can be
// reached within its connect timeout. An unreachable primary is the usual
// case of a disaster: the failover goes on and the report says so.
state::FinalSyncHook finalSyncHook(const config::Config& config) {
  const std::string file = config.file.string();
  return [file]() -> Result<std::string> {
    auto engine = loadEngine(file, false);
    if (!engine) return fail(ErrorCode::kInvalidArgument, "config or mapping problems (printed above)", file);
    auto sites = reconcile::connectSites(engine->config, false);
    if (!sites) return std::string("skipped: ") + sites.error().describe();
    auto outcome = syncBehindFence(*engine, *sites, false, "final-sync");
    if (outcome.exit_code == kExitFenced) return fail(ErrorCode::kFenced, outcome.summary);
    return outcome.summary;
  };
}

void printReport(const state::FailoverReport& r, const BackupSession& session, const FailoverArgs& args,
                 const state::LiveFigures& live_before) {
  const int64_t now = nowMs();
  const auto& after = r.after;
  if (r.already_active) {
    std::printf("Backup site %s was already ACTIVE (epoch %lld, since %s by %s): nothing changed.\n",
                session.config.backup.connect.c_str(), static_cast<long long>(after.epoch),
                state::formatTime(after.role_changed_ms).c_str(), after.role_changed_by.c_str());
  } else {
    std::printf("Failover done: backup site %s is now ACTIVE.\n", session.config.backup.connect.c_str());
  }
  auto row = [](const char* label, const std::string& value) { std::printf("  %-27s %s\n", label, value.c_str()); };
  if (!r.already_active) {
    row("epoch:", std::to_string(r.before.epoch) + " -> " + std::to_string(after.epoch));
    row("history record:", r.history_node.empty() ? "(not found)" : r.history_node);
  }
  const int64_t zxid = r.already_active ? after.last_applied_zxid : r.before.last_applied_zxid;
  const int64_t full = r.already_active ? after.last_full_sync_ms : r.before.last_full_sync_ms;
  row("last applied primary zxid:",
      zxid > 0 ? state::formatZxid(zxid) + "  (every primary change up to this zxid is on this site; later ones may be missing)"
               : "none recorded (the daemon never applied a change here)");
  row("last full sync:", full > 0 ? state::formatTime(full) + "  (" + state::formatAge(full, now) + " ago)" : "never");
  if (!r.already_active) {
    std::string pending;
    if (live_before.endpoint.empty()) {
      pending = "unknown (http endpoint disabled)";
    } else if (!live_before.reachable) {
      pending = "unknown (daemon endpoint not reachable: " + live_before.problem + ")";
    } else {
      for (const auto& [series, value] : live_before.metrics) {
        if (series.find("queue") != std::string::npos || series.find("backlog") != std::string::npos) {
          pending += (pending.empty() ? "" : ", ") + series + "=" + value;
        }
      }
      if (pending.empty()) pending = "not exported by the daemon";
    }
    row("pending in the daemon:", pending);
  }
  row("final sync:", args.final_sync && !r.final_sync.empty() ? r.final_sync : "not run");
  std::string counters;
  if (r.raise) {
    counters = state::summarizeRaise(*r.raise);
    if (r.counters_saved_ms > 0) counters += "  (saved " + state::formatAge(r.counters_saved_ms, now) + " before)";
  } else {
    counters = "not raised";
  }
  row("sequence counters:", counters);
  for (const auto& w : r.warnings) row("warning:", w);
  if (!r.raise_error.empty()) row("PROBLEM:", r.raise_error);
  if (!r.already_active) {
    row("replicators:", "fenced: each daemon's next write is refused and it exits with status 3");
  }
  if (r.complete()) std::printf("Next: point the applications at the standby site.\n");
}

int runFailoverCommand(const FailoverArgs& args) {
  // Refuse --final-sync before touching anything when this build cannot do it.
  std::optional<BackupSession> session = openBackup(args.config_file);
  if (!session) return kExitError;
  state::FinalSyncHook final_sync;
  if (args.final_sync) {
    final_sync = finalSyncHook(session->config);
    if (!final_sync) {
      std::fprintf(stderr, "zkstandby: error: --final-sync is not available in this build; nothing changed\n");
      return kExitError;
    }
  }
  const std::string& state_path = session->config.state_path;
  auto stored = state::readState(*session->client, state_path);
  if (!stored) {
    std::fprintf(stderr, "zkstandby: error: %s\n", stored.error().describe().c_str());
    return kExitError;
  }
  const auto& st = stored->state;
  const int64_t now = nowMs();
  const std::string question =
      "This fences every replicator writing into " + session->config.backup.connect +
      " and marks that site ACTIVE.\n  current role " + std::string(state::roleName(st.role)) + ", epoch " +
      std::to_string(st.epoch) + ", last applied primary zxid " + state::formatZxid(st.last_applied_zxid) +
      ", last full sync " + state::formatAge(st.last_full_sync_ms, now) + (st.last_full_sync_ms > 0 ? " ago" : "") +
      "\n  Forward replication stays refused until `zkstandby resume`.";
  switch (askConsent(question, args.yes)) {
    case Consent::kGiven: break;
    case Consent::kDeclined:
      std::fprintf(stderr, "zkstandby: failover cancelled; nothing changed\n");
      return kExitError;
    case Consent::kNoTerminal:
      std::fprintf(stderr, "zkstandby: error: failover needs confirmation: run it on a terminal or pass --yes\n");
      return kExitError;
  }

  // What the daemon still had queued is lost with the primary; ask it before
  // the fence stops it. A short timeout: this must not delay a failover.
  const state::LiveFigures live_before = fetchLiveFigures(session->config, std::chrono::milliseconds(500));

  state::FailoverOptions options{.state_path = state_path,
                                 .reason = args.reason,
                                 .who = state::operatorIdentity(),
                                 .now_ms = nowMs(),
                                 .final_sync = final_sync};
  options.raise.max_request_bytes = session->config.sync.max_request_bytes;
  // Every replicated sequential name on the backup counts, saved or not.
  for (const auto& root : session->config.sync.roots) {
    options.raise.scan_roots.push_back(root.target.empty() ? root.source : root.target);
  }
  // The final sync takes the fence under this identity (sync_run.cpp: who
  // "final-sync" @ this process), and the lease is held for it.
  options.final_sync_holder = "final-sync@" + state::processIdentity();
  options.raise.progress = [](const state::RaiseProgress& p) {
    std::fprintf(stderr, "zkstandby: raising sequence counters: %zu/%zu parents read, %lld pairs written\n",
                 p.parents_checked, p.parents_total, static_cast<long long>(p.pairs_written));
  };
  options.raise.progress_every = std::chrono::milliseconds(2000);
  auto report = state::runFailover(*session->client, options);
  if (!report) {
    std::fprintf(stderr, "zkstandby: error: failover failed, nothing changed: %s\n", report.error().describe().c_str());
    return kExitError;
  }
  printReport(*report, *session, args, live_before);
  if (!report->complete()) {
    std::fprintf(stderr,
                 "zkstandby: error: the site is ACTIVE (epoch %lld) but the sequence counters are not all raised; "
                 "run `zkstandby failover -c %s --yes` again to finish\n",
                 static_cast<long long>(report->after.epoch), args.config_file.c_str());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

Action addFailoverCommand(CLI::App& app) {
  auto args = std::make_shared<FailoverArgs>();
  auto* sub = app.add_subcommand("failover", "fence every replicator and mark the backup site active");
  sub->add_option("-c,--config", args->config_file, "configuration file")->required();
  sub->add_option("--reason", args->reason, "why, recorded in the failover history");
  sub->add_flag("--final-sync", args->final_sync, "run one last reconcile from the primary first");
  sub->add_flag("--yes", args->yes, "do not ask for confirmation");
  return [args] { return runFailoverCommand(*args); };
}

}  // namespace zks::cli
