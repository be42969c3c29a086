#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/checks.h"
#include "config/config.h"

namespace zks::config {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = ZKS_CONFIG_TESTDATA;

// A scratch folder per test, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "zks_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // A credentials file as an operator is told to keep it: mode 0600.
  fs::path writeSecret(const std::string& name, const std::string& text) {
    fs::path path = write(name, text);
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    return path;
  }

  fs::path dir_;
};

std::string describeAll(const std::vector<Problem>& problems) {
  std::string all;
  for (const auto& p : problems) all += p.describe() + "\n";
  return all;
}

// The smallest valid config; the mistake cases below are variations of it.
// Lines: 1 primary, 2 connect, 3 backup, 4 connect, 5 sync, 6 roots, 7 source.
const std::string kBase =
    "primary:\n"
    "  connect: \"10.10.0.21:2181\"\n"
    "backup:\n"
    "  connect: \"10.50.0.21:2181\"\n"
    "sync:\n"
    "  roots:\n"
    "    - source: /zms\n";

TEST_F(ConfigTest, SpecExampleLoadsWithItsValues) {
  auto config = loadConfig(kTestdata / "good.yaml");
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  EXPECT_EQ(config->primary.connect, "10.10.0.21:2181,10.10.0.22:2181");
  EXPECT_EQ(config->primary.session_timeout_ms, 30000);
  EXPECT_EQ(config->primary.connect_timeout_ms, 15000);
  ASSERT_EQ(config->primary.auth.size(), 1u);
  EXPECT_EQ(config->primary.auth[0].scheme, "digest");
  EXPECT_EQ(config->primary.auth[0].credentials_file, "/etc/zkstandby/primary.digest");
  EXPECT_EQ(config->primary.auth[0].credentials_env, "");
  EXPECT_EQ(config->backup.connect, "10.50.0.21:2181");
  EXPECT_TRUE(config->backup.auth.empty());
  ASSERT_EQ(config->sync.roots.size(), 1u);
  EXPECT_EQ(config->sync.roots[0].source, "/zms");
  EXPECT_EQ(config->sync.roots[0].target, "/zms");
  EXPECT_EQ(config->sync.exclude, (std::vector<std::string>{"/zms/topic/*/*", "/zms/consumergroup/*/*"}));
  EXPECT_EQ(config->sync.ephemerals, EphemeralPolicy::kSkip);
  EXPECT_EQ(config->sync.acls, AclPolicy::kCopy);
  EXPECT_EQ(config->sync.deletes, DeletePolicy::kPropagate);
  EXPECT_DOUBLE_EQ(config->sync.max_delete_fraction, 0.25);
  EXPECT_EQ(config->sync.audit_interval_s, 600);
  ASSERT_EQ(config->mapping.files.size(), 1u);
  EXPECT_EQ(config->mapping.files[0], fs::absolute(kTestdata / "mappings/zms.yaml").lexically_normal());
  EXPECT_EQ(config->state_path, "/zkstandby");
  EXPECT_EQ(config->http.listen, "127.0.0.1:9406");
  EXPECT_EQ(config->log.level, "info");
  EXPECT_EQ(config->log.format, "text");
  EXPECT_EQ(config->file, kTestdata / "good.yaml");
}

TEST_F(ConfigTest, AbsentKeysTakeTheirDefaults) {
  auto config = loadConfig(kTestdata / "minimal.yaml");
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  const Config defaults;
  EXPECT_EQ(config->primary.connect, "127.0.0.1:2181/primary-chroot");
  EXPECT_EQ(config->backup.connect, "[::1]:2182");
  EXPECT_EQ(config->primary.session_timeout_ms, defaults.primary.session_timeout_ms);
  EXPECT_EQ(config->backup.connect_timeout_ms, defaults.backup.connect_timeout_ms);
  EXPECT_EQ(config->backup.max_in_flight, defaults.backup.max_in_flight);
  ASSERT_EQ(config->sync.roots.size(), 1u);
  EXPECT_EQ(config->sync.roots[0].target, "/a") << "a target defaults to its source";
  EXPECT_TRUE(config->sync.exclude.empty());
  EXPECT_EQ(config->sync.ephemerals, EphemeralPolicy::kSkip);
  EXPECT_EQ(config->sync.acls, AclPolicy::kCopy);
  EXPECT_EQ(config->sync.deletes, DeletePolicy::kPropagate);
  EXPECT_DOUBLE_EQ(config->sync.max_delete_fraction, 0.25);
  EXPECT_EQ(config->sync.audit_interval_s, 600);
  EXPECT_EQ(config->sync.max_request_bytes, defaults.sync.max_request_bytes);
  EXPECT_EQ(config->sync.max_write_ops_per_s, 0);
  EXPECT_TRUE(config->mapping.files.empty());
  EXPECT_EQ(config->state_path, "/zkstandby");
  EXPECT_EQ(config->diff.secret_paths, (std::vector<std::string>{"/**/config/users/*"}));
  EXPECT_EQ(config->http.listen, "127.0.0.1:9406");
  EXPECT_EQ(config->log.level, "info");
  EXPECT_EQ(config->log.format, "text");
}

TEST_F(ConfigTest, DiffSecretPathsReplaceTheDefault) {
  auto path = write("c.yaml", kBase + "diff:\n  secret_paths: [ /zms/vault/**, /solr/security.json ]\n");
  auto config = loadConfig(path);
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  EXPECT_EQ(config->diff.secret_paths, (std::vector<std::string>{"/zms/vault/**", "/solr/security.json"}));
  auto none = loadConfig(write("d.yaml", kBase + "diff:\n  secret_paths: []\n"));
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->diff.secret_paths.empty());
}

TEST_F(ConfigTest, NonDefaultValuesAreRead) {
  auto path = write("c.yaml",
                    "primary:\n"
                    "  connect: a:1,b:2/chroot\n"
                    "  max_in_flight: 64\n"
                    "  auth:\n"
                    "    - credentials_env: ZKS_PRIMARY_AUTH\n"
                    "    - scheme: digest\n"
                    "      credentials_file: secrets/backup.digest\n"
                    "backup:\n"
                    "  connect: c:3\n"
                    "sync:\n"
                    "  roots:\n"
                    "    - source: /zms\n"
                    "      target: /zms-standby\n"
                    "    - source: /\n"
                    "      target: /other\n"
                    "  exclude: [ /zms/**, /a/*x*/b, / ]\n"
                    "  ephemerals: persist\n"
                    "  acls: keep-backup\n"
                    "  deletes: keep\n"
                    "  max_delete_fraction: 1\n"
                    "  audit_interval_s: 0\n"
                    "  max_request_bytes: 65536\n"
                    "  max_write_ops_per_s: 100\n"
                    "mapping:\n"
                    "  files: [ /abs/m.yaml, ../up.yaml ]\n"
                    "state_path: /zks/state\n"
                    "http:\n"
                    "  listen: \"\"\n"
                    "log: { level: debug, format: json }\n");
  auto config = loadConfig(path);
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  EXPECT_EQ(config->primary.max_in_flight, 64u);
  ASSERT_EQ(config->primary.auth.size(), 2u);
  EXPECT_EQ(config->primary.auth[0].scheme, "digest") << "scheme defaults to digest";
  EXPECT_EQ(config->primary.auth[0].credentials_env, "ZKS_PRIMARY_AUTH");
  EXPECT_EQ(config->primary.auth[1].credentials_file, (dir_ / "secrets/backup.digest").string())
      << "a relative credentials_file is resolved like mapping files";
  ASSERT_EQ(config->sync.roots.size(), 2u);
  EXPECT_EQ(config->sync.roots[0].target, "/zms-standby");
  EXPECT_EQ(config->sync.roots[1].source, "/");
  EXPECT_EQ(config->sync.exclude.size(), 3u);
  EXPECT_EQ(config->sync.ephemerals, EphemeralPolicy::kPersist);
  EXPECT_EQ(config->sync.acls, AclPolicy::kKeepBackup);
  EXPECT_EQ(config->sync.deletes, DeletePolicy::kKeep);
  EXPECT_DOUBLE_EQ(config->sync.max_delete_fraction, 1.0);
  EXPECT_EQ(config->sync.audit_interval_s, 0);
  EXPECT_EQ(config->sync.max_request_bytes, 65536u);
  EXPECT_EQ(config->sync.max_write_ops_per_s, 100);
  EXPECT_EQ(config->mapping.files, (std::vector<fs::path>{"/abs/m.yaml", dir_.parent_path() / "up.yaml"}));
  EXPECT_EQ(config->state_path, "/zks/state");
  EXPECT_EQ(config->http.listen, "") << "an empty listen address turns the endpoint off";
  EXPECT_EQ(config->log.level, "debug");
  EXPECT_EQ(config->log.format, "json");
}

struct MistakeCase {
  std::string name;
  std::string yaml;
  int line;             // where the one problem must be reported
  std::string message;  // a part of its message
};

// Each case holds exactly one mistake and must yield exactly one problem:
// a second one would be noise an operator has to see through.
const std::vector<MistakeCase> kMistakes = {
    // Unknown keys, at every level.
    {"unknown top-level key", kBase + "colour: red\n", 8, "unknown key 'colour' at the top level"},
    {"unknown key in primary", "primary:\n  connect: a:1\n  sesion_timeout_ms: 5\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "unknown key 'sesion_timeout_ms' in 'primary'; did you mean 'session_timeout_ms'?"},
    {"unknown key in backup", "primary: {connect: a:1}\nbackup:\n  connect: b:1\n  flavour: x\nsync: {roots: [{source: /a}]}\n", 4,
     "unknown key 'flavour' in 'backup'"},
    {"misspelled required key reported once", "primary:\n  conect: a:1\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2,
     "did you mean 'connect'?"},
    {"unknown key in sync", kBase + "  session_timeout_ms: 1\n", 8, "unknown key 'session_timeout_ms' in 'sync'"},
    {"unknown key in an auth item",
     "primary:\n  connect: a:1\n  auth:\n    - credentials_env: X\n      password: hunter2\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 5,
     "unknown key 'password' in 'primary.auth[0]'"},
    {"unknown key in a root", kBase + "      taget: /x\n", 8, "unknown key 'taget' in 'sync.roots[0]'; did you mean 'target'?"},
    {"unknown key in mapping", kBase + "mapping:\n  file: [a.yaml]\n", 9, "unknown key 'file' in 'mapping'; did you mean 'files'?"},
    {"unknown key in http", kBase + "http:\n  port: 9406\n", 9, "unknown key 'port' in 'http'"},
    {"unknown key in log", kBase + "log:\n  colour: true\n", 9, "unknown key 'colour' in 'log'"},
    {"duplicate key", kBase + "state_path: /s\nstate_path: /t\n", 9, "duplicate key 'state_path' (first on line 8)"},
    // Wrong types.
    {"integer expected", "primary:\n  connect: a:1\n  session_timeout_ms: soon\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.session_timeout_ms must be an integer, got 'soon'"},
    {"integer given a list", "primary:\n  connect: a:1\n  connect_timeout_ms: [1]\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.connect_timeout_ms must be an integer, got a list"},
    {"fraction not a number", kBase + "  max_delete_fraction: half\n", 8, "sync.max_delete_fraction must be a number, got 'half'"},
    {"string given a mapping", "primary:\n  connect: {host: a}\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2,
     "primary.connect must be a string, got a mapping"},
    {"section given a list", "primary: [a:1]\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 1, "primary must be a mapping of keys, got a list"},
    {"list given a string", kBase + "  exclude: /zms/x\n", 8, "sync.exclude must be a list, got '/zms/x'"},
    {"root given a string", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots:\n    - /zms\n", 5,
     "sync.roots[0] must be a mapping of keys, got '/zms'"},
    {"empty scalar", "primary:\n  connect:\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2, "primary.connect must be a string, got no value"},
    // Missing required keys.
    {"missing primary.connect", "primary:\n  session_timeout_ms: 5\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 1,
     "missing required key 'primary.connect'"},
    {"missing backup.connect", "primary: {connect: a:1}\nbackup:\n  session_timeout_ms: 5\nsync: {roots: [{source: /a}]}\n", 2,
     "missing required key 'backup.connect'"},
    {"missing backup section", "primary: {connect: a:1}\nsync: {roots: [{source: /a}]}\n", 1, "missing required key 'backup'"},
    {"missing sync.roots", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  acls: open\n", 3, "missing required key 'sync.roots'"},
    {"empty sync.roots", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots: []\n", 4, "sync.roots must list at least one root"},
    {"root without source", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots:\n    - target: /b\n", 5,
     "missing required key 'sync.roots[0].source'"},
    // Bad enum values.
    {"bad ephemerals", kBase + "  ephemerals: sometimes\n", 8, "sync.ephemerals must be one of skip, persist; got 'sometimes'"},
    {"bad acls", kBase + "  acls: world\n", 8, "sync.acls must be one of copy, open, keep-backup; got 'world'"},
    {"bad deletes", kBase + "  deletes: never\n", 8, "sync.deletes must be one of propagate, keep; got 'never'"},
    {"bad log level", kBase + "log:\n  level: loud\n", 9, "log.level must be one of trace, debug, info, warn, error, critical, off; got 'loud'"},
    {"bad log format", kBase + "log:\n  format: xml\n", 9, "log.format must be one of text, json; got 'xml'"},
    // Numbers out of range.
    {"zero session timeout", "primary:\n  connect: a:1\n  session_timeout_ms: 0\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.session_timeout_ms must be greater than 0, got 0"},
    {"negative connect timeout", "primary: {connect: a:1}\nbackup:\n  connect: b:1\n  connect_timeout_ms: -5\nsync: {roots: [{source: /a}]}\n", 4,
     "backup.connect_timeout_ms must be greater than 0, got -5"},
    {"huge timeout", "primary:\n  connect: a:1\n  session_timeout_ms: 99999999999\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.session_timeout_ms must be at most 2147483647"},
    {"fraction above 1", kBase + "  max_delete_fraction: 1.5\n", 8, "sync.max_delete_fraction must be between 0 and 1, got 1.5"},
    {"fraction below 0", kBase + "  max_delete_fraction: -0.1\n", 8, "sync.max_delete_fraction must be between 0 and 1, got -0.1"},
    {"negative audit interval", kBase + "  audit_interval_s: -1\n", 8, "sync.audit_interval_s must not be negative, got -1"},
    {"secret path not a glob", kBase + "diff:\n  secret_paths: [ config/users ]\n", 9,
     "diff.secret_paths[0] 'config/users' is not a valid glob: it must be absolute"},
    {"unknown key in diff", kBase + "diff:\n  show_secrets: true\n", 9, "unknown key 'show_secrets' in 'diff'"},
    // Every full batch would exceed the server's default jute.maxbuffer and drop the connection.
    {"request bytes above 1 MiB", kBase + "  max_request_bytes: 2000000\n", 8,
     "sync.max_request_bytes must be at most 1048576 (ZooKeeper's default jute.maxbuffer"},
    {"request bytes just above 1 MiB", kBase + "  max_request_bytes: 1048577\n", 8, "must be at most 1048576"},
    {"zero max_in_flight", "primary:\n  connect: a:1\n  max_in_flight: 0\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.max_in_flight must be greater than 0"},
    // Paths.
    {"relative source", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots:\n    - source: zms\n", 5,
     "sync.roots[0].source 'zms' is not a valid znode path: it must be absolute"},
    {"trailing slash", kBase + "      target: /zms/\n", 8, "sync.roots[0].target '/zms/' is not a valid znode path: it must not end with '/'"},
    {"empty segment", kBase + "      target: /zms//a\n", 8, "has an empty segment"},
    {"dot-dot segment", kBase + "      target: /zms/../etc\n", 8, "has a '..' segment"},
    {"dot segment", kBase + "state_path: /./zks\n", 8, "state_path '/./zks' is not a valid znode path: it has a '.' segment"},
    // Overlapping targets and state_path.
    {"target inside another", kBase + "    - source: /other\n      target: /zms/other\n", 9,
     "target root '/zms/other' lies inside target root '/zms' (line 7)"},
    {"later target containing an earlier one", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots:\n    - source: /a/b\n    - source: /a\n", 6,
     "target root '/a' contains target root '/a/b' (line 5)"},
    {"same target twice", kBase + "    - source: /other\n      target: /zms\n", 9, "target root '/zms' is used twice (line 7)"},
    {"state_path inside a target", kBase + "state_path: /zms/zkstandby\n", 8,
     "state_path '/zms/zkstandby' lies inside target root '/zms'; it must be outside every target root"},
    {"state_path equal to a target", kBase + "state_path: /zms\n", 8, "state_path '/zms' lies inside target root '/zms'"},
    {"target inside state_path", kBase + "state_path: /\n", 8, "target root '/zms' lies inside state_path '/'"},
    {"default state_path inside a root target", "primary: {connect: a:1}\nbackup: {connect: b:1}\nsync:\n  roots:\n    - source: /\n", 5,
     "state_path '/zkstandby' (the default) lies inside target root '/'"},
    // Exclude globs.
    {"glob not absolute", kBase + "  exclude:\n    - zms/*\n", 9, "sync.exclude[0] 'zms/*' is not a valid glob: it must be absolute"},
    {"glob with ** inside a segment", kBase + "  exclude:\n    - /zms/a**\n", 9, "'**' must be a whole segment"},
    {"glob with empty segment", kBase + "  exclude: [ /zms//x ]\n", 8, "sync.exclude[0] '/zms//x' is not a valid glob: it has an empty segment"},
    // Auth.
    {"auth scheme not digest", "primary:\n  connect: a:1\n  auth:\n    - scheme: sasl\n      credentials_env: X\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 4,
     "primary.auth[0].scheme 'sasl' is not supported: only 'digest' is"},
    {"auth with file and env", "primary:\n  connect: a:1\n  auth:\n    - credentials_env: X\n      credentials_file: /f\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 4,
     "primary.auth[0] needs exactly one of credentials_file or credentials_env"},
    {"auth with neither", "primary: {connect: a:1}\nbackup:\n  connect: b:1\n  auth:\n    - scheme: digest\nsync: {roots: [{source: /a}]}\n", 5,
     "backup.auth[0] needs exactly one of credentials_file or credentials_env"},
    // yaml-cpp gives an empty item no place of its own; the list's line (or the item before) stands in.
    {"empty auth item", "primary:\n  connect: a:1\n  auth:\n    -\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.auth[0] needs exactly one of credentials_file or credentials_env"},
    // Addresses.
    {"connect without port", "primary:\n  connect: 10.0.0.1\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2,
     "primary.connect '10.0.0.1' is not host:port[,host:port...][/chroot]: it has a server '10.0.0.1' that has no ':port'"},
    {"connect with bad chroot", "primary:\n  connect: a:1/x/\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2, "has a chroot that must not end with '/'"},
    {"connect with empty entry", "primary:\n  connect: a:1,,b:2\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 2, "has an empty server entry"},
    {"listen without port", kBase + "http:\n  listen: localhost\n", 9, "http.listen 'localhost' is not \"host:port\" (or \"\" for off): it has no ':port'"},
    {"listen port out of range", kBase + "http:\n  listen: 127.0.0.1:99999\n", 9, "has a port outside 0-65535"},
    // The ZooKeeper client of a site.
    {"unknown client", "primary:\n  connect: a:1\n  client: zkpython\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.client must be one of native, libzookeeper; got 'zkpython'"},
    {"tls without ca_file", "primary:\n  connect: a:1\n  tls:\n    cert_file: c.pem\n    key_file: k.pem\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "missing required key 'primary.tls.ca_file'"},
    {"tls with a cert but no key", "primary: {connect: a:1}\nbackup:\n  connect: b:1\n  tls:\n    ca_file: ca.pem\n    cert_file: c.pem\nsync: {roots: [{source: /a}]}\n", 4,
     "backup.tls needs both cert_file and key_file, or neither"},
    {"tls misspelled key", "primary:\n  connect: a:1\n  tls:\n    ca_fil: ca.pem\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 4,
     "unknown key 'ca_fil' in 'primary.tls'; did you mean 'ca_file'?"},
    {"tls empty file", "primary:\n  connect: a:1\n  tls:\n    ca_file: \"\"\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 4,
     "primary.tls.ca_file is empty"},
    {"tls verify_hostname not a bool", "primary:\n  connect: a:1\n  tls:\n    ca_file: ca.pem\n    verify_hostname: maybe\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 5,
     "primary.tls.verify_hostname must be true or false, got 'maybe'"},
    {"tls with libzookeeper", "primary:\n  connect: a:1\n  client: libzookeeper\n  tls:\n    ca_file: ca.pem\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 4,
     "primary.tls needs client: native (the libzookeeper client has no TLS; see deploy/stunnel"},
    {"multi_read with libzookeeper", "primary: {connect: a:1}\nbackup:\n  multi_read: false\n  connect: b:1\n  client: libzookeeper\nsync: {roots: [{source: /a}]}\n", 3,
     "backup.multi_read needs client: native"},
    {"multi_read not a bool", "primary:\n  connect: a:1\n  multi_read: sometimes\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.multi_read must be true or false, got 'sometimes'"},
    {"persistent_watches not a bool", "primary:\n  connect: a:1\n  persistent_watches: [yes]\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.persistent_watches must be true or false, got a list"},
    {"max_read_sessions zero", "primary:\n  connect: a:1\n  max_read_sessions: 0\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.max_read_sessions must be greater than 0, got 0"},
    {"max_read_sessions too many", "primary: {connect: a:1}\nbackup:\n  connect: b:1\n  max_read_sessions: 40\nsync: {roots: [{source: /a}]}\n", 4,
     "backup.max_read_sessions must be at most 16, got 40"},
    {"max_packet_bytes too small", "primary:\n  connect: a:1\n  max_packet_bytes: 1000\nbackup: {connect: b:1}\nsync: {roots: [{source: /a}]}\n", 3,
     "primary.max_packet_bytes must be at least 65536, got 1000"},
    // Syntax.
    {"yaml syntax error", "primary:\n  connect: a:1\n backup: x\n", 3, "YAML syntax error"},
    {"tab indentation", kBase + "log:\n\tlevel: info\n", 9, "YAML syntax error"},
    {"top level not a mapping", "- a\n- b\n", 1, "the top level must be a mapping of keys, got a list"},
};

void PrintTo(const MistakeCase& c, std::ostream* os) { *os << c.name; }

class ConfigMistakeTest : public ConfigTest, public ::testing::WithParamInterface<MistakeCase> {};

TEST_P(ConfigMistakeTest, YieldsOneProblemOnItsLine) {
  const MistakeCase& c = GetParam();
  fs::path path = write("config.yaml", c.yaml);
  auto config = loadConfig(path);
  ASSERT_FALSE(config.has_value()) << "accepted:\n" << c.yaml;
  const auto& problems = config.error();
  ASSERT_EQ(problems.size(), 1u) << describeAll(problems);
  EXPECT_EQ(problems[0].file, path.string());
  EXPECT_EQ(problems[0].line, c.line) << describeAll(problems);
  EXPECT_NE(problems[0].message.find(c.message), std::string::npos) << "message: " << problems[0].message << "\nexpected: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Mistakes, ConfigMistakeTest, ::testing::ValuesIn(kMistakes), [](const auto& info) {
  std::string name;
  for (char ch : info.param.name) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return name;
});

TEST_F(ConfigTest, ClientKeysLoadWithTheirDefaultsAndPathsBesideTheConfig) {
  auto config = loadConfig(write("c.yaml", kBase));
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  EXPECT_EQ(config->primary.client, zk::Backend::kNative);
  EXPECT_FALSE(config->primary.tls);
  EXPECT_TRUE(config->primary.multi_read);
  EXPECT_TRUE(config->primary.persistent_watches);
  EXPECT_EQ(config->primary.max_packet_bytes, 256u << 20);
  EXPECT_EQ(config->primary.max_read_sessions, 1);
  EXPECT_EQ(config->backup.max_read_sessions, 1);

  config = loadConfig(write("d.yaml",
                            "primary:\n"
                            "  connect: a:1\n"
                            "  client: native\n"
                            "  tls:\n"
                            "    ca_file: certs/ca.pem\n"
                            "    cert_file: /etc/zkstandby/client.pem\n"
                            "    key_file: certs/client.key\n"
                            "    verify_hostname: false\n"
                            "  multi_read: false\n"
                            "  persistent_watches: false\n"
                            "  max_packet_bytes: 1048576\n"
                            "  max_read_sessions: 4\n"
                            "backup:\n"
                            "  connect: b:1\n"
                            "  client: libzookeeper\n"
                            "  max_read_sessions: 2\n"
                            "sync: {roots: [{source: /a}]}\n"));
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  ASSERT_TRUE(config->primary.tls);
  EXPECT_EQ(config->primary.tls->ca_file, (dir_ / "certs/ca.pem").string());
  EXPECT_EQ(config->primary.tls->cert_file, "/etc/zkstandby/client.pem");
  EXPECT_EQ(config->primary.tls->key_file, (dir_ / "certs/client.key").string());
  EXPECT_FALSE(config->primary.tls->verify_hostname);
  EXPECT_FALSE(config->primary.multi_read);
  EXPECT_FALSE(config->primary.persistent_watches);
  EXPECT_EQ(config->primary.max_packet_bytes, 1048576u);
  EXPECT_EQ(config->primary.max_read_sessions, 4);
  EXPECT_EQ(config->backup.max_read_sessions, 2) << "ACL reads over several sessions work with either backend";
  EXPECT_EQ(config->backup.client, zk::Backend::kLibzookeeper);

  // A CA alone is enough (a server with ssl.clientAuth=none).
  config = loadConfig(write("e.yaml", "primary:\n  connect: a:1\n  tls: {ca_file: ca.pem}\nbackup: {connect: b:1}\n"
                                      "sync: {roots: [{source: /a}]}\n"));
  ASSERT_TRUE(config.has_value()) << describeAll(config.error());
  EXPECT_TRUE(config->primary.tls->verify_hostname);
  EXPECT_TRUE(config->primary.tls->cert_file.empty());
}

TEST_F(ConfigTest, ThreeMistakesGiveThreeProblemsWithTheirLines) {
  fs::path path = kTestdata / "three_mistakes.yaml";
  auto config = loadConfig(path);
  ASSERT_FALSE(config.has_value());
  const auto& problems = config.error();
  ASSERT_EQ(problems.size(), 3u) << describeAll(problems);
  EXPECT_EQ(problems[0].describe(),
            path.string() + ":5: unknown key 'sesion_timeout_ms' in 'primary'; did you mean 'session_timeout_ms'?");
  EXPECT_EQ(problems[1].describe(), path.string() + ":11: sync.ephemerals must be one of skip, persist; got 'sometimes'");
  EXPECT_EQ(problems[2].describe(), path.string() + ":14: sync.max_delete_fraction must be between 0 and 1, got 1.5");
}

TEST_F(ConfigTest, ProblemsComeInLineOrder) {
  fs::path path = write("c.yaml",
                        "log: {level: loud}\n"
                        "primary:\n"
                        "  connect: a\n"
                        "backup: {connect: b:1}\n"
                        "sync:\n"
                        "  roots:\n"
                        "    - source: /a\n"
                        "    - source: /a/b\n"
                        "state_path: /a/s\n");
  auto config = loadConfig(path);
  ASSERT_FALSE(config.has_value());
  std::vector<int> lines;
  for (const auto& p : config.error()) lines.push_back(p.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 3, 8, 9})) << describeAll(config.error());
}

TEST_F(ConfigTest, MissingFileIsAProblemNamingIt) {
  fs::path path = dir_ / "nope.yaml";
  auto config = loadConfig(path);
  ASSERT_FALSE(config.has_value());
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_EQ(config.error()[0].describe(), path.string() + ": cannot read config file: No such file or directory");
}

TEST_F(ConfigTest, DirectoryIsAProblemNamingIt) {
  auto config = loadConfig(dir_);
  ASSERT_FALSE(config.has_value());
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_EQ(config.error()[0].describe(), dir_.string() + ": cannot read config file: it is a directory");
}

TEST_F(ConfigTest, EmptyFileIsOneProblem) {
  auto config = loadConfig(write("empty.yaml", "# nothing here\n"));
  ASSERT_FALSE(config.has_value());
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_NE(config.error()[0].message.find("the file is empty"), std::string::npos);
}

TEST_F(ConfigTest, SecondDocumentIsRejected) {
  auto config = loadConfig(write("two.yaml", kBase + "---\nprimary: {connect: x:1}\n"));
  ASSERT_FALSE(config.has_value());
  ASSERT_EQ(config.error().size(), 1u) << describeAll(config.error());
  EXPECT_EQ(config.error()[0].line, 9);
}

TEST(ProblemTest, DescribeOmitsAnUnknownLine) {
  EXPECT_EQ((Problem{"a.yaml", 7, "bad"}).describe(), "a.yaml:7: bad");
  EXPECT_EQ((Problem{"a.yaml", 0, "bad"}).describe(), "a.yaml: bad");
}

TEST(CheckTest, ZnodePaths) {
  for (const char* good : {"/", "/a", "/a/b", "/a.b/..c/d-e_f", "/zms/cluster/kafka_bj_01"}) {
    EXPECT_EQ(znodePathError(good), std::nullopt) << good;
  }
  for (const char* bad : {"", "a", "a/b", "/a/", "//", "/a//b", "/.", "/a/..", "/a/*", "/a\tb"}) {
    EXPECT_NE(znodePathError(bad), std::nullopt) << bad;
  }
}

TEST(CheckTest, Globs) {
  for (const char* good : {"/", "/**", "/a/*", "/a/**/b", "/a/x*y", "/*/*"}) {
    EXPECT_EQ(globError(good), std::nullopt) << good;
  }
  for (const char* bad : {"", "*", "a/*", "/a/", "/a//b", "/a/***", "/a**", "/**x/b", "/a/../b"}) {
    EXPECT_NE(globError(bad), std::nullopt) << bad;
  }
}

TEST(CheckTest, HostPorts) {
  EXPECT_EQ(hostPortError("127.0.0.1:0", true), std::nullopt);
  EXPECT_NE(hostPortError("127.0.0.1:0", false), std::nullopt);
  EXPECT_EQ(hostPortError("[::1]:2181", false), std::nullopt);
  EXPECT_NE(hostPortError("::1:2181", false), std::nullopt);
  EXPECT_NE(hostPortError(":2181", false), std::nullopt);
  EXPECT_NE(hostPortError("a:b", false), std::nullopt);
  EXPECT_NE(hostPortError("a: 1", false), std::nullopt);
  EXPECT_EQ(connectStringError("a:1,b:2,[::1]:3/chroot/x"), std::nullopt);
  EXPECT_NE(connectStringError("a:1,"), std::nullopt);
}

// connectOptions reads secrets; its errors must name where they came from
// and never what they are.
class ConnectOptionsTest : public ConfigTest {
 protected:
  SiteConfig site() {
    SiteConfig site;
    site.connect = "a:1,b:2/chroot";
    site.session_timeout_ms = 12000;
    site.connect_timeout_ms = 3000;
    site.max_in_flight = 77;
    return site;
  }
};

TEST_F(ConnectOptionsTest, CopiesTheSiteSettings) {
  auto options = connectOptions(site(), "backup");
  ASSERT_TRUE(options.has_value()) << options.error().describe();
  EXPECT_EQ(options->connect, "a:1,b:2/chroot");
  EXPECT_EQ(options->session_timeout, std::chrono::milliseconds(12000));
  EXPECT_EQ(options->connect_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(options->max_in_flight, 77u);
  EXPECT_EQ(options->name, "backup");
  EXPECT_TRUE(options->auth.empty());
}

TEST_F(ConnectOptionsTest, CarriesTheClientSettings) {
  SiteConfig s = site();
  auto defaults = connectOptions(s, "primary");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(defaults->backend, zk::Backend::kNative);
  EXPECT_FALSE(defaults->tls.enabled());
  s.client = zk::Backend::kLibzookeeper;
  s.tls = TlsConfig{"/ca.pem", "/c.pem", "/k.pem", false};
  s.multi_read = false;
  s.persistent_watches = false;
  s.max_packet_bytes = 1 << 20;
  auto options = connectOptions(s, "primary");
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->backend, zk::Backend::kLibzookeeper);
  EXPECT_TRUE(options->tls.enabled());
  EXPECT_EQ(options->tls.ca_file, "/ca.pem");
  EXPECT_EQ(options->tls.cert_file, "/c.pem");
  EXPECT_EQ(options->tls.key_file, "/k.pem");
  EXPECT_FALSE(options->tls.verify_hostname);
  EXPECT_FALSE(options->multi_read);
  EXPECT_FALSE(options->persistent_watches);
  EXPECT_EQ(options->max_packet_bytes, 1u << 20);
}

TEST_F(ConnectOptionsTest, ReadsCredentialsFromFileAndEnvironment) {
  SiteConfig s = site();
  s.auth.push_back(AuthConfig{"digest", writeSecret("p.digest", "replicator:s3cret\n").string(), ""});
  s.auth.push_back(AuthConfig{"digest", writeSecret("q.digest", "other:pa:ss\r\n").string(), ""});
  ASSERT_EQ(setenv("ZKS_TEST_CREDENTIALS", "envuser:envpass", 1), 0);
  s.auth.push_back(AuthConfig{"digest", "", "ZKS_TEST_CREDENTIALS"});
  auto options = connectOptions(s, "primary");
  unsetenv("ZKS_TEST_CREDENTIALS");
  ASSERT_TRUE(options.has_value()) << options.error().describe();
  ASSERT_EQ(options->auth.size(), 3u);
  EXPECT_EQ(options->auth[0].scheme, "digest");
  EXPECT_EQ(options->auth[0].credentials, "replicator:s3cret");
  EXPECT_EQ(options->auth[1].credentials, "other:pa:ss");
  EXPECT_EQ(options->auth[2].credentials, "envuser:envpass");
}

TEST_F(ConnectOptionsTest, MissingFileNamesTheFile) {
  SiteConfig s = site();
  std::string file = (dir_ / "absent.digest").string();
  s.auth.push_back(AuthConfig{"digest", file, ""});
  auto options = connectOptions(s, "primary");
  ASSERT_FALSE(options.has_value());
  EXPECT_EQ(options.error().code, ErrorCode::kIo);
  EXPECT_EQ(options.error().describe(), "cannot read primary credentials file: No such file or directory (" + file + ")");
}

TEST_F(ConnectOptionsTest, MalformedSecretIsNeverShown) {
  SiteConfig s = site();
  std::string file = writeSecret("bad.digest", "topsecretwithoutcolon\n").string();
  s.auth.push_back(AuthConfig{"digest", file, ""});
  auto options = connectOptions(s, "primary");
  ASSERT_FALSE(options.has_value());
  EXPECT_EQ(options.error().path, file);
  EXPECT_NE(options.error().message.find("user:password"), std::string::npos);
  EXPECT_EQ(options.error().describe().find("topsecret"), std::string::npos) << options.error().describe();

  SiteConfig two_lines = site();
  two_lines.auth.push_back(AuthConfig{"digest", writeSecret("two.digest", "user:pw\nmore:secret\n").string(), ""});
  auto second = connectOptions(two_lines, "primary");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().describe().find("secret"), std::string::npos) << second.error().describe();

  ASSERT_EQ(setenv("ZKS_TEST_BAD", "hiddenvalue", 1), 0);
  SiteConfig env = site();
  env.auth.push_back(AuthConfig{"digest", "", "ZKS_TEST_BAD"});
  auto third = connectOptions(env, "backup");
  unsetenv("ZKS_TEST_BAD");
  ASSERT_FALSE(third.has_value());
  EXPECT_NE(third.error().message.find("ZKS_TEST_BAD"), std::string::npos);
  EXPECT_EQ(third.error().describe().find("hiddenvalue"), std::string::npos) << third.error().describe();
}

// As ssh does with private keys: a secret others can read is refused, with
// one line naming the file and its mode, and never the secret.
TEST_F(ConnectOptionsTest, ACredentialsFileOthersCanReadIsRefused) {
  for (auto mode : {fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read,
                    fs::perms::owner_read | fs::perms::group_write}) {
    SiteConfig s = site();
    const fs::path file = write("open.digest", "replicator:s3cret\n");
    fs::permissions(file, mode);
    s.auth.push_back(AuthConfig{"digest", file.string(), ""});
    auto options = connectOptions(s, "backup");
    ASSERT_FALSE(options.has_value()) << "mode " << std::oct << static_cast<unsigned>(mode);
    EXPECT_EQ(options.error().path, file.string());
    char expected[64];
    std::snprintf(expected, sizeof expected, "permissions %04o", static_cast<unsigned>(mode));
    const std::string line = options.error().describe();
    EXPECT_NE(line.find(expected), std::string::npos) << line;
    EXPECT_NE(line.find("too open"), std::string::npos) << line;
    EXPECT_NE(line.find("chmod 600"), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
    fs::remove(file);
  }
  SiteConfig owner_only = site();
  owner_only.auth.push_back(AuthConfig{"digest", writeSecret("ok.digest", "replicator:s3cret\n").string(), ""});
  auto read_only = writeSecret("ro.digest", "replicator:s3cret\n");
  fs::permissions(read_only, fs::perms::owner_read);
  owner_only.auth.push_back(AuthConfig{"digest", read_only.string(), ""});
  auto options = connectOptions(owner_only, "backup");
  EXPECT_TRUE(options.has_value()) << options.error().describe();
}

TEST_F(ConnectOptionsTest, UnsetVariableIsNamed) {
  SiteConfig s = site();
  unsetenv("ZKS_TEST_UNSET");
  s.auth.push_back(AuthConfig{"digest", "", "ZKS_TEST_UNSET"});
  auto options = connectOptions(s, "backup");
  ASSERT_FALSE(options.has_value());
  EXPECT_EQ(options.error().describe(), "environment variable ZKS_TEST_UNSET (backup credentials) is not set");
}

TEST_F(ConnectOptionsTest, OnlyDigestIsSupported) {
  SiteConfig s = site();
  s.auth.push_back(AuthConfig{"sasl", "", "X"});
  auto options = connectOptions(s, "primary");
  ASSERT_FALSE(options.has_value());
  EXPECT_NE(options.error().message.find("only 'digest'"), std::string::npos);
}

}  // namespace
}  // namespace zks::config
