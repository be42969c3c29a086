// Mapping files: YAML → compiled rules, collecting every problem with its line.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "mapping/fields.h"
#include "mapping/mapping_set.h"
#include "mapping/path.h"
#include "mapping/rules.h"

namespace zks::mapping {

namespace detail {
std::string Rule::label() const {
  std::string place = file + ":" + std::to_string(line);
  return name.empty() ? "rule at " + place : "rule '" + name + "' (" + place + ")";
}
}  // namespace detail

namespace {

using detail::Compiled;
using detail::Format;
using detail::Rule;

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for a near miss, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& candidate : known) {
    size_t d = editDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + words[i];
  return out;
}

int lineOf(const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

const char* kindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an undefined value";
  }
}

class Loader {
 public:
  std::expected<std::unique_ptr<Compiled>, std::vector<Problem>> load(const std::vector<MappingSource>& sources);

 private:
  struct Doc {
    std::string file;
    YAML::Node root;
  };

  void problem(const std::string& file, int line, std::string message) {
    problems_.push_back({file, line, std::move(message)});
  }

  // Checks a mapping's keys against `allowed`; reports the others.
  bool checkMap(const std::string& file, const YAML::Node& node, const std::string& what,
                const std::vector<std::string>& allowed) {
    if (!node.IsMap()) {
      problem(file, lineOf(node), what + " must be a mapping, got " + kindName(node));
      return false;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        problem(file, lineOf(it->first),
                "unknown key '" + key + "' in " + what + suggestion(key, allowed) + "; expected one of: " + joined(allowed));
      }
    }
    return true;
  }

  std::optional<std::string> scalar(const std::string& file, const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) {
      problem(file, lineOf(node), what + " must be a string, got " + kindName(node));
      return std::nullopt;
    }
    return node.Scalar();
  }

  void loadTables(const Doc& doc, const YAML::Node& tables);
  void loadRule(const Doc& doc, const YAML::Node& node);
  std::optional<ValueSpec> loadValueSpec(const Doc& doc, const YAML::Node& node, const std::string& what,
                                         Unmapped default_unmapped);
  std::vector<Replacement> loadReplace(const Doc& doc, const YAML::Node& node, const std::string& what);
  std::optional<RegexRewrite> loadRewrite(const Doc& doc, const YAML::Node& node, const std::string& what);
  std::optional<Unmapped> loadUnmapped(const Doc& doc, const YAML::Node& node);
  const Table* findTable(const Doc& doc, const YAML::Node& node);
  void checkCollisions();
  void checkInverse();
  void compileGlobs();
  void sortProblems(std::vector<Problem>& problems) const;

  std::vector<Problem> problems_;
  std::unique_ptr<Compiled> compiled_ = std::make_unique<Compiled>();
  std::map<std::string, Table*, std::less<>> tables_;
  std::map<std::string, size_t, std::less<>> file_order_;  // problems sort by file, then line
  std::vector<std::tuple<std::string, int, std::string>> uninvertible_;  // file, line, why
};

void Loader::loadTables(const Doc& doc, const YAML::Node& tables) {
  if (tables.IsNull()) return;
  if (!tables.IsMap()) {
    problem(doc.file, lineOf(tables), "tables must be a mapping of table names to mappings, got " + std::string(kindName(tables)));
    return;
  }
  for (auto it = tables.begin(); it != tables.end(); ++it) {
    auto name = scalar(doc.file, it->first, "a table name");
    if (!name) continue;
    int line = lineOf(it->first);
    if (name->empty()) {
      problem(doc.file, line, "a table name is empty");
      continue;
    }
    if (auto existing = tables_.find(*name); existing != tables_.end()) {
      problem(doc.file, line, "table '" + *name + "' is defined twice (first at " + existing->second->file() + ":" +
                                  std::to_string(existing->second->line()) + ")");
      continue;
    }
    auto table = std::make_unique<Table>(*name, doc.file, line);
    YAML::Node entries = it->second;  // a copy: it-> yields a temporary
    if (entries.IsNull()) {
      // An empty table is allowed: it maps nothing (and with unmapped: error, refuses everything).
    } else if (!entries.IsMap()) {
      problem(doc.file, lineOf(entries), "table '" + *name + "' must be a mapping of names, got " + kindName(entries));
    } else {
      std::map<std::string, int, std::less<>> seen;
      for (auto entry = entries.begin(); entry != entries.end(); ++entry) {
        int entry_line = lineOf(entry->first);
        if (!entry->first.IsScalar() || !entry->second.IsScalar()) {
          problem(doc.file, entry_line,
                  "table '" + *name + "' entries must be 'name: name' strings, got " + kindName(entry->first) +
                      " → " + kindName(entry->second));
          continue;
        }
        const std::string& key = entry->first.Scalar();
        const std::string& value = entry->second.Scalar();
        if (key.empty() || value.empty()) {
          problem(doc.file, entry_line, "table '" + *name + "' has an empty name in '" + key + ": " + value + "'");
          continue;
        }
        if (auto dup = seen.find(key); dup != seen.end()) {
          problem(doc.file, entry_line,
                  "table '" + *name + "' lists '" + key + "' twice (first at line " + std::to_string(dup->second) + ")");
          continue;
        }
        seen.emplace(key, entry_line);
        table->add(key, value, entry_line);
      }
    }
    table->seal();
    tables_.emplace(*name, table.get());
    compiled_->tables.push_back(std::move(table));
  }
}

const Table* Loader::findTable(const Doc& doc, const YAML::Node& node) {
  auto name = scalar(doc.file, node, "table");
  if (!name) return nullptr;
  auto it = tables_.find(*name);
  if (it == tables_.end()) {
    std::vector<std::string> known;
    for (const auto& [table_name, table] : tables_) known.push_back(table_name);
    problem(doc.file, lineOf(node),
            "unknown table '" + *name + "'" + suggestion(*name, known) +
                (known.empty() ? "; no table is defined" : "; tables: " + joined(known)));
    return nullptr;
  }
  return it->second;
}

std::optional<Unmapped> Loader::loadUnmapped(const Doc& doc, const YAML::Node& node) {
  auto text = scalar(doc.file, node, "unmapped");
  if (!text) return std::nullopt;
  if (*text == "keep") return Unmapped::kKeep;
  if (*text == "error") return Unmapped::kError;
  problem(doc.file, lineOf(node), "unmapped must be keep or error, got '" + *text + "'");
  return std::nullopt;
}

// Reads { regex, with } from `node`; the caller has checked its keys.
std::optional<RegexRewrite> Loader::loadRewrite(const Doc& doc, const YAML::Node& node, const std::string& what) {
  YAML::Node regex = node["regex"];
  YAML::Node with = node["with"];
  if (!regex) problem(doc.file, lineOf(node), what + " needs 'regex'");
  if (!with) problem(doc.file, lineOf(node), what + " needs 'with'");
  if (!regex || !with) return std::nullopt;
  auto regex_text = scalar(doc.file, regex, "regex");
  auto with_text = with.IsNull() ? std::optional<std::string>("") : scalar(doc.file, with, "with");
  if (!regex_text || !with_text) return std::nullopt;
  auto compiled = RegexRewrite::compile(*regex_text, *with_text);
  if (!compiled) {
    problem(doc.file, lineOf(regex), compiled.error().message);
    return std::nullopt;
  }
  return std::move(*compiled);
}

std::vector<Replacement> Loader::loadReplace(const Doc& doc, const YAML::Node& node, const std::string& what) {
  std::vector<Replacement> out;
  if (!node.IsSequence()) {
    problem(doc.file, lineOf(node), what + " must be a list of { regex, with } entries, got " + kindName(node));
    return out;
  }
  for (const YAML::Node& entry : node) {
    if (!checkMap(doc.file, entry, "a replace entry", {"regex", "with", "reverse"})) continue;
    auto forward = loadRewrite(doc, entry, "a replace entry");
    std::optional<RegexRewrite> reverse;
    if (YAML::Node reverse_node = entry["reverse"]) {
      if (!checkMap(doc.file, reverse_node, "a replace entry's reverse", {"regex", "with"})) continue;
      reverse = loadRewrite(doc, reverse_node, "a replace entry's reverse");
      if (!reverse) continue;
    }
    if (!forward) continue;
    int line = lineOf(entry);
    if (!reverse) {
      uninvertible_.emplace_back(doc.file, line,
                                 "replace /" + forward->regex() +
                                     "/ has no 'reverse': a regex replacement cannot be inverted automatically; "
                                     "add reverse: { regex, with } to undo it");
    }
    out.push_back({line, std::move(*forward), std::move(reverse)});
  }
  return out;
}

// A field or `segments`: a table name, or { table, hosts, unmapped, replace }.
std::optional<ValueSpec> Loader::loadValueSpec(const Doc& doc, const YAML::Node& node, const std::string& what,
                                               Unmapped default_unmapped) {
  ValueSpec spec;
  spec.unmapped = default_unmapped;
  if (node.IsScalar()) {
    spec.table = findTable(doc, node);
    return spec.table ? std::optional<ValueSpec>(std::move(spec)) : std::nullopt;
  }
  if (!checkMap(doc.file, node, what, {"table", "hosts", "unmapped", "replace"})) return std::nullopt;
  bool ok = true;
  if (YAML::Node table = node["table"]) {
    spec.table = findTable(doc, table);
    ok = ok && spec.table != nullptr;
  }
  if (YAML::Node hosts = node["hosts"]) {
    bool value = false;
    if (!hosts.IsScalar() || !YAML::convert<bool>::decode(hosts, value)) {
      problem(doc.file, lineOf(hosts), "hosts must be true or false");
      ok = false;
    }
    spec.hosts = value;
    if (value && !node["table"]) {
      problem(doc.file, lineOf(hosts), "hosts: true needs a table to look the hosts up in");
      ok = false;
    }
  }
  if (YAML::Node unmapped = node["unmapped"]) {
    auto value = loadUnmapped(doc, unmapped);
    if (value) spec.unmapped = *value;
    ok = ok && value.has_value();
  }
  if (YAML::Node replace = node["replace"]) spec.replace = loadReplace(doc, replace, what + " replace");
  if (!node["table"] && !node["replace"]) {
    problem(doc.file, lineOf(node), what + " needs a table or a replace list");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return spec;
}

void Loader::loadRule(const Doc& doc, const YAML::Node& node) {
  static const std::vector<std::string> kKeys = {"name", "paths", "segments", "format", "fields", "replace", "unmapped"};
  if (!checkMap(doc.file, node, "a rule", kKeys)) return;
  Rule rule;
  rule.file = doc.file;
  rule.line = lineOf(node);
  bool ok = true;
  if (YAML::Node name = node["name"]) {
    if (auto text = scalar(doc.file, name, "name")) rule.name = *text;
  }
  // paths
  YAML::Node paths = node["paths"];
  if (!paths) {
    problem(doc.file, rule.line, rule.label() + " needs 'paths' (a list of globs)");
    ok = false;
  } else {
    std::vector<YAML::Node> items;
    if (paths.IsScalar()) {
      items.push_back(paths);
    } else if (paths.IsSequence()) {
      for (const YAML::Node& item : paths) items.push_back(item);
      if (items.empty()) {
        problem(doc.file, lineOf(paths), "paths is empty: the rule would never apply");
        ok = false;
      }
    } else {
      problem(doc.file, lineOf(paths), "paths must be a list of globs, got " + std::string(kindName(paths)));
      ok = false;
    }
    for (const YAML::Node& item : items) {
      auto text = scalar(doc.file, item, "a path glob");
      if (!text) {
        ok = false;
        continue;
      }
      if (auto error = globError(*text)) {
        problem(doc.file, lineOf(item), "bad glob '" + *text + "': it " + *error);
        ok = false;
        continue;
      }
      rule.paths.push_back(*text);
    }
  }
  if (YAML::Node unmapped = node["unmapped"]) {
    if (auto value = loadUnmapped(doc, unmapped)) {
      rule.unmapped = *value;
    } else {
      ok = false;
    }
  }
  if (YAML::Node format = node["format"]) {
    auto text = scalar(doc.file, format, "format");
    if (!text) {
      ok = false;
    } else if (*text == "properties") {
      rule.format = Format::kProperties;
    } else if (*text == "json") {
      rule.format = Format::kJson;
    } else if (*text == "text") {
      rule.format = Format::kText;
    } else {
      problem(doc.file, lineOf(format), "format must be properties, json or text, got '" + *text + "'");
      ok = false;
    }
  }
  if (YAML::Node segments = node["segments"]) {
    rule.segments_line = lineOf(segments);
    rule.segments = loadValueSpec(doc, segments, "segments", rule.unmapped);
    ok = ok && rule.segments.has_value();
  }
  if (YAML::Node fields = node["fields"]) {
    if (rule.format != Format::kProperties && rule.format != Format::kJson) {
      problem(doc.file, lineOf(fields),
              "fields need format: properties or format: json (a text payload has no fields; use replace)");
      ok = false;
    } else if (!fields.IsMap()) {
      problem(doc.file, lineOf(fields), "fields must be a mapping of field names to tables, got " + std::string(kindName(fields)));
      ok = false;
    } else {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        auto name = scalar(doc.file, it->first, "a field name");
        if (!name) {
          ok = false;
          continue;
        }
        int line = lineOf(it->first);
        std::vector<std::string> tokens;
        if (rule.format == Format::kJson) {
          std::string why;
          if (!parsePointer(*name, tokens, why)) {
            problem(doc.file, line, "field '" + *name + "' is not a JSON pointer: it " + why);
            ok = false;
            continue;
          }
        } else if (name->empty()) {
          problem(doc.file, line, "a field name is empty");
          ok = false;
          continue;
        }
        if (rule.fields.by_key.count(*name)) {
          problem(doc.file, line, "field '" + *name + "' is listed twice in this rule");
          ok = false;
          continue;
        }
        auto spec = loadValueSpec(doc, it->second, "field '" + *name + "'", rule.unmapped);
        if (!spec) {
          ok = false;
          continue;
        }
        auto index = static_cast<uint32_t>(rule.fields.fields.size());
        rule.fields.by_key.emplace(*name, index);
        rule.fields.key_lengths |= uint64_t{1} << std::min<size_t>(name->size(), 63);
        if (rule.format == Format::kJson) addPointer(rule.fields, tokens, index);
        rule.fields.fields.push_back({*name, line, std::move(*spec)});
      }
      sealPointers(rule.fields);
    }
  }
  if (YAML::Node replace = node["replace"]) rule.replace = loadReplace(doc, replace, "replace");
  bool asks_something = node["segments"] || node["fields"] || node["replace"] || node["format"];
  if (!asks_something) {
    problem(doc.file, rule.line, rule.label() + " does nothing: give it segments, fields (with a format) or replace");
    ok = false;
  }
  if (!ok) return;
  if (rule.segments) {
    // The renamed segment is only known after renaming, so --reverse can
    // only find the rule by a wildcard at that position.
    for (const std::string& glob : rule.paths) {
      if (glob == "/") continue;
      std::string_view last = std::string_view(glob).substr(glob.rfind('/') + 1);
      if (last != "*" && last != "**") {
        uninvertible_.emplace_back(doc.file, rule.segments_line,
                                   "segments renames the segment that path '" + glob + "' names by '" +
                                       std::string(last) + "'; --reverse needs '*' or '**' there");
      }
    }
  }
  compiled_->rules.push_back(std::move(rule));
}

void Loader::checkCollisions() {
  for (const Rule& rule : compiled_->rules) {
    if (!rule.segments || !rule.segments->table) continue;
    const Table& table = *rule.segments->table;
    // Two names renamed to one would send two primary paths to one backup path.
    for (const Table::Clash& clash : table.clashes()) {
      problem(table.file(), clash.line,
              "path collision: table '" + table.name() + "' renames both '" + clash.first_key + "' and '" +
                  clash.other_key + "' to '" + clash.value + "', and " + rule.label() +
                  " renames path segments with it, so two primary paths would map to one backup path");
    }
    if (!rule.segments->hosts) {
      for (const Table::Entry& entry : table.entries()) {
        if (auto error = segmentError(entry.value)) {
          problem(table.file(), entry.line,
                  "table '" + table.name() + "' maps '" + entry.key + "' to '" + entry.value +
                      "', which cannot be a path segment (" + rule.label() + " renames segments with it): it " + *error);
        }
      }
    }
  }
}

void Loader::checkInverse() {
  auto& out = compiled_->inverse_problems;
  for (const auto& table : compiled_->tables) {
    for (const Table::Clash& clash : table->clashes()) {
      out.push_back({table->file(), clash.line,
                     "table '" + table->name() + "' is not one-to-one: '" + clash.first_key + "' and '" +
                         clash.other_key + "' both map to '" + clash.value + "', so --reverse cannot tell which to restore"});
    }
  }
  for (auto& [file, line, why] : uninvertible_) out.push_back({file, line, why});
  sortProblems(out);
}

void Loader::compileGlobs() {
  std::vector<std::string> segment_globs, payload_globs;
  for (size_t r = 0; r < compiled_->rules.size(); ++r) {
    const Rule& rule = compiled_->rules[r];
    for (const std::string& glob : rule.paths) {
      if (rule.segments) {
        segment_globs.push_back(glob);
        compiled_->segment_glob_rule.push_back(static_cast<uint32_t>(r));
      }
      if (rule.touchesPayload()) {
        payload_globs.push_back(glob);
        compiled_->payload_glob_rule.push_back(static_cast<uint32_t>(r));
      }
    }
  }
  // Globs were checked one by one above, so these cannot fail.
  compiled_->segment_globs = GlobSet::compile(segment_globs).value();
  compiled_->payload_globs = GlobSet::compile(payload_globs).value();
}

std::expected<std::unique_ptr<Compiled>, std::vector<Problem>> Loader::load(const std::vector<MappingSource>& sources) {
  std::vector<Doc> docs;
  for (const MappingSource& source : sources) {
    file_order_.emplace(source.name, file_order_.size());
    try {
      YAML::Node root = YAML::Load(source.text);
      if (root.IsNull()) continue;  // an empty file maps nothing
      if (!checkMap(source.name, root, "a mapping file", {"tables", "rules"})) continue;
      docs.push_back({source.name, root});
    } catch (const YAML::Exception& e) {
      problem(source.name, e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML: " + e.msg);
    }
  }
  // Tables first: a rule may use a table from any file.
  for (const Doc& doc : docs) {
    if (YAML::Node tables = doc.root["tables"]) loadTables(doc, tables);
  }
  for (const Doc& doc : docs) {
    YAML::Node rules = doc.root["rules"];
    if (!rules || rules.IsNull()) continue;
    if (!rules.IsSequence()) {
      problem(doc.file, lineOf(rules), "rules must be a list, got " + std::string(kindName(rules)));
      continue;
    }
    for (const YAML::Node& rule : rules) loadRule(doc, rule);
  }
  checkCollisions();
  if (!problems_.empty()) {
    sortProblems(problems_);
    return std::unexpected(std::move(problems_));
  }
  checkInverse();
  compileGlobs();
  return std::move(compiled_);
}

void Loader::sortProblems(std::vector<Problem>& problems) const {
  auto order = [&](const Problem& p) {
    auto it = file_order_.find(p.file);
    return std::pair(it == file_order_.end() ? SIZE_MAX : it->second, p.line);
  };
  std::stable_sort(problems.begin(), problems.end(),
                   [&](const Problem& a, const Problem& b) { return order(a) < order(b); });
}

}  // namespace

LoadResult loadMappingSources(const std::vector<MappingSource>& sources) {
  auto compiled = Loader().load(sources);
  if (!compiled) return std::unexpected(std::move(compiled.error()));
  MappingSet set;
  set.compiled_ = std::shared_ptr<const Compiled>(std::move(*compiled));
  return set;
}

LoadResult loadMappingText(std::string_view text, std::string name) {
  return loadMappingSources({MappingSource{std::move(name), std::string(text)}});
}

LoadResult loadMappingFiles(const std::vector<std::filesystem::path>& files) {
  std::vector<MappingSource> sources;
  std::vector<Problem> problems;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::error_code ec;
      bool exists = std::filesystem::exists(file, ec);
      problems.push_back({file.string(), 0, exists ? "cannot be read" : "does not exist"});
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    sources.push_back({file.string(), text.str()});
  }
  auto loaded = loadMappingSources(sources);
  if (problems.empty()) return loaded;
  if (!loaded) problems.insert(problems.end(), loaded.error().begin(), loaded.error().end());
  return std::unexpected(std::move(problems));
}

}  // namespace zks::mapping
