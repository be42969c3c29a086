// `zkstandby map -c FILE --path P [--data-file F] [--reverse]`: what one
// primary node becomes on the backup (with --reverse: one backup node on the
// primary), with each changed field marked. The node is read from the
// source site unless --data-file gives its payload.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "common/log.h"
#include "config/config.h"
#include "mapping/mapping_set.h"
#include "mapping/path.h"
#include "zk/blocking.h"
#include "zk/connect_options.h"

namespace zks::cli {
namespace {

struct MapArgs {
  std::string config_file;
  std::string path;
  std::string data_file;
  bool reverse = false;
};

int error(const std::string& message) {
  std::fprintf(stderr, "zkstandby: error: %s\n", message.c_str());
  return kExitError;
}

int notReplicated(const std::string& path, const std::string& reason) {
  std::printf("%s: not replicated: %s\n", path.c_str(), reason.c_str());
  return kExitNotConverged;
}

// The payload from --data-file ("-" reads stdin).
std::optional<std::string> readDataFile(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct SourceNode {
  std::string data;
  bool ephemeral = false;
};

// Reads the node from the site replication reads (the primary; the backup with --reverse).
std::optional<SourceNode> readNode(const config::Config& config, bool reverse, const std::string& path, int& status) {
  const config::SiteConfig& site = reverse ? config.backup : config.primary;
  const char* name = reverse ? "backup" : "primary";
  auto options = config::connectOptions(site, name);
  if (!options) {
    status = error(std::string(name) + ": " + options.error().describe());
    return std::nullopt;
  }
  auto client = zk::makeClient(*options);
  if (auto opened = client->reopen(options->connect_timeout); !opened) {
    status = error(std::string(name) + " ZooKeeper " + options->connect + " not reachable within " +
                   std::to_string(options->connect_timeout.count()) + " ms: " + opened.error().describe());
    return std::nullopt;
  }
  zk::GetResult got = zk::getSync(*client, path);
  client->close();
  if (got.code == zk::Code::kNoNode) {
    status = error("no node " + path + " on the " + name);
    return std::nullopt;
  }
  if (got.code != zk::Code::kOk) {
    status = error("reading " + path + " from the " + name + ": " + std::string(zk::codeName(got.code)));
    return std::nullopt;
  }
  return SourceNode{std::move(got.data), zk::kindOf(got.stat) == zk::NodeKind::kEphemeral};
}

int runMap(const MapArgs& args) {
  auto config = config::loadConfig(args.config_file);
  if (!config) {
    for (const auto& problem : config.error()) std::fprintf(stderr, "%s\n", problem.describe().c_str());
    return kExitError;
  }
  // One-shot command: keep the client library's routine lines out of the output.
  const std::string& level = config->log.level;
  (void)setupLogging(level == "debug" || level == "trace" ? level : "warn", config->log.format);
  if (auto why = mapping::pathError(args.path)) return error("--path '" + args.path + "' is not a valid znode path: it " + *why);

  auto loaded = mapping::loadMappingFiles(config->mapping.files);
  if (!loaded) {
    for (const auto& problem : loaded.error()) std::fprintf(stderr, "%s\n", problem.describe().c_str());
    return kExitError;
  }
  std::vector<mapping::Root> roots;
  for (const auto& root : config->sync.roots) roots.push_back({root.source, root.target});
  auto set = loaded->withScope(std::move(roots), config->sync.exclude);
  if (!set) return error(args.config_file + ": " + set.error().message);
  if (args.reverse) {
    auto inverse = set->inverse();
    if (!inverse) {
      for (const auto& problem : inverse.error()) std::fprintf(stderr, "%s (--reverse)\n", problem.describe().c_str());
      return kExitError;
    }
    set = std::move(*inverse);
  }

  // Outside the roots or excluded: no need to read anything.
  mapping::MapResult result;
  set->mapPath(args.path, result);
  if (result.outcome == mapping::Outcome::kNotReplicated) return notReplicated(args.path, result.reason);

  std::string data;
  if (!args.data_file.empty()) {
    auto read = readDataFile(args.data_file);
    if (!read) return error("cannot read --data-file " + args.data_file);
    data = std::move(*read);
  } else {
    int status = kExitError;
    auto node = readNode(*config, args.reverse, args.path, status);
    if (!node) return status;
    if (node->ephemeral && config->sync.ephemerals == config::EphemeralPolicy::kSkip) {
      return notReplicated(args.path, "ephemeral node (sync.ephemerals: skip)");
    }
    data = std::move(node->data);
  }

  set->map(args.path, data, result, true);
  if (result.outcome == mapping::Outcome::kNotReplicated) return notReplicated(args.path, result.reason);
  if (result.outcome == mapping::Outcome::kFailed) {
    return error(args.path + ": cannot be mapped (" + std::string(mapping::failureKindName(result.failure)) +
                 "): " + result.reason);
  }
  std::string out = args.path + " -> " + result.path + "\n";
  if (result.data.empty()) {
    out += "(empty payload)\n";
  } else {
    out += result.data;
    if (result.data.back() != '\n') out += '\n';
  }
  if (result.changes.empty()) out += "changed: nothing\n";
  for (const auto& change : result.changes) {
    out += "changed: " + change.field + ": " + change.before + " -> " + change.after + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

Action addMapCommand(CLI::App& app) {
  auto args = std::make_shared<MapArgs>();
  auto* sub = app.add_subcommand("map", "preview what one primary node becomes on the backup");
  sub->add_option("-c,--config", args->config_file, "configuration file")->required();
  sub->add_option("--path", args->path, "the node's path on the primary (on the backup with --reverse)")->required();
  sub->add_option("--data-file", args->data_file, "take the payload from this file ('-' for stdin) instead of reading the node");
  sub->add_flag("--reverse", args->reverse, "map a backup node back to the primary (failback)");
  return [args] { return runMap(*args); };
}

}  // namespace zks::cli
