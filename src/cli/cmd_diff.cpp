// `zkstandby diff`: what sync would do, writing nothing anywhere.
#include <cstdio>

#include "cli/command.h"
#include "cli/diff_format.h"
#include "cli/reconcile_common.h"
#include "cli/sync_run.h"
#include "mapping/path.h"

namespace zks::cli {
namespace {

struct DiffArgs {
  std::string config_file;
  std::string format = "text";
  std::string path;
  bool reverse = false;
  bool show_secrets = false;
};

// 0 in sync; 4 in sync except nodes reported as unreplicable (a mapping
// failure, an ACL the primary redacted, a node the replicator may not read,
// a delete blocked or a path held by a standby-site ephemeral: `sync`
// cannot change them either); 1 when sync would write or could not settle
// something (the delete guard, path collisions).
int diffExitStatus(const std::vector<plan::Change>& shown, bool guard_tripped) {
  bool differences = guard_tripped;
  bool reported = false;
  for (const auto& c : shown) {
    if (c.reported) reported = true;
    else differences = true;
  }
  if (differences) return kExitNotConverged;
  return reported ? kExitReportedNodes : kExitOk;
}

int runDiff(const DiffArgs& args) {
  auto engine = loadEngine(args.config_file, args.reverse);
  if (!engine) return kExitError;
  auto redactor = makeRedactor(engine->config, args.show_secrets);
  if (!redactor) return kExitError;
  auto sites = connectOrExplain(*engine);
  if (!sites) return kExitError;
  auto options = engine->options;
  options.dry_run = true;
  options.mapper = engine->explaining_mapper;
  ProgressReporter progress("diff");
  if (args.format == "text") progress.attach(options);
  auto result = reconcile::reconcileUntilStable(*sites->read, *sites->write, options, 1);
  progress.finish();  // a clean line for what follows
  const auto& report = result.report;
  if (report.error) {
    std::fprintf(stderr, "zkstandby: error: %s\n", report.error->describe().c_str());
    return kExitError;
  }
  std::vector<plan::Change> shown;
  for (const auto& c : report.changes) {
    if (args.path.empty() || mapping::isUnder(c.path, args.path) || mapping::isUnder(c.source_path, args.path)) {
      shown.push_back(c);
    }
  }
  DiffSummary summary = summarize(shown);
  summary.guard_tripped = report.guard_tripped;
  summary.guard_reason = report.guard_reason;
  summary.primary_nodes = report.primary_nodes;
  summary.backup_nodes = report.backup_nodes;
  const std::string out =
      args.format == "json" ? formatDiffJson(shown, summary, *redactor) : formatDiffText(shown, summary, *redactor);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (args.format == "text") std::printf("%s\n", summaryLine(summary, "diff: ").c_str());
  return diffExitStatus(shown, report.guard_tripped);
}

}  // namespace

Action addDiffCommand(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  auto* sub = app.add_subcommand("diff", "dry run: what sync would do, writing nothing anywhere");
  sub->add_option("-c,--config", args->config_file, "config file")->required();
  sub->add_option("--format", args->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("--path", args->path, "show only changes at or below this path (primary or backup)");
  sub->add_flag("--reverse", args->reverse, "compare backup -> primary through the inverse mapping (failback)");
  sub->add_flag("--show-secrets", args->show_secrets,
                "print digest ACL hashes and secret payloads as they are (redacted by default)");
  return [args] { return runDiff(*args); };
}

}  // namespace zks::cli
