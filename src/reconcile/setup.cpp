#include "reconcile/setup.h"

#include <spdlog/spdlog.h>

#include <malloc.h>

#include <future>

#include "mapping/glob.h"
#include "mapping/path.h"
#include "reconcile/mapping_adapter.h"
#include "reconcile/read_sessions.h"

namespace zks::reconcile {

namespace {

// `path` under `from` moved to the same place under `to`; "" when not under it.
std::string swapRoot(const std::string& path, const std::string& from, const std::string& to) {
  if (!mapping::isUnder(path, from)) return {};
  if (path.size() == from.size()) return to;
  if (from == "/") return to == "/" ? path : to + path;
  return (to == "/" ? "" : to) + path.substr(from.size());
}

plan::Policies policiesOf(const config::SyncConfig& s) {
  plan::Policies p;
  p.ephemerals = s.ephemerals == config::EphemeralPolicy::kPersist ? plan::EphemeralPolicy::kPersist
                                                                   : plan::EphemeralPolicy::kSkip;
  p.acls = s.acls == config::AclPolicy::kCopy   ? plan::AclPolicy::kCopy
           : s.acls == config::AclPolicy::kOpen ? plan::AclPolicy::kOpen
                                                : plan::AclPolicy::kKeepBackup;
  p.deletes = s.deletes == config::DeletePolicy::kKeep ? plan::DeletePolicy::kKeep : plan::DeletePolicy::kPropagate;
  return p;
}

}  // namespace

std::expected<Engine, std::vector<std::string>> buildEngine(config::Config config, bool reverse) {
  std::vector<std::string> problems;
  auto excludes = mapping::GlobSet::compile(config.sync.exclude);
  if (!excludes) problems.push_back(config.file.string() + ": sync.exclude: " + excludes.error().describe());
  auto mapper = makeNodeMappers(config, reverse);
  if (!mapper) {
    for (auto& p : mapper.error()) problems.push_back(std::move(p));
  }
  if (!problems.empty()) return std::unexpected(std::move(problems));

  Engine engine;
  engine.reverse = reverse;
  if (reverse) std::swap(engine.read_site, engine.write_site);
  auto& o = engine.options;
  for (const auto& r : config.sync.roots) {
    const std::string target = r.target.empty() ? r.source : r.target;
    o.roots.push_back(reverse ? Root{target, r.source} : Root{r.source, target});
  }
  o.mapper = mapper->fast;
  engine.explaining_mapper = mapper->explaining;
  o.policies = policiesOf(config.sync);
  o.max_delete_fraction = config.sync.max_delete_fraction;
  o.applier.max_request_bytes = config.sync.max_request_bytes;
  o.applier.max_ops_per_s = config.sync.max_write_ops_per_s;

  // Excludes are written on primary paths. A path of the backup side is
  // judged by its place under the primary root it came from.
  auto globs = std::make_shared<mapping::GlobSet>(std::move(*excludes));
  auto roots = std::make_shared<std::vector<config::RootConfig>>(config.sync.roots);
  const std::string state_path = config.state_path;
  auto on_primary = [globs](const std::string& p) { return globs->matchesSelfOrAncestor(p); };
  auto on_backup = [globs, roots](const std::string& b) {
    for (const auto& r : *roots) {
      auto p = swapRoot(b, r.target.empty() ? r.source : r.target, r.source);
      if (!p.empty() && globs->matchesSelfOrAncestor(p)) return true;
    }
    return false;
  };
  auto state_guard = [state_path](const std::string& p) { return mapping::isUnder(p, state_path); };
  if (!reverse) {
    o.excluded_primary = on_primary;
    o.protected_backup = [on_backup, state_guard](const std::string& b) { return state_guard(b) || on_backup(b); };
  } else {
    o.excluded_primary = [on_backup, state_guard](const std::string& b) { return state_guard(b) || on_backup(b); };
    o.protected_backup = [on_primary, state_guard](const std::string& p) { return state_guard(p) || on_primary(p); };
  }
  engine.config = std::move(config);
  return engine;
}

namespace {

// The site's client: one session, or with max_read_sessions > 1 that many,
// the extra ones only for getACL (ReadSessions).
std::unique_ptr<zk::Client> siteClient(const config::SiteConfig& site, const zk::ConnectOptions& options) {
  auto main = zk::makeClient(options);
  if (site.max_read_sessions <= 1) return main;
  std::vector<std::unique_ptr<zk::Client>> extra;
  for (int i = 1; i < site.max_read_sessions; ++i) {
    auto o = options;
    o.name = options.name + "-read" + std::to_string(i);
    extra.push_back(zk::makeClient(o));
  }
  return std::make_unique<ReadSessions>(std::move(main), std::move(extra));
}

}  // namespace

void keepLargeBuffersOutOfTheHeap() {
  // glibc raises its mmap threshold to the size of each large block freed
  // (up to 32 MiB), so after the first big listing every later reply
  // buffer, decoded name list and frame comes from the heaps of the client
  // and loop threads, which hand little back: at 1M znodes that was 20 to
  // 40 MB of peak RSS more, varying from run to run. A fixed threshold
  // keeps blocks of 128 KiB and more in their own mappings, returned to the
  // system when freed.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

Result<Sites> connectSites(const config::Config& config, bool reverse) {
  keepLargeBuffersOutOfTheHeap();
  auto primary_options = config::connectOptions(config.primary, "primary");
  if (!primary_options) return std::unexpected(primary_options.error());
  auto backup_options = config::connectOptions(config.backup, "backup");
  if (!backup_options) return std::unexpected(backup_options.error());
  auto primary = siteClient(config.primary, *primary_options);
  auto backup = siteClient(config.backup, *backup_options);
  auto open = [](zk::Client* c, std::chrono::milliseconds t) { return c->reopen(t); };
  auto p = std::async(std::launch::async, open, primary.get(), primary_options->connect_timeout);
  auto b = std::async(std::launch::async, open, backup.get(), backup_options->connect_timeout);
  auto pr = p.get();
  auto br = b.get();
  if (!pr) return std::unexpected(Error{pr.error().code, "primary: " + pr.error().message, pr.error().path});
  if (!br) return std::unexpected(Error{br.error().code, "backup: " + br.error().message, br.error().path});
  Sites sites;
  sites.read = std::move(reverse ? backup : primary);
  sites.write = std::move(reverse ? primary : backup);
  return sites;
}

PassesSummary reconcileUntilStable(zk::Client& read, zk::Client& write, const ReconcileOptions& options,
                                   int max_passes) {
  PassesSummary summary;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 1; pass <= max_passes; ++pass) {
    EventLoop loop;
    Reconciler reconciler(loop, read, write, options);
    reconciler.start();
    loop.runUntil([&] { return reconciler.done(); });
    summary.report = reconciler.report();
    summary.passes = pass;
    summary.writes += summary.report.applied.writes();
    if (!summary.report.needsAnotherPass()) break;
    spdlog::info("pass {}: {} writes refused, {} with unknown outcome; re-reading", pass, summary.report.refused,
                 summary.report.unknown);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace zks::reconcile
