// Mapping files: every class of mistake is reported with its file and line,
// all of them in one pass.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mapping_test_util.h"

namespace zks::mapping {
namespace {

using testing::problemsOf;

struct Case {
  const char* name;
  const char* yaml;
  const char* expected;  // one line of the problems, exactly
};

TEST(Loader, EachMistakeWithItsLine) {
  const Case cases[] = {
      {"unknown top-level key", "tables: {}\nrulez: []\n",
       "test.yaml:2: unknown key 'rulez' in a mapping file (did you mean 'rules'?); expected one of: tables, rules"},
      {"unknown rule key", "rules:\n  - paths: [ /a ]\n    replace: []\n    formats: json\n",
       "test.yaml:4: unknown key 'formats' in a rule (did you mean 'format'?); expected one of: name, paths, "
       "segments, format, fields, replace, unmapped"},
      {"unknown field key",
       "tables: { t: {} }\nrules:\n  - paths: [ /a ]\n    format: json\n    fields:\n      /x: { tabel: t }\n",
       "test.yaml:6: unknown key 'tabel' in field '/x' (did you mean 'table'?); expected one of: table, hosts, "
       "unmapped, replace"},
      {"bad glob", "rules:\n  - paths: [ /ok, /a/b**, rel ]\n    replace: [ { regex: a, with: b } ]\n",
       "test.yaml:2: bad glob '/a/b**': it has '**' inside the segment 'b**' ('**' must be a whole segment)"},
      {"bad glob, relative", "rules:\n  - paths: [ /ok, /a/b**, rel ]\n    replace: [ { regex: a, with: b } ]\n",
       "test.yaml:2: bad glob 'rel': it must be absolute (start with '/')"},
      {"bad regex", "rules:\n  - paths: [ /a ]\n    replace:\n      - { regex: 'a(b', with: x }\n",
       "test.yaml:4: bad regex 'a(b': missing ): a(b"},
      {"group beyond the regex", "rules:\n  - paths: [ /a ]\n    replace:\n      - regex: '(a)'\n        with: '$2'\n",
       "test.yaml:4: 'with' '$2' does not fit regex '(a)': Rewrite schema requests 2 matches, but the regexp only has 1 "
       "parenthesized subexpressions."},
      {"unknown table", "tables: { cluster: {} }\nrules:\n  - paths: [ /a ]\n    segments: clustr\n",
       "test.yaml:4: unknown table 'clustr' (did you mean 'cluster'?); tables: cluster"},
      {"unknown table in a field",
       "tables: { host: {} }\nrules:\n  - paths: [ /a ]\n    format: properties\n    fields:\n      k: { table: nope, hosts: true }\n",
       "test.yaml:6: unknown table 'nope'; tables: host"},
      {"format misspelled", "rules:\n  - paths: [ /a ]\n    format: yaml\n",
       "test.yaml:3: format must be properties, json or text, got 'yaml'"},
      {"fields without a format", "tables: { t: {} }\nrules:\n  - paths: [ /a ]\n    fields: { k: t }\n",
       "test.yaml:4: fields need format: properties or format: json (a text payload has no fields; use replace)"},
      {"bad JSON pointer",
       "tables: { t: {} }\nrules:\n  - paths: [ /a ]\n    format: json\n    fields:\n      cluster: t\n",
       "test.yaml:6: field 'cluster' is not a JSON pointer: it must be empty or start with '/'"},
      {"bad unmapped", "rules:\n  - paths: [ /a ]\n    format: json\n    unmapped: fail\n",
       "test.yaml:4: unmapped must be keep or error, got 'fail'"},
      {"hosts without a table",
       "rules:\n  - paths: [ /a ]\n    format: properties\n    fields:\n      k: { hosts: true, replace: [] }\n",
       "test.yaml:5: hosts: true needs a table to look the hosts up in"},
      {"rule without paths", "rules:\n  - format: json\n", "test.yaml:2: rule at test.yaml:2 needs 'paths' (a list of globs)"},
      {"rule that does nothing", "rules:\n  - paths: [ /a ]\n",
       "test.yaml:2: rule at test.yaml:2 does nothing: give it segments, fields (with a format) or replace"},
      {"duplicate table key", "tables:\n  t:\n    a: b\n    a: c\n",
       "test.yaml:4: table 't' lists 'a' twice (first at line 3)"},
      {"table value not a string", "tables:\n  t:\n    a: [ b ]\n",
       "test.yaml:3: table 't' entries must be 'name: name' strings, got a scalar → a list"},
      {"segments collision",
       "tables:\n  cluster:\n    a: c\n    b: c\nrules:\n  - paths: [ /x/* ]\n    segments: cluster\n",
       "test.yaml:4: path collision: table 'cluster' renames both 'a' and 'b' to 'c', and rule at test.yaml:6 renames "
       "path segments with it, so two primary paths would map to one backup path"},
      {"segment value with a slash", "tables:\n  t:\n    a: b/c\nrules:\n  - paths: [ /x/* ]\n    segments: t\n",
       "test.yaml:3: table 't' maps 'a' to 'b/c', which cannot be a path segment (rule at test.yaml:5 renames segments "
       "with it): it contains '/'"},
      {"YAML syntax", "rules:\n  - paths: [ /a\n", "test.yaml:3: YAML: end of sequence flow not found"},
      {"rules not a list", "rules: { paths: /a }\n", "test.yaml:1: rules must be a list, got a mapping"},
      {"replace entry key", "rules:\n  - paths: [ /a ]\n    replace:\n      - { regex: a, with: b, revers: {} }\n",
       "test.yaml:4: unknown key 'revers' in a replace entry (did you mean 'reverse'?); expected one of: regex, with, reverse"},
  };
  for (const Case& c : cases) {
    std::string problems = problemsOf(c.yaml);
    EXPECT_NE(problems.find(std::string(c.expected) + "\n"), std::string::npos)
        << c.name << "\nexpected: " << c.expected << "\ngot:\n"
        << problems;
  }
}

TEST(Loader, EveryProblemInOnePass) {
  std::string problems = problemsOf(R"(tables:
  cluster: { a: b }
rules:
  - paths: [ /x/a** ]
    segments: cluster
  - paths: [ /y ]
    segments: nope
  - paths: [ /z ]
    replace: [ { regex: '(', with: x } ]
  - paths: [ /w ]
    bogus: 1
)");
  EXPECT_NE(problems.find("test.yaml:4: bad glob"), std::string::npos) << problems;
  EXPECT_NE(problems.find("test.yaml:7: unknown table 'nope'"), std::string::npos) << problems;
  EXPECT_NE(problems.find("test.yaml:9: bad regex"), std::string::npos) << problems;
  EXPECT_NE(problems.find("test.yaml:11: unknown key 'bogus'"), std::string::npos) << problems;
}

TEST(Loader, TablesAreSharedAcrossFilesAndNamedOnce) {
  auto set = loadMappingSources({{"a.yaml", "tables:\n  cluster: { x: y }\n"},
                                 {"b.yaml", "rules:\n  - paths: [ /c/* ]\n    segments: cluster\n"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->ruleCount(), 1u);
  EXPECT_EQ(set->tableCount(), 1u);
  EXPECT_EQ(set->map("/c/x", "").path, "/c/y");

  auto twice = loadMappingSources({{"a.yaml", "tables:\n  cluster: { x: y }\n"}, {"b.yaml", "tables:\n  cluster: {}\n"}});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error()[0].describe(), "b.yaml:2: table 'cluster' is defined twice (first at a.yaml:2)");
}

TEST(Loader, FilesFromDisk) {
  auto dir = std::filesystem::temp_directory_path() / ("zks_mapping_loader_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "m.yaml") << "rules:\n  - paths: [ /a ]\n    format: jsn\n";
  auto set = loadMappingFiles({dir / "m.yaml", dir / "missing.yaml"});
  ASSERT_FALSE(set);
  ASSERT_EQ(set.error().size(), 2u);
  EXPECT_EQ(set.error()[0].describe(), (dir / "missing.yaml").string() + ": does not exist");
  EXPECT_EQ(set.error()[1].describe(), (dir / "m.yaml").string() + ":3: format must be properties, json or text, got 'jsn'");
  std::filesystem::remove_all(dir);
  auto empty = loadMappingFiles({});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->ruleCount(), 0u);
}

TEST(Loader, EmptyFileAndEmptyTables) {
  EXPECT_EQ(problemsOf(""), "");
  EXPECT_EQ(problemsOf("tables:\nrules:\n"), "");
  EXPECT_EQ(problemsOf("tables:\n  t:\nrules:\n  - paths: /a\n    segments: t\n"), "");
}

}  // namespace
}  // namespace zks::mapping
