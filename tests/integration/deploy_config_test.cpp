// The shipped example config (deploy/zkstandby.yaml) as an operator would
// check it: the real loader accepts it, it agrees with the shipped stunnel
// tunnel and systemd unit, and the values its comments call defaults are the
// defaults.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace zks::config {
namespace {

namespace fs = std::filesystem;

const fs::path kDeploy = fs::path(ZKS_SOURCE_DIR) / "deploy";

Config loadExample() {
  auto config = loadConfig(kDeploy / "zkstandby.yaml");
  std::string problems;
  if (!config) {
    for (const auto& p : config.error()) problems += p.describe() + "\n";
  }
  EXPECT_TRUE(config.has_value()) << problems;
  return config ? *config : Config{};
}

// The values of `accept = ...` in a stunnel config, in file order.
std::vector<std::string> acceptAddresses(const fs::path& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in) << file;
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    const std::string key = "accept";
    if (line.rfind(key, 0) != 0) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || line.find_first_not_of(' ', key.size()) != eq) continue;
    auto value = line.substr(line.find_first_not_of(' ', eq + 1));
    out.push_back(value.substr(0, value.find_last_not_of(" \r") + 1));
  }
  return out;
}

TEST(DeployExampleConfig, LoadsWithoutProblems) {
  auto config = loadConfig(kDeploy / "zkstandby.yaml");
  std::string problems;
  if (!config) {
    for (const auto& p : config.error()) problems += p.describe() + "\n";
  }
  EXPECT_TRUE(config.has_value()) << problems;
}

// The connect string names the replicator-side tunnel's accept ports, one per
// primary member, in the same order.
TEST(DeployExampleConfig, PrimaryConnectsThroughTheShippedTunnel) {
  const Config config = loadExample();
  auto accepts = acceptAddresses(kDeploy / "stunnel" / "zkstandby-client.conf");
  ASSERT_EQ(accepts.size(), 3u);
  std::string want;
  for (const auto& a : accepts) {
    EXPECT_EQ(a.rfind("127.0.0.1:", 0), 0u) << "the plain side of the tunnel must listen on loopback only: " << a;
    want += (want.empty() ? "" : ",") + a;
  }
  EXPECT_EQ(config.primary.connect, want);
}

// The unit makes /etc/zkstandby readable and nothing else is needed: the
// credential files must live there.
TEST(DeployExampleConfig, CredentialsLiveInEtcZkstandby) {
  const Config config = loadExample();
  std::vector<AuthConfig> all = config.primary.auth;
  all.insert(all.end(), config.backup.auth.begin(), config.backup.auth.end());
  ASSERT_EQ(all.size(), 2u);
  for (const auto& auth : all) {
    EXPECT_EQ(auth.scheme, "digest");
    EXPECT_EQ(fs::path(auth.credentials_file).parent_path(), fs::path("/etc/zkstandby"));
  }
}

TEST(DeployExampleConfig, MappingIsTheZmsRulesBesideTheConfig) {
  const Config config = loadExample();
  ASSERT_EQ(config.mapping.files.size(), 1u);
  EXPECT_EQ(config.mapping.files[0], (kDeploy / "mappings" / "zms.yaml").lexically_normal());
}

TEST(DeployExampleConfig, ZmsLayoutChoices) {
  const Config config = loadExample();
  ASSERT_EQ(config.sync.roots.size(), 1u);
  EXPECT_EQ(config.sync.roots[0].source, "/zms");
  EXPECT_EQ(config.sync.roots[0].target, "/zms");
  EXPECT_EQ(config.sync.exclude, (std::vector<std::string>{"/zms/topic/*/*", "/zms/consumergroup/*/*"}));
  // ZMS clients' ephemeral registrations are never copied.
  EXPECT_EQ(config.sync.ephemerals, EphemeralPolicy::kSkip);
}

// Every other value the example spells out is the documented default, as its
// comments say.
TEST(DeployExampleConfig, SpelledOutValuesAreTheDefaults) {
  const Config config = loadExample();
  const Config defaults;
  for (const SiteConfig* site : {&config.primary, &config.backup}) {
    EXPECT_EQ(site->session_timeout_ms, defaults.primary.session_timeout_ms);
    EXPECT_EQ(site->connect_timeout_ms, defaults.primary.connect_timeout_ms);
  }
  EXPECT_EQ(config.sync.acls, defaults.sync.acls);
  EXPECT_EQ(config.sync.deletes, defaults.sync.deletes);
  EXPECT_EQ(config.sync.max_delete_fraction, defaults.sync.max_delete_fraction);
  EXPECT_EQ(config.sync.audit_interval_s, defaults.sync.audit_interval_s);
  EXPECT_EQ(config.state_path, defaults.state_path);
  EXPECT_EQ(config.http.listen, defaults.http.listen);
  EXPECT_EQ(config.log.level, defaults.log.level);
  EXPECT_EQ(config.log.format, defaults.log.format);
}

}  // namespace
}  // namespace zks::config
