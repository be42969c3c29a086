#pragma once

// What a field or a path segment does to one value: a table lookup (of the
// whole value, or of each host in a host list), then regex replacements.
// Values are decoded text here; the formats encode the edits back.
// Internal to the engine.

#include <string>
#include <string_view>
#include <vector>

#include "mapping/edits.h"
#include "mapping/replace.h"
#include "mapping/table.h"

namespace zks::mapping {

enum class Unmapped : uint8_t { kKeep, kError };

struct ValueSpec {
  const Table* table = nullptr;
  bool hosts = false;
  std::vector<Replacement> replace;
  Unmapped unmapped = Unmapped::kKeep;
};

// Maps `value` forward (table, then replace) or in reverse (inverse replace,
// then the inverted table). Appends ascending, non-overlapping edits in
// `value`'s coordinates; none when nothing changes. A value that is empty or
// only whitespace is left as it is; a table lookup ignores whitespace around
// the value (and around each host), which is kept.
//
// Returns false, with the missing item in `unmapped`, when the spec says
// `unmapped: error` and the table lacks an item.
bool mapValue(const ValueSpec& spec, bool reverse, std::string_view value, std::vector<Edit>& edits,
              std::string& unmapped);

}  // namespace zks::mapping
