// Seeded randomized tests: the engine never crashes or half-maps on
// arbitrary input, and inverse(map(x)) == x for one-to-one tables.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "mapping/path.h"
#include "mapping_test_util.h"

namespace zks::mapping {
namespace {

using testing::mustLoad;

constexpr const char* kRules = R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01, kafka_bj_02: kafka_sh_02, rmq_bj_order: rmq_sh_order, "odd name": "odd twin" }
  host: { 10.10.1.11: 10.50.1.11, 10.10.1.12: 10.50.1.12, "10.10.1.13:9092": "10.50.1.13:9093", "fe80::1": "fe80::2" }
rules:
  - paths: [ /c/* ]
    segments: { table: cluster }
  - paths: [ /h/** ]
    segments: { table: host, hosts: true }
  - paths: [ /c/*, /p/** ]
    format: properties
    fields:
      clusterName: cluster
      gatedCluster: cluster
      bootAddr: { table: host, hosts: true }
      "we ird": cluster
  - paths: [ /j/** ]
    format: json
    fields:
      /cluster: cluster
      /*/cluster: cluster
      /hosts/*: { table: host, hosts: true }
  - paths: [ /t/** ]
    replace:
      - regex: 'bj_(\d+)'
        with: 'sh_$1'
        reverse: { regex: 'sh_(\d+)', with: 'bj_$1' }
)";

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }

  // Bytes biased toward what the parsers care about.
  std::string noise(size_t max_length) {
    static const std::string kSpecial = "\\=:#! \t\f\r\n{}[]\",;:u0aF/~*-.e+\x00\xff\xc3\xa9";
    std::string out;
    size_t length = below(max_length + 1);
    for (size_t i = 0; i < length; ++i) {
      out += chance(70) ? kSpecial[below(kSpecial.size())] : static_cast<char>(below(256));
    }
    return out;
  }

 private:
  std::mt19937 rng_;
};

void checkInvariants(const MapResult& result, const std::string& path) {
  switch (result.outcome) {
    case Outcome::kMapped:
      EXPECT_LE(result.data.size(), kMaxDataBytes);
      EXPECT_EQ(result.failure, FailureKind::kNone);
      if (result.path_changed) {
        EXPECT_FALSE(pathError(result.path)) << path << " -> " << result.path;
      }
      break;
    case Outcome::kFailed:
      EXPECT_TRUE(result.data.empty()) << path;  // never a partial result
      EXPECT_NE(result.failure, FailureKind::kNone);
      EXPECT_FALSE(result.reason.empty());
      break;
    case Outcome::kNotReplicated:
      EXPECT_FALSE(result.reason.empty());
      break;
  }
}

TEST(MappingRandom, ArbitraryInputNeverCrashesOrHalfMaps) {
  MappingSet set = mustLoad(kRules);
  auto scoped = set.withScope({{"/", "/"}}, {"/x/**"});
  ASSERT_TRUE(scoped);
  auto reverse = set.inverse();
  ASSERT_TRUE(reverse);
  const std::vector<std::string> prefixes = {"/c/kafka_bj_01", "/c/x", "/h/10.10.1.11:2181", "/p/a", "/j/a", "/t/a", "/x/y", "/"};
  const std::vector<std::string> prefabs = {
      "clusterName=kafka_bj_01\n", "bootAddr=10.10.1.11:9092\\\n ,10.10.1.12\n", "we\\ ird=odd name\n",
      R"({"cluster":"kafka_bj_01","a":{"cluster":"odd name"},"hosts":["10.10.1.13:9092"]})", "bj_01 bj_02",
      "\\u00", "{\"a\":\"\\ud800\\u", "clusterName=\\\r\n  kafka_bj_02"};
  Gen gen(20240601);
  MapResult result;
  // ZKS_MAPPING_RANDOM_ITERATIONS runs a longer campaign (default 20000).
  const char* env = std::getenv("ZKS_MAPPING_RANDOM_ITERATIONS");
  const long iterations = env ? std::atol(env) : 20000;
  for (long i = 0; i < iterations; ++i) {
    std::string path = gen.pick(prefixes);
    if (gen.chance(50)) {
      if (path != "/") path += '/';
      path += gen.noise(6);
    }
    std::string data;
    int shape = static_cast<int>(gen.below(4));
    if (shape == 0) data = gen.noise(64);
    if (shape == 1) data = gen.pick(prefabs);
    if (shape >= 2) {
      // A valid-looking payload with noise spliced in somewhere.
      data = gen.pick(prefabs);
      size_t at = gen.below(data.size() + 1);
      data.insert(at, gen.noise(8));
    }
    const MappingSet* sets[] = {&set, &*scoped, &*reverse};
    for (const MappingSet* s : sets) {
      s->map(path, data, result, gen.chance(30));
      checkInvariants(result, path);
    }
  }
}

// Payloads in the style writers produce, whose mapped values come from the
// table's keys or are unknown to it (never a standby value: a primary value
// that already equals a standby name is a collision, not a round trip).
std::string propertiesPayload(Gen& gen) {
  const std::vector<std::string> clusters = {"kafka_bj_01", "kafka_bj_02", "rmq_bj_order", "odd name", "unknown_c", ""};
  const std::vector<std::string> hosts = {"10.10.1.11", "10.10.1.12", "10.10.1.13:9092", "10.10.9.9", "[fe80::1]:2181", "fe80::1"};
  const std::vector<std::string> seps = {"=", ":", " ", " = ", "\t:", "  "};
  const std::vector<std::string> newlines = {"\n", "\r\n", "\r"};
  std::string nl = gen.pick(newlines);
  std::string out;
  int lines = 1 + static_cast<int>(gen.below(8));
  for (int l = 0; l < lines; ++l) {
    switch (gen.below(7)) {
      case 0: out += "# comment " + std::to_string(gen.below(100)) + " \\" + nl; break;
      case 1: out += nl; break;
      case 2: out += "clusterName" + gen.pick(seps) + gen.pick(clusters) + nl; break;
      case 3: out += "gatedCluster" + gen.pick(seps) + gen.pick(clusters) + nl; break;
      case 4: {
        std::string value;
        int n = static_cast<int>(gen.below(4));
        bool store_style = gen.chance(30);
        for (int k = 0; k < n; ++k) {
          std::string host = gen.pick(hosts);
          if (store_style) {
            std::string escaped;
            for (char c : host) {
              if (c == ':') escaped += '\\';
              escaped += c;
            }
            host = escaped;
          }
          value += (k ? (gen.chance(50) ? "," : " ; ") : "") + host;
          if (k + 1 < n && gen.chance(20)) value += "\\" + nl + "   ";
        }
        out += "bootAddr" + gen.pick(seps) + value + nl;
        break;
      }
      case 5: out += "we\\ ird=" + gen.pick(clusters) + nl; break;
      default: out += "statisticsLogger=x\\:y" + nl; break;
    }
  }
  if (gen.chance(30) && !out.empty()) out.pop_back();  // no final newline
  return out;
}

std::string jsonPayload(Gen& gen) {
  const std::vector<std::string> clusters = {"kafka_bj_01", "kafka_bj_02", "odd name", "unknown_c"};
  const std::vector<std::string> hosts = {"10.10.1.11:9092", "PLAINTEXT://10.10.1.12:9092", "10.10.1.13:9092", "10.1.1.1"};
  std::string ws = gen.chance(50) ? "" : " \n ";
  std::string out = "{" + ws + "\"cluster\":" + ws + "\"" + gen.pick(clusters) + "\"";
  out += "," + ws + "\"n\":{\"cluster\":\"" + gen.pick(clusters) + "\",\"x\":[1,2.5e3,null]}";
  out += ",\"hosts\":[";
  int n = static_cast<int>(gen.below(4));
  for (int k = 0; k < n; ++k) {
    if (k) out += ',';
    out += '"';
    out += gen.pick(hosts);
    out += '"';
  }
  out += "]" + ws + "}";
  return out;
}

TEST(MappingRandom, InverseOfMapIsIdentity) {
  MappingSet forward = *mustLoad(kRules).withScope({{"/c", "/dr/c"}, {"/p", ""}, {"/j", ""}, {"/t", ""}, {"/h", ""}}, {});
  auto reverse = forward.inverse();
  ASSERT_TRUE(reverse) << reverse.error()[0].describe();
  const std::vector<std::string> segments = {"kafka_bj_01", "rmq_bj_order", "odd name", "plain", "10.10.1.11:2181_solr"};
  Gen gen(7);
  int changed = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string path, data;
    switch (gen.below(5)) {
      case 0: path = "/c/" + gen.pick(segments); data = propertiesPayload(gen); break;
      case 1: path = "/p/" + gen.pick(segments) + "/" + gen.pick(segments); data = propertiesPayload(gen); break;
      case 2: path = "/j/x"; data = jsonPayload(gen); break;
      case 3: path = "/t/" + gen.pick(segments); data = "a bj_1 b bj_22 " + gen.noise(4); break;
      default: path = "/h/" + gen.pick(segments) + "/10.10.1.12"; data = ""; break;
    }
    if (path.rfind("/t/", 0) == 0 && data.find("sh_") != std::string::npos) continue;  // would not round-trip
    MapResult there = forward.map(path, data);
    ASSERT_TRUE(there.mapped()) << path << ": " << there.reason;
    if (there.path_changed || there.data_changed) ++changed;
    MapResult back = reverse->map(there.path, there.data);
    ASSERT_TRUE(back.mapped()) << there.path << ": " << back.reason;
    EXPECT_EQ(back.path, path);
    EXPECT_EQ(back.data, data) << "mapped: " << there.data;
  }
  EXPECT_GT(changed, 2500);  // the generator does exercise the tables
}

}  // namespace
}  // namespace zks::mapping
