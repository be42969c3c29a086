// Properties payloads: every byte outside a mapped value comes back as it was.
#include <gtest/gtest.h>

#include "mapping_test_util.h"

namespace zks::mapping {
namespace {

using testing::mustLoad;

constexpr const char* kRules = R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01, kafka_bj_02: kafka_sh_02 }
  host: { 10.10.1.11: 10.50.1.11, 10.10.1.12: 10.50.1.12, "10.10.1.13:9092": "10.50.1.13:9093", "fe80::1": "fe80::2" }
rules:
  - paths: [ /p ]
    format: properties
    fields:
      clusterName: cluster
      gatedCluster: { table: cluster }
      bootAddr: { table: host, hosts: true }
      "key with space": cluster
      "ключ": cluster
)";

struct Case {
  const char* name;
  std::string input;
  std::string expected;
};

TEST(Properties, OnlyMappedValuesChange) {
  MappingSet set = mustLoad(kRules);
  const Case cases[] = {
      {"plain", "clusterName=kafka_bj_01\n", "clusterName=kafka_sh_01\n"},
      {"no final newline", "clusterName=kafka_bj_01", "clusterName=kafka_sh_01"},
      {"comments, blank lines, CRLF kept",
       "#Sat Jun 01 10:15:30 CST 2020\r\n\r\n! bang comment\r\nclusterName=kafka_bj_01\r\ntype=topic\r\n",
       "#Sat Jun 01 10:15:30 CST 2020\r\n\r\n! bang comment\r\nclusterName=kafka_sh_01\r\ntype=topic\r\n"},
      {"colon separator", "clusterName:kafka_bj_01\n", "clusterName:kafka_sh_01\n"},
      {"space separator", "clusterName kafka_bj_01\n", "clusterName kafka_sh_01\n"},
      {"tab separator", "clusterName\tkafka_bj_01\n", "clusterName\tkafka_sh_01\n"},
      {"whitespace around everything", "  clusterName  =  kafka_bj_01  \n", "  clusterName  =  kafka_sh_01  \n"},
      {"space then colon", "clusterName : kafka_bj_01\n", "clusterName : kafka_sh_01\n"},
      {"CR-only line ends", "a=b\rclusterName=kafka_bj_01\rc=d", "a=b\rclusterName=kafka_sh_01\rc=d"},
      {"escaped key", "cluster\\Name=kafka_bj_01\n", "cluster\\Name=kafka_sh_01\n"},
      {"escaped space in key", "key\\ with\\ space=kafka_bj_01\n", "key\\ with\\ space=kafka_sh_01\n"},
      {"unicode-escaped key", "\\u043a\\u043b\\u044e\\u0447=kafka_bj_01\n", "\\u043a\\u043b\\u044e\\u0447=kafka_sh_01\n"},
      {"UTF-8 key", "ключ=kafka_bj_01\n", "ключ=kafka_sh_01\n"},
      {"key with escaped '=' is another key", "cluster\\=Name=kafka_bj_01\n", "cluster\\=Name=kafka_bj_01\n"},
      {"unknown keys and order kept",
       "statisticsLogger=x\nclusterName=kafka_bj_01\ntype=topic\ngatedIps=\ngatedCluster=kafka_bj_02\n",
       "statisticsLogger=x\nclusterName=kafka_sh_01\ntype=topic\ngatedIps=\ngatedCluster=kafka_sh_02\n"},
      {"every duplicate mapped", "clusterName=kafka_bj_01\nclusterName=kafka_bj_02\n",
       "clusterName=kafka_sh_01\nclusterName=kafka_sh_02\n"},
      {"empty value left", "gatedCluster=\nclusterName=\n", "gatedCluster=\nclusterName=\n"},
      {"key alone left", "gatedCluster\n", "gatedCluster\n"},
      {"value missing from table kept", "clusterName=kafka_xx_09\n", "clusterName=kafka_xx_09\n"},
      {"second '=' belongs to the value", "clusterName = = kafka_bj_01\n", "clusterName = = kafka_bj_01\n"},
      {"trailing whitespace kept around a mapped value", "clusterName=kafka_bj_01 \t\n", "clusterName=kafka_sh_01 \t\n"},
      {"comment ending in backslash does not continue", "# note \\\nclusterName=kafka_bj_01\n",
       "# note \\\nclusterName=kafka_sh_01\n"},
      {"value after a continuation", "clusterName=\\\n   kafka_bj_01\nx=y\n", "clusterName=\\\n   kafka_sh_01\nx=y\n"},
      {"continuation inside a host list kept",
       "bootAddr=10.10.1.11:9092,\\\n         10.10.1.12:9092\nx=y\n",
       "bootAddr=10.50.1.11:9092,\\\n         10.50.1.12:9092\nx=y\n"},
      {"CRLF continuation", "bootAddr=10.10.1.11:9092,\\\r\n 10.10.1.12:9092\r\n",
       "bootAddr=10.50.1.11:9092,\\\r\n 10.50.1.12:9092\r\n"},
      {"escaped even backslashes do not continue", "a=b\\\\\nclusterName=kafka_bj_01\n",
       "a=b\\\\\nclusterName=kafka_sh_01\n"},
      {"continuation of another key hides a look-alike line", "a=b\\\nclusterName=kafka_bj_01\n",
       "a=b\\\nclusterName=kafka_bj_01\n"},
      {"Properties.store escapes kept", "bootAddr=10.10.1.11\\:9092,10.10.1.12\\:9092\n",
       "bootAddr=10.50.1.11\\:9092,10.50.1.12\\:9092\n"},
      {"whole value re-escaped in the writer's style", "clusterName=kafka\\_bj\\_01\n", "clusterName=kafka_sh_01\n"},
      {"unicode escapes in a value", "clusterName=kafka\\u005fbj\\u005f01\n", "clusterName=kafka_sh_01\n"},
      {"lone backslash at the end is not part of the value", "clusterName=kafka_bj_01\\", "clusterName=kafka_sh_01\\"},
      {"semicolon list with spaces", "bootAddr= 10.10.1.11:9876 ; 10.10.1.12:9876 ;\n",
       "bootAddr= 10.50.1.11:9876 ; 10.50.1.12:9876 ;\n"},
      {"endpoint key wins over host", "bootAddr=10.10.1.13:9092,10.10.1.13:9094\n", "bootAddr=10.50.1.13:9093,10.10.1.13:9094\n"},
      {"unknown host kept under keep", "bootAddr=10.10.9.9:9092,10.10.1.11:9092\n", "bootAddr=10.10.9.9:9092,10.50.1.11:9092\n"},
      {"bracketed IPv6", "bootAddr=[fe80::1]:2181,10.10.1.11\n", "bootAddr=[fe80::2]:2181,10.50.1.11\n"},
      {"bare IPv6", "bootAddr=fe80::1\n", "bootAddr=fe80::2\n"},
      {"chroot after the last host", "bootAddr=10.10.1.11:2181,10.10.1.12:2181/kafka\n",
       "bootAddr=10.50.1.11:2181,10.50.1.12:2181/kafka\n"},
      {"URL items", "bootAddr=PLAINTEXT://10.10.1.11:9092,SSL://10.10.1.12:9093\n",
       "bootAddr=PLAINTEXT://10.50.1.11:9092,SSL://10.50.1.12:9093\n"},
      {"UTF-8 and binary-looking comment kept", "# 中文注释 \xff\xfe\nclusterName=kafka_bj_01\n",
       "# 中文注释 \xff\xfe\nclusterName=kafka_sh_01\n"},
      {"leading blank line with spaces", "   \n\t\nclusterName=kafka_bj_01", "   \n\t\nclusterName=kafka_sh_01"},
  };
  for (const Case& c : cases) {
    MapResult result = set.map("/p", c.input);
    ASSERT_EQ(result.outcome, Outcome::kMapped) << c.name << ": " << result.reason;
    EXPECT_EQ(result.data, c.expected) << c.name;
    EXPECT_EQ(result.data_changed, c.input != c.expected) << c.name;
  }
}

TEST(Properties, MalformedUnicodeEscapeDoesNotParse) {
  MappingSet set = mustLoad(kRules);
  for (std::string input : {"clusterName=\\u12\n", "a=b\nother=\\uZZZZ\n", "\\u00=x"}) {
    MapResult result = set.map("/p", input);
    EXPECT_EQ(result.outcome, Outcome::kFailed) << input;
    EXPECT_EQ(result.failure, FailureKind::kParse) << input;
    EXPECT_NE(result.reason.find("malformed"), std::string::npos) << result.reason;
    EXPECT_TRUE(result.data.empty());
  }
  MapResult result = set.map("/p", "a=b\nother=\\uZZZZ\n");
  EXPECT_NE(result.reason.find("line 2"), std::string::npos) << result.reason;
}

TEST(Properties, NewValuesAreEscapedWhereNeeded) {
  MappingSet set = mustLoad(R"(
tables:
  t: { a: " lead", b: "x:y=z", "b:": "x:y=z", c: "ü", d: "back\\slash", e: "two\nlines" }
rules:
  - paths: [ /p ]
    format: properties
    fields: { k: t }
)");
  const Case cases[] = {
      {"leading space escaped", "k=a\n", "k=\\ lead\n"},
      {"plain writer: ':' '=' left alone", "k=b\n", "k=x:y=z\n"},
      {"store writer: ':' '=' escaped", "k=b\\:\n", "k=x\\:y\\=z\n"},
      {"UTF-8 kept as UTF-8", "k=c\n", "k=ü\n"},
      {"\\u writer gets \\u", "k=\\u0063\n", "k=\\u00FC\n"},
      {"backslash doubled", "k=d\n", "k=back\\\\slash\n"},
      {"newline escaped", "k=e\n", "k=two\\nlines\n"},
  };
  for (const Case& c : cases) {
    MapResult result = set.map("/p", c.input);
    ASSERT_EQ(result.outcome, Outcome::kMapped) << c.name << ": " << result.reason;
    EXPECT_EQ(result.data, c.expected) << c.name;
  }
}

TEST(Properties, UnmappedErrorStopsTheNodeAndNamesTheValue) {
  MappingSet set = mustLoad(R"(
tables:
  cluster: { kafka_bj_01: kafka_sh_01 }
  host: { 10.10.1.11: 10.50.1.11 }
rules:
  - paths: [ /p ]
    format: properties
    fields:
      clusterName: cluster
      bootAddr: { table: host, hosts: true }
      loose: { table: cluster, unmapped: keep }
    unmapped: error
)");
  MapResult ok = set.map("/p", "clusterName=kafka_bj_01\nloose=other\ngatedCluster=zzz\n");
  ASSERT_EQ(ok.outcome, Outcome::kMapped) << ok.reason;
  EXPECT_EQ(ok.data, "clusterName=kafka_sh_01\nloose=other\ngatedCluster=zzz\n");

  MapResult bad = set.map("/p", "clusterName=kafka_bj_02\n");
  EXPECT_EQ(bad.outcome, Outcome::kFailed);
  EXPECT_EQ(bad.failure, FailureKind::kUnmapped);
  EXPECT_NE(bad.reason.find("clusterName: 'kafka_bj_02' is not in table cluster"), std::string::npos) << bad.reason;
  EXPECT_TRUE(bad.data.empty());

  MapResult bad_host = set.map("/p", "clusterName=kafka_bj_01\nbootAddr=10.10.1.11:9092,10.10.1.99:9092\n");
  EXPECT_EQ(bad_host.failure, FailureKind::kUnmapped);
  EXPECT_NE(bad_host.reason.find("'10.10.1.99'"), std::string::npos) << bad_host.reason;

  // Empty values are not "missing": half-written nodes pass.
  MapResult empty = set.map("/p", "clusterName=\nbootAddr=\n");
  EXPECT_EQ(empty.outcome, Outcome::kMapped) << empty.reason;
}

TEST(Properties, ExplainListsChangedFields) {
  MappingSet set = mustLoad(kRules);
  MapResult result = set.map("/p", "clusterName=kafka_bj_01\nbootAddr=10.10.1.11:9092,10.10.9.9:9092\ntype=topic\n", true);
  ASSERT_EQ(result.outcome, Outcome::kMapped);
  ASSERT_EQ(result.changes.size(), 2u);
  EXPECT_EQ(result.changes[0].field, "clusterName");
  EXPECT_EQ(result.changes[0].before, "kafka_bj_01");
  EXPECT_EQ(result.changes[0].after, "kafka_sh_01");
  EXPECT_EQ(result.changes[1].field, "bootAddr");
  EXPECT_EQ(result.changes[1].before, "10.10.1.11:9092,10.10.9.9:9092");
  EXPECT_EQ(result.changes[1].after, "10.50.1.11:9092,10.10.9.9:9092");
}

}  // namespace
}  // namespace zks::mapping
