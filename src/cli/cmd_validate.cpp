// `zkstandby validate -c FILE [--reverse]`: checks the config and every
// mapping file it names, offline, and prints each problem as one
// "file:line: message" line on stderr.

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "config/config.h"
#include "mapping/mapping_set.h"

namespace zks::cli {
namespace {

struct ValidateArgs {
  std::string config_file;
  bool reverse = false;
};

// The mapping files a config names, read leniently so that mapping problems
// are reported in the same run as the config's own, when the config is broken
// elsewhere. Nothing when even that much cannot be read.
std::optional<std::vector<std::filesystem::path>> mappingFilesOf(const std::filesystem::path& config_file) {
  try {
    YAML::Node root = YAML::LoadFile(config_file.string());
    YAML::Node files = root["mapping"] ? root["mapping"]["files"] : YAML::Node();
    std::vector<std::filesystem::path> out;
    if (!files) return out;
    if (!files.IsSequence()) return std::nullopt;
    std::error_code ec;
    const auto base = std::filesystem::absolute(config_file, ec).parent_path();
    for (const YAML::Node& item : files) {
      if (!item.IsScalar() || item.Scalar().empty()) return std::nullopt;
      out.push_back((base / item.Scalar()).lexically_normal());
    }
    return out;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

void print(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// What a valid config may still get wrong on failover day: warnings and
// notes on stderr; the exit status stays 0.
void printAdvice(const config::Config& config, bool reverse) {
  const std::string file = config.file.string();
  if (!config::hasIdentity(config.backup)) {
    print(file + ": warning: backup.auth is empty: the replicator's records under " + config.state_path +
          " (state, fence, leader, history, counters) are created world-writable, so any client of the backup "
          "ensemble can fake a failover (the daemons exit 3 and stay down), move the fence or edit the saved "
          "counters; give the replicator a digest identity in backup.auth");
  }
  if (reverse && !config::hasIdentity(config.primary)) {
    print(file + ": warning: primary.auth is empty: during failback the reverse replicator's records on the "
          "rebuilt primary are created world-writable");
  }
  if (config.sync.acls == config::AclPolicy::kCopy) {
    print(file + ": note: acls: copy needs the primary identity to hold ADMIN on every replicated node (or to be "
          "a super identity): without ADMIN, ZooKeeper hides digest hashes and those ACLs cannot be copied; and "
          "the backup identity needs every permission that any copied ACL grants (or a super identity)");
  }
}

int runValidate(const ValidateArgs& args) {
  size_t problems = 0;
  auto config = config::loadConfig(args.config_file);
  std::vector<std::filesystem::path> files;
  if (!config) {
    for (const auto& problem : config.error()) print(problem.describe());
    problems += config.error().size();
    auto named = mappingFilesOf(args.config_file);
    if (!named) return kExitError;  // the mapping files are unknown: config problems only
    files = std::move(*named);
  } else {
    files = config->mapping.files;
  }

  auto mapping = mapping::loadMappingFiles(files);
  if (!mapping) {
    for (const auto& problem : mapping.error()) print(problem.describe());
    return kExitError;
  }
  if (config) {
    std::vector<mapping::Root> roots;
    for (const auto& root : config->sync.roots) roots.push_back({root.source, root.target});
    auto scoped = mapping->withScope(std::move(roots), config->sync.exclude);
    if (!scoped) {
      print(args.config_file + ": " + scoped.error().message);
      ++problems;
    }
  }
  if (args.reverse) {
    auto inverse = mapping->inverse();
    if (!inverse) {
      for (const auto& problem : inverse.error()) print(problem.describe() + " (--reverse)");
      problems += inverse.error().size();
    }
  }
  if (problems > 0) return kExitError;
  std::printf("config OK: %zu roots, %zu mapping rules%s\n", config->sync.roots.size(), mapping->ruleCount(),
              args.reverse ? " (reverse mapping OK)" : "");
  printAdvice(*config, args.reverse);
  return kExitOk;
}

}  // namespace

Action addValidateCommand(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  auto* sub = app.add_subcommand("validate", "check config and mapping rules offline");
  sub->add_option("-c,--config", args->config_file, "configuration file")->required();
  sub->add_flag("--reverse", args->reverse, "also check that the mapping can be inverted (failback)");
  return [args] { return runValidate(*args); };
}

}  // namespace zks::cli
