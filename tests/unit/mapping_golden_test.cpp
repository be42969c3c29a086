// Golden trees: each file in mappings/ maps a realistic input tree
// (testdata/mapping/<name>/input.json, path → payload) to exactly
// expected.json. ZKS_UPDATE_GOLDEN=1 rewrites expected.json from the engine
// and fails the run, so the new files are reviewed before they count.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mapping/mapping_set.h"

namespace zks::mapping {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kSource = ZKS_SOURCE_DIR;

Json readJson(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  return Json::parse(in);
}

Json describe(const MapResult& result) {
  Json out;
  switch (result.outcome) {
    case Outcome::kMapped: {
      out["path"] = result.path;
      out["data"] = result.data;
      if (!result.changes.empty()) {
        Json changes = Json::array();
        for (const Change& c : result.changes) changes.push_back(c.field + ": " + c.before + " -> " + c.after);
        out["changes"] = changes;
      }
      break;
    }
    case Outcome::kNotReplicated: out["not_replicated"] = result.reason; break;
    case Outcome::kFailed: {
      // Rule labels name the mapping file; keep the golden files free of this checkout's path.
      std::string reason = result.reason;
      const std::string prefix = kSource.string() + "/";
      for (size_t at; (at = reason.find(prefix)) != std::string::npos;) reason.erase(at, prefix.size());
      out["failure"] = std::string(failureKindName(result.failure));
      out["reason"] = reason;
      break;
    }
  }
  return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, TreeMapsExactly) {
  const std::string name = GetParam();
  const fs::path dir = kSource / "tests/unit/testdata/mapping" / name;
  auto loaded = loadMappingFiles({kSource / "mappings" / (name + ".yaml")});
  ASSERT_TRUE(loaded) << loaded.error()[0].describe();
  Json scope = readJson(dir / "scope.json");
  std::vector<Root> roots;
  for (const Json& root : scope["roots"]) roots.push_back({root["source"], root["target"]});
  auto set = loaded->withScope(roots, scope["exclude"].get<std::vector<std::string>>());
  ASSERT_TRUE(set) << set.error().message;

  Json input = readJson(dir / "input.json");
  Json actual = Json::object();
  for (const auto& [path, data] : input.items()) {
    actual[path] = describe(set->map(path, data.get<std::string>(), true));
  }
  if (std::getenv("ZKS_UPDATE_GOLDEN")) {
    std::ofstream(dir / "expected.json", std::ios::binary) << actual.dump(2, ' ', false) << "\n";
    FAIL() << "rewrote " << (dir / "expected.json") << "; review it and run again without ZKS_UPDATE_GOLDEN";
  }
  Json expected = readJson(dir / "expected.json");
  ASSERT_EQ(expected.size(), input.size()) << "expected.json and input.json list different nodes";
  for (const auto& [path, want] : expected.items()) {
    ASSERT_TRUE(actual.contains(path)) << path << " is in expected.json but not in input.json";
    EXPECT_EQ(actual[path].dump(2), want.dump(2)) << path;
  }

  // Every node that maps comes back unchanged through the inverse mapping.
  auto reverse = set->inverse();
  ASSERT_TRUE(reverse) << reverse.error()[0].describe();
  for (const auto& [path, data] : input.items()) {
    MapResult there = set->map(path, data.get<std::string>());
    if (!there.mapped()) continue;
    MapResult back = reverse->map(there.path, there.data);
    ASSERT_TRUE(back.mapped()) << there.path << ": " << back.reason;
    EXPECT_EQ(back.path, path);
    EXPECT_EQ(back.data, data.get<std::string>()) << path;
  }
}

// Every mapping file shipped has a golden tree.
std::vector<std::string> shippedMappings() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kSource / "mappings")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Mappings, Golden, ::testing::ValuesIn(shippedMappings()),
                         [](const auto& info) { return info.param; });

TEST(Golden, AtLeastThreeLayoutsShipped) {
  auto names = shippedMappings();
  EXPECT_GE(names.size(), 3u);
  EXPECT_NE(std::find(names.begin(), names.end(), "zms"), names.end());
  for (const std::string& name : names) {
    EXPECT_TRUE(fs::exists(kSource / "tests/unit/testdata/mapping" / name / "expected.json")) << name;
  }
}

}  // namespace
}  // namespace zks::mapping
