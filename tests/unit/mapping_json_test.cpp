// JSON payloads: mapped in place, formatting and key order kept; strict parsing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mapping_test_util.h"

namespace zks::mapping {
namespace {

using testing::mustLoad;

constexpr const char* kRules = R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01, kafka_bj_02: kafka_sh_02, "a/b": "c/d" }
  host: { 10.10.1.11: 10.50.1.11, 10.10.1.12: 10.50.1.12 }
rules:
  - paths: [ /j ]
    format: json
    fields:
      /cluster: cluster
      /nested/cluster: cluster
      /list/*: cluster
      /brokers/*/host: { table: host, hosts: true }
      /endpoints/*: { table: host, hosts: true }
      /a~1b: cluster
      /t~0x: cluster
      /num: cluster
)";

struct Case {
  const char* name;
  std::string input;
  std::string expected;
};

TEST(Json, OnlyMappedStringsChange) {
  MappingSet set = mustLoad(kRules);
  const Case cases[] = {
      {"compact", R"({"cluster":"kafka_bj_01","x":1})", R"({"cluster":"kafka_sh_01","x":1})"},
      {"formatting kept", "{\n  \"x\" : [ 1, 2 ],\n  \"cluster\" :\t\"kafka_bj_01\"  \n}\n",
       "{\n  \"x\" : [ 1, 2 ],\n  \"cluster\" :\t\"kafka_sh_01\"  \n}\n"},
      {"key order kept", R"({"z":0,"cluster":"kafka_bj_01","a":0})", R"({"z":0,"cluster":"kafka_sh_01","a":0})"},
      {"nested", R"({"nested":{"other":"kafka_bj_01","cluster":"kafka_bj_02"}})",
       R"({"nested":{"other":"kafka_bj_01","cluster":"kafka_sh_02"}})"},
      {"wildcard over array", R"({"list":["kafka_bj_01","x","kafka_bj_02"]})", R"({"list":["kafka_sh_01","x","kafka_sh_02"]})"},
      {"wildcard over object", R"({"list":{"p":"kafka_bj_01","q":"kafka_bj_02"}})", R"({"list":{"p":"kafka_sh_01","q":"kafka_sh_02"}})"},
      {"wildcard then member", R"({"brokers":[{"host":"10.10.1.11","port":9092},{"host":"10.10.1.12"}]})",
       R"({"brokers":[{"host":"10.50.1.11","port":9092},{"host":"10.50.1.12"}]})"},
      {"host URLs", R"({"endpoints":["PLAINTEXT://10.10.1.11:9092","SSL://10.10.1.12:9093"]})",
       R"({"endpoints":["PLAINTEXT://10.50.1.11:9092","SSL://10.50.1.12:9093"]})"},
      {"pointer escapes ~1 and ~0", R"({"a/b":"kafka_bj_01","t~x":"kafka_bj_02"})", R"({"a/b":"kafka_sh_01","t~x":"kafka_sh_02"})"},
      {"non-string left", R"({"cluster":5,"num":12,"list":[null,true,{"cluster":"kafka_bj_01"}]})",
       R"({"cluster":5,"num":12,"list":[null,true,{"cluster":"kafka_bj_01"}]})"},
      {"duplicate keys all mapped", R"({"cluster":"kafka_bj_01","cluster":"kafka_bj_02"})",
       R"({"cluster":"kafka_sh_01","cluster":"kafka_sh_02"})"},
      {"escaped key matched", R"({"clu\u0073ter":"kafka_bj_01"})", R"({"clu\u0073ter":"kafka_sh_01"})"},
      {"escaped value re-encoded", R"({"cluster":"kafka\u005fbj_01"})", R"({"cluster":"kafka_sh_01"})"},
      {"escaped slash style kept", R"({"cluster":"a\/b"})", R"({"cluster":"c\/d"})"},
      {"plain slash", R"({"cluster":"a/b"})", R"({"cluster":"c/d"})"},
      {"nothing to map: byte for byte", "{ \"k\" : [1e5, -0.5, \"\\u00e9\"] }  ", "{ \"k\" : [1e5, -0.5, \"\\u00e9\"] }  "},
      {"top-level scalar", "\"kafka_bj_01\"", "\"kafka_bj_01\""},
      {"BOM accepted", "\xEF\xBB\xBF{\"cluster\":\"kafka_bj_01\"}", "\xEF\xBB\xBF{\"cluster\":\"kafka_sh_01\"}"},
      {"empty string left", R"({"cluster":""})", R"({"cluster":""})"},
      {"UTF-8 elsewhere kept", R"({"名":"值","cluster":"kafka_bj_01"})", R"({"名":"值","cluster":"kafka_sh_01"})"},
  };
  for (const Case& c : cases) {
    MapResult result = set.map("/j", c.input);
    ASSERT_EQ(result.outcome, Outcome::kMapped) << c.name << ": " << result.reason;
    EXPECT_EQ(result.data, c.expected) << c.name;
    EXPECT_EQ(result.data_changed, c.input != c.expected) << c.name;
  }
}

TEST(Json, InvalidPayloadsDoNotParse) {
  MappingSet set = mustLoad(kRules);
  const char* inputs[] = {
      "{",
      "{\"cluster\":\"kafka_bj_01\"",
      "{\"a\":1,}",
      "[1,2,]",
      "{'a':1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":-}",
      "{\"a\":tru}",
      "{\"a\":\"\x01\"}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"\\ud800\"}",
      "{\"a\":\"\\udc00\"}",
      "{\"a\":\"\xff\"}",
      "{\"a\":\"\xc0\xaf\"}",
      "{} {}",
      "clusterName=kafka_bj_01",
      "   ",
  };
  for (const char* input : inputs) {
    MapResult result = set.map("/j", input);
    EXPECT_EQ(result.outcome, Outcome::kFailed) << input;
    EXPECT_EQ(result.failure, FailureKind::kParse) << input;
    EXPECT_NE(result.reason.find("does not parse as JSON"), std::string::npos) << result.reason;
    // nlohmann agrees these are not JSON.
    EXPECT_FALSE(nlohmann::json::accept(input)) << input;
  }
}

TEST(Json, DeepNestingIsRefusedNotACrash) {
  MappingSet set = mustLoad(kRules);
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  MapResult result = set.map("/j", deep);
  EXPECT_EQ(result.failure, FailureKind::kParse);
  EXPECT_NE(result.reason.find("nesting"), std::string::npos);
}

TEST(Json, NewStringsAreEscaped) {
  MappingSet set = mustLoad(R"(
tables:
  t: { a: "q\"uote", b: "ü", c: "tab\there" }
rules:
  - paths: [ /j ]
    format: json
    fields: { /k: t }
)");
  const Case cases[] = {
      {"quote escaped", R"({"k":"a"})", R"({"k":"q\"uote"})"},
      {"UTF-8 kept", R"({"k":"b"})", R"({"k":"ü"})"},
      {"\\u writer gets \\u", R"({"k":"\u0062"})", R"({"k":"\u00fc"})"},
      {"control escaped", R"({"k":"c"})", R"({"k":"tab\there"})"},
  };
  for (const Case& c : cases) {
    MapResult result = set.map("/j", c.input);
    ASSERT_EQ(result.outcome, Outcome::kMapped) << c.name << ": " << result.reason;
    EXPECT_EQ(result.data, c.expected) << c.name;
    EXPECT_TRUE(nlohmann::json::accept(result.data)) << c.name;
  }
}

TEST(Json, EmptyPointerIsTheWholeDocument) {
  MappingSet set = mustLoad(R"(
tables: { cluster: { kafka_bj_01: kafka_sh_01 } }
rules:
  - paths: [ /j ]
    format: json
    fields: { "": cluster }
)");
  EXPECT_EQ(set.map("/j", " \"kafka_bj_01\"\n").data, " \"kafka_sh_01\"\n");
  EXPECT_EQ(set.map("/j", R"({"a":"kafka_bj_01"})").data, R"({"a":"kafka_bj_01"})");
  MapResult explained = set.map("/j", "\"kafka_bj_01\"", true);
  ASSERT_EQ(explained.changes.size(), 1u);
  EXPECT_EQ(explained.changes[0].field, "(document)");
}

TEST(Json, UnmappedErrorNamesThePointer) {
  MappingSet set = mustLoad(R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01 }
rules:
  - paths: [ /j ]
    format: json
    fields: { /shards/*/cluster: cluster }
    unmapped: error
)");
  MapResult result = set.map("/j", R"({"shards":{"s1":{"cluster":"kafka_bj_01"},"s2":{"cluster":"nope"}}})");
  EXPECT_EQ(result.failure, FailureKind::kUnmapped);
  EXPECT_NE(result.reason.find("/shards/s2/cluster: 'nope' is not in table cluster"), std::string::npos) << result.reason;
  MapResult explained = set.map("/j", R"({"shards":{"s1":{"cluster":"kafka_bj_01"}}})", true);
  ASSERT_EQ(explained.changes.size(), 1u);
  EXPECT_EQ(explained.changes[0].field, "/shards/s1/cluster");
}

TEST(Json, ReplaceMustLeaveValidJson) {
  MappingSet set = mustLoad(R"(
rules:
  - paths: [ /j ]
    format: json
    replace:
      - { regex: 'bj', with: 'sh' }
      - { regex: '"x"', with: '"x' }
)");
  MapResult fine = set.map("/j", R"({"c":"kafka_bj"})");
  ASSERT_EQ(fine.outcome, Outcome::kMapped) << fine.reason;
  EXPECT_EQ(fine.data, R"({"c":"kafka_sh"})");
  MapResult broken = set.map("/j", R"({"c":"x"})");
  EXPECT_EQ(broken.failure, FailureKind::kParse);
  EXPECT_NE(broken.reason.find("replace left a payload"), std::string::npos) << broken.reason;
}

}  // namespace
}  // namespace zks::mapping
