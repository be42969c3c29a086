#pragma once

// A loaded set of mapping files, compiled. Internal to the engine; the public
// face is MappingSet (mapping_set.h).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mapping/fields.h"
#include "mapping/glob.h"
#include "mapping/problem.h"
#include "mapping/replace.h"
#include "mapping/table.h"
#include "mapping/value.h"

namespace zks::mapping::detail {

enum class Format : uint8_t { kNone, kProperties, kJson, kText };

struct Rule {
  std::string file;
  int line = 0;
  std::string name;                // optional `name:`, for messages
  std::vector<std::string> paths;  // globs on primary-side paths
  std::optional<ValueSpec> segments;
  int segments_line = 0;
  Format format = Format::kNone;
  FieldSet fields;
  std::vector<Replacement> replace;
  Unmapped unmapped = Unmapped::kKeep;

  // "rule 'name' (file:line)" or "rule at file:line".
  std::string label() const;
  bool touchesPayload() const {
    return !fields.empty() || !replace.empty() || format == Format::kProperties || format == Format::kJson;
  }
};

struct Compiled {
  std::vector<std::unique_ptr<Table>> tables;  // owned here; specs point into them
  std::vector<Rule> rules;
  // The paths of rules with `segments`, and of rules touching the payload;
  // glob index → rule index alongside.
  GlobSet segment_globs;
  std::vector<uint32_t> segment_glob_rule;
  GlobSet payload_globs;
  std::vector<uint32_t> payload_glob_rule;
  // Why inverse() refuses this set; empty when it is invertible.
  std::vector<Problem> inverse_problems;
};

}  // namespace zks::mapping::detail
