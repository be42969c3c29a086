#include "mapping/problem.h"

namespace zks::mapping {

std::string Problem::describe() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

}  // namespace zks::mapping
