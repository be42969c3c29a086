#pragma once

// Helpers shared by the mapping tests.

#include <gtest/gtest.h>

#include <string>

#include "mapping/mapping_set.h"

namespace zks::mapping::testing {

inline MappingSet mustLoad(std::string_view yaml) {
  auto set = loadMappingText(yaml, "test.yaml");
  if (!set) {
    std::string all;
    for (const auto& p : set.error()) all += p.describe() + "\n";
    ADD_FAILURE() << "mapping did not load:\n" << all;
    return MappingSet();
  }
  return std::move(*set);
}

inline std::string problemsOf(std::string_view yaml) {
  auto set = loadMappingText(yaml, "test.yaml");
  if (set) return "";
  std::string all;
  for (const auto& p : set.error()) all += p.describe() + "\n";
  return all;
}

}  // namespace zks::mapping::testing
