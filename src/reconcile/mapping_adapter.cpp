#include "reconcile/mapping_adapter.h"

#include "mapping/mapping_set.h"

namespace zks::reconcile {

namespace {

NodeMapper wrap(std::shared_ptr<const mapping::MappingSet> set, bool explain) {
  // One result buffer per mapper: a mapper is called from one loop thread.
  auto buffer = std::make_shared<mapping::MapResult>();
  return [set, explain, buffer](const std::string& path, const std::string& data) {
    auto& r = *buffer;
    set->map(path, data, r, explain);
    MappedNode node;
    node.path = r.path;
    switch (r.outcome) {
      case mapping::Outcome::kMapped:
        node.data = r.data;
        for (const auto& c : r.changes) node.fields.push_back({c.field, c.before, c.after});
        break;
      case mapping::Outcome::kNotReplicated:
        node.replicated = false;
        node.failure = r.reason;
        break;
      case mapping::Outcome::kFailed:
        node.failure = r.reason.empty() ? std::string(mapping::failureKindName(r.failure)) : r.reason;
        break;
    }
    return node;
  };
}

}  // namespace

std::expected<Mappers, std::vector<std::string>> makeNodeMappers(const config::Config& config, bool reverse) {
  std::vector<std::string> problems;
  auto loaded = mapping::loadMappingFiles(config.mapping.files);
  if (!loaded) {
    for (const auto& p : loaded.error()) problems.push_back(p.describe());
    return std::unexpected(std::move(problems));
  }
  std::vector<mapping::Root> roots;
  for (const auto& r : config.sync.roots) roots.push_back({r.source, r.target.empty() ? r.source : r.target});
  auto scoped = loaded->withScope(std::move(roots), config.sync.exclude);
  if (!scoped) {
    problems.push_back(config.file.string() + ": " + scoped.error().describe());
    return std::unexpected(std::move(problems));
  }
  mapping::MappingSet set = std::move(*scoped);
  if (reverse) {
    auto inverse = set.inverse();
    if (!inverse) {
      for (const auto& p : inverse.error()) problems.push_back(p.describe() + " (needed by --reverse)");
      return std::unexpected(std::move(problems));
    }
    set = std::move(*inverse);
  }
  auto shared = std::make_shared<const mapping::MappingSet>(std::move(set));
  return Mappers{wrap(shared, false), wrap(shared, true)};
}

}  // namespace zks::reconcile
