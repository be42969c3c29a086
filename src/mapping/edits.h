#pragma once

// Replacements of byte ranges, the unit every format splices with: bytes
// outside an edit are copied as they are, which is what keeps unmapped lines,
// keys and formatting byte for byte.

#include <string>
#include <string_view>
#include <vector>

namespace zks::mapping {

struct Edit {
  size_t begin = 0;  // [begin, end) of the text being edited
  size_t end = 0;
  std::string text;  // what goes there
};

// Appends `text` with `edits` applied to `out`. Edits are ascending and do not overlap.
void appendEdited(std::string_view text, const std::vector<Edit>& edits, std::string& out);

inline std::string applyEdits(std::string_view text, const std::vector<Edit>& edits) {
  std::string out;
  appendEdited(text, edits, out);
  return out;
}

}  // namespace zks::mapping
