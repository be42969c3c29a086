// What diff prints of secrets, table-driven: the Redactor and both output
// formats, as pure functions of planned changes.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/diff_format.h"
#include "cli/redact.h"

namespace zks::cli {
namespace {

const std::string kHash = "ZDr7rh2ZFDd0Hw6iSxVnTjbtsjs=";

Redactor redactor(bool show = false, std::vector<std::string> paths = {"/**/config/users/*"}) {
  auto globs = mapping::GlobSet::compile(paths);
  EXPECT_TRUE(globs.has_value());
  return Redactor(show, std::move(*globs));
}

TEST(Redactor, DigestIdsLoseTheirHashOtherSchemesStay) {
  const Redactor r = redactor();
  EXPECT_EQ(r.aclId({zk::perm::kRead, "digest", "otheruser:" + kHash}), "otheruser:<redacted>");
  EXPECT_EQ(r.aclId({zk::perm::kAll, "world", "anyone"}), "anyone");
  EXPECT_EQ(r.aclId({zk::perm::kAll, "ip", "10.0.0.0/8"}), "10.0.0.0/8");
  EXPECT_EQ(r.aclId({zk::perm::kAll, "x509", "CN=zks"}), "CN=zks");
  EXPECT_EQ(redactor(true).aclId({zk::perm::kRead, "digest", "otheruser:" + kHash}), "otheruser:" + kHash);
}

struct PayloadCase {
  std::string name;
  std::string data;
  std::string shown;
};

TEST(Redactor, SecretLookingFieldsOfPropertiesAndJsonPayloads) {
  const Redactor r = redactor();
  const std::vector<PayloadCase> cases = {
      {"properties", "host=a\npassword=hunter2\n", "host=a\npassword=<redacted>\n"},
      {"properties with colon and spaces", "  sasl.jaas.config : x y z\nport=1", "  sasl.jaas.config :<redacted>\nport=1"},
      {"comment kept", "# password=old\nuser=u", "# password=old\nuser=u"},
      {"json nested", R"({"a":1,"auth":{"Token":"t0k","user":"u"}})", R"({"a":1,"auth":{"Token":"<redacted>","user":"u"}})"},
      {"json whole secret object", R"({"credentials":{"solr":"hash salt"}})", R"({"credentials":"<redacted>"})"},
      {"kafka scram", R"({"version":1,"config":{"SCRAM-SHA-512":"salt=c2FsdA==,stored_key=a"}})",
       R"({"version":1,"config":{"SCRAM-SHA-512":"<redacted>"}})"},
      {"nothing secret", R"({"clusterName":"kafka_sh_01"})", R"({"clusterName":"kafka_sh_01"})"},
      {"plain text", "just some text", "just some text"},
  };
  for (const auto& c : cases) EXPECT_EQ(r.payload(c.data), c.shown) << c.name;
  EXPECT_EQ(redactor(true).payload("password=hunter2"), "password=hunter2");
}

TEST(Redactor, SecretPathsMatchThePrimaryOrTheBackupPath) {
  const Redactor r = redactor(false, {"/**/config/users/*", "/vault/**"});
  EXPECT_TRUE(r.secretNode(plan::Change{.path = "/kafka/config/users/alice"}));
  EXPECT_TRUE(r.secretNode(plan::Change{.path = "/b/x", .source_path = "/vault/x"}));
  EXPECT_FALSE(r.secretNode(plan::Change{.path = "/kafka/config/topics/t"}));
  EXPECT_FALSE(redactor(true).secretNode(plan::Change{.path = "/config/users/alice"}));
}

std::vector<plan::Change> sampleChanges() {
  return {
      plan::Change{.kind = plan::ChangeKind::kCreate,
                   .path = "/app/config/users/alice",
                   .source_path = "/app/config/users/alice",
                   .after = R"({"config":{"SCRAM-SHA-256":"salt=abc,stored_key=SECRETKEY"}})"},
      plan::Change{.kind = plan::ChangeKind::kUpdate,
                   .path = "/app/svc",
                   .source_path = "/app/svc",
                   .before = "host=a\npassword=oldpass\n",
                   .after = "host=b\npassword=newpass\n"},
      plan::Change{.kind = plan::ChangeKind::kSetAcl,
                   .path = "/app/guarded",
                   .source_path = "/app/guarded",
                   .acl = {{zk::perm::kRead, "digest", "otheruser:" + kHash}},
                   .acl_before = zk::openAcl()},
  };
}

TEST(DiffFormat, BothFormatsRedactByDefaultAndShowEverythingWhenAsked) {
  const auto changes = sampleChanges();
  const DiffSummary summary = summarize(changes);
  for (bool json : {false, true}) {
    SCOPED_TRACE(json ? "json" : "text");
    auto format = [&](const Redactor& r) {
      return json ? formatDiffJson(changes, summary, r) : formatDiffText(changes, summary, r);
    };
    const std::string hidden = format(redactor());
    for (const char* secret : {"SECRETKEY", "oldpass", "newpass", kHash.c_str()}) {
      EXPECT_EQ(hidden.find(secret), std::string::npos) << secret << " shown:\n" << hidden;
    }
    EXPECT_NE(hidden.find("digest:otheruser:<redacted>:1"), std::string::npos) << hidden;
    EXPECT_NE(hidden.find("host"), std::string::npos) << "other fields stay: " << hidden;
    const std::string shown = format(redactor(true));
    for (const char* secret : {"SECRETKEY", "oldpass", "newpass", kHash.c_str()}) {
      EXPECT_NE(shown.find(secret), std::string::npos) << secret << " hidden:\n" << shown;
    }
  }
  auto doc = nlohmann::json::parse(formatDiffJson(changes, summary, redactor()));
  EXPECT_EQ(doc["secrets_redacted"], true);
  EXPECT_EQ(doc["changes"][0]["after"]["redacted"], true);
  EXPECT_GT(doc["changes"][0]["after"]["bytes"].get<int>(), 10);
  EXPECT_EQ(doc["changes"][1]["fields"][1]["field"], "password");
  EXPECT_EQ(doc["changes"][1]["fields"][1]["before"], "<redacted>");
  EXPECT_EQ(nlohmann::json::parse(formatDiffJson(changes, summary, redactor(true)))["secrets_redacted"], false);
  EXPECT_NE(formatDiffText(changes, summary, redactor()).find("data: <redacted: "), std::string::npos);
}

}  // namespace
}  // namespace zks::cli
