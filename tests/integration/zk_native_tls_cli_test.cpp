// `zkstandby sync` and `zkstandby run` end to end over TLS: both sites'
// ZooKeeper servers serve a secureClientPort with mutual TLS, the config
// names the certificates with `tls:`, and the backup is checked through
// kazoo on the plain port against map(primary).

#include <signal.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "daemon_harness.h"
#include "support/test_pki.h"
#include "support/wait.h"
#include "support/zk_server.h"
#include "support/zk_session.h"
#include "zk/blocking.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;

const std::string kReplicator = "zks:replicator-secret";

class ZkNativeTlsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<TempDir>();
    auto ca = TestCa::create(tmp_->path() / "pki", "site");
    ASSERT_TRUE(ca);
    auto server_cert = ca->issue("zk-server", "DNS:localhost,IP:127.0.0.1", true);
    auto client_cert = ca->issue("replicator", "DNS:zkstandby-replicator", false);
    ASSERT_TRUE(server_cert && client_cert);
    ca_ = *ca;
    client_ = *client_cert;
    ZkServerOptions o;
    o.super_user = "super:super-secret";
    o.tls = ZkServerOptions::Tls{server_cert->key_store, ca_.caFile()};
    primary_ = std::make_unique<ZkServer>(o);
    backup_ = std::make_unique<ZkServer>(o);
    ASSERT_TRUE(primary_->start());
    ASSERT_TRUE(backup_->start());
    tmp_->write("mapping.yaml", bench::zmsMappingYaml(shape_));
    tmp_->write("replicator.digest", kReplicator + "\n");
    // The primary's applications write over the plain port.
    auto options = testClientOptions(primary_->connectString());
    options.auth = {{"digest", kReplicator}};
    auto p = connectClient(options);
    ASSERT_TRUE(p) << p.error().describe();
    p_ = std::move(*p);
    ASSERT_TRUE(bench::writeZmsTree(*p_, shape_));
  }

  // Certificate paths relative to the config file, as an operator writes them.
  std::string site(const std::string& name, const ZkServer& server) const {
    const auto rel = [&](const std::string& file) { return std::filesystem::relative(file, tmp_->path()).string(); };
    return name + ":\n  connect: \"" + server.secureConnectString() +
           "\"\n  session_timeout_ms: 4000\n  connect_timeout_ms: 5000\n  client: native\n"
           "  tls:\n    ca_file: " + rel(ca_.caFile()) + "\n    cert_file: " + rel(client_.cert_file) +
           "\n    key_file: " + rel(client_.key_file) + "\n    verify_hostname: true\n"
           "  auth:\n    - scheme: digest\n      credentials_file: replicator.digest\n";
  }
  std::string writeConfig(int http_port) {
    const std::string y = site("primary", *primary_) + site("backup", *backup_) +
                          "sync:\n  roots:\n    - source: /zms\n  exclude:\n    - /zms/topic/*/*\n"
                          "    - /zms/consumergroup/*/*\n  max_delete_fraction: 1.0\n"
                          "mapping:\n  files: [ mapping.yaml ]\nhttp:\n  listen: \"" +
                          (http_port > 0 ? "127.0.0.1:" + std::to_string(http_port) : std::string()) + "\"\n";
    return tmp_->write("zkstandby.yaml", y).string();
  }
  Tree dump(const ZkServer& server) { return dumpTree(server.connectString(), "/zms", {kReplicator}); }

  bench::ZmsShape shape_;
  std::unique_ptr<TempDir> tmp_;
  TestCa ca_;
  IssuedCert client_;
  std::unique_ptr<ZkServer> primary_;
  std::unique_ptr<ZkServer> backup_;
  std::unique_ptr<zk::Client> p_;
};

TEST_F(ZkNativeTlsCliTest, SyncCopiesTheTreeOverTls) {
  const auto config = writeConfig(0);
  auto validate = zkstandby({"validate", "-c", config});
  EXPECT_EQ(validate.exit_code, 0) << validate.out << validate.err;
  auto sync = zkstandby({"sync", "-c", config});
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  const auto diffs = treeDifferences(expectedBackup(dump(*primary_)), dump(*backup_));
  EXPECT_TRUE(diffs.empty()) << describe(diffs);
  EXPECT_GT(dump(*backup_).size(), 10u);
  auto diff = zkstandby({"diff", "-c", config});
  EXPECT_EQ(diff.exit_code, 0) << diff.out << diff.err;
}

TEST_F(ZkNativeTlsCliTest, RunReplicatesOverTlsAndStopsCleanly) {
  const int http_port = freeLoopbackPort();
  const auto config = writeConfig(http_port);
  DaemonProcess daemon("tls", config, http_port, tmp_->path() / "daemon.log");
  ASSERT_TRUE(daemon.start());
  ASSERT_TRUE(daemon.waitReady(60s)) << daemon.logTail();
  ASSERT_EQ(zk::createSync(*p_, {.path = "/zms/topic/tls_topic", .data = "clusterName=kafka_bj_01\ntype=topic\n"}).code,
            zk::Code::kOk);
  Tree want;
  const bool converged = waitFor(
      [&] {
        want = expectedBackup(dump(*primary_));
        return want.count("/zms/topic/tls_topic") && treeDifferences(want, dump(*backup_)).empty();
      },
      30s, 100ms);
  EXPECT_TRUE(converged) << describe(treeDifferences(want, dump(*backup_))) << daemon.logTail();
  daemon.signal(SIGTERM);
  auto status = daemon.waitExit(30s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << daemon.logTail();
}

TEST_F(ZkNativeTlsCliTest, AnUntrustedServerIsAOneLineErrorWithExitStatus2) {
  auto rogue = TestCa::create(tmp_->path() / "rogue", "rogue");
  ASSERT_TRUE(rogue);
  std::filesystem::copy_file(rogue->caFile(), ca_.caFile(), std::filesystem::copy_options::overwrite_existing);
  const auto config = writeConfig(0);
  const auto start = std::chrono::steady_clock::now();
  auto sync = zkstandby({"sync", "-c", config}, 30s);
  EXPECT_EQ(sync.exit_code, 2) << sync.out << sync.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_NE(sync.err.find("server certificate is not trusted"), std::string::npos) << sync.err;
}

}  // namespace
}  // namespace zks::testing
