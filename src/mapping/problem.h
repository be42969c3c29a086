#pragma once

#include <string>

namespace zks::mapping {

// One mistake found in a mapping file, with its place. `validate` prints
// every one of them; loading never stops at the first.
struct Problem {
  std::string file;  // as given to the loader (a path or a display name)
  int line = 0;      // 1-based; 0 when the problem has no single line
  std::string message;

  // "file:line: message", or "file: message" when the line is unknown.
  std::string describe() const;
};

}  // namespace zks::mapping
