// The native client over TLS to ZooKeeper 3.8's secureClientPort (Netty,
// PEM key and trust stores): a good certificate works and resumes after a
// reset; every refusal is quick and says why; bad files are named.

#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "support/tcp_proxy.h"
#include "support/test_pki.h"
#include "support/zk_server.h"
#include "zk_native_harness.h"

namespace zks::testing {
namespace {

using zk::Code;
using zk::CreateOp;
using zk::SessionState;
using Clock = std::chrono::steady_clock;

struct Pki {
  std::filesystem::path dir;
  TestCa ca;
  TestCa rogue;  // a CA nobody trusts
  IssuedCert server;
  IssuedCert client;
  IssuedCert rogue_client;
  IssuedCert misnamed_server;  // names only zk1.example
};

class ZkNativeTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki();
    pki_->dir = std::filesystem::path(::testing::TempDir()) / ("zks-tls-" + std::to_string(::getpid()));
    auto ca = TestCa::create(pki_->dir, "trusted");
    auto rogue = TestCa::create(pki_->dir, "rogue");
    ASSERT_TRUE(ca && rogue) << "openssl could not make test certificates";
    pki_->ca = *ca;
    pki_->rogue = *rogue;
    auto server = ca->issue("server", "DNS:localhost,IP:127.0.0.1", true);
    auto client = ca->issue("client", "DNS:zkstandby-replicator", false);
    auto rogue_client = rogue->issue("rogue-client", "DNS:zkstandby-replicator", false);
    auto misnamed = ca->issue("misnamed-server", "DNS:zk1.example", true);
    ASSERT_TRUE(server && client && rogue_client && misnamed);
    pki_->server = *server;
    pki_->client = *client;
    pki_->rogue_client = *rogue_client;
    pki_->misnamed_server = *misnamed;

    ZkServerOptions options;
    options.tls = ZkServerOptions::Tls{pki_->server.key_store, pki_->ca.caFile()};
    server_ = new ZkServer(options);
    auto st = server_->start();
    ASSERT_TRUE(st) << st.error().describe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    if (pki_ != nullptr) std::filesystem::remove_all(pki_->dir, ec);
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    root_ = std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static zk::TlsOptions goodTls() {
    return zk::TlsOptions{pki_->ca.caFile(), pki_->client.cert_file, pki_->client.key_file, true};
  }
  static zk::ConnectOptions tlsOptions(const std::string& connect, zk::TlsOptions tls = goodTls()) {
    auto options = nativeOptions(connect);
    options.tls = std::move(tls);
    options.connect_timeout = 10000ms;
    return options;
  }
  // reopen() that must fail; returns its error after checking it came
  // well before the timeout (no hang).
  static Error refused(zk::ConnectOptions options, std::chrono::milliseconds within = 8000ms) {
    auto c = zk::makeNativeClient(options);
    const auto start = Clock::now();
    auto st = c->reopen(options.connect_timeout);
    EXPECT_LT(Clock::now() - start, within);
    EXPECT_FALSE(st);
    EXPECT_EQ(c->state(), SessionState::kClosed);
    if (!st) std::cout << "reopen() refused: " << st.error().describe() << "\n";
    return st ? Error{} : st.error();
  }

  static Pki* pki_;
  static ZkServer* server_;
  std::string root_;
};

Pki* ZkNativeTlsTest::pki_ = nullptr;
ZkServer* ZkNativeTlsTest::server_ = nullptr;

TEST_F(ZkNativeTlsTest, AGoodCertificateWorksByAddressAndByName) {
  auto c = connectNative(tlsOptions(server_->secureConnectString()));
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_, .data = "over tls"}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*c, root_).data, "over tls");
  // Large answers cross many TLS records.
  const std::string big(900 * 1024, 'b');
  ASSERT_EQ(zk::setSync(*c, zk::SetOp{.path = root_, .data = big}).code, Code::kOk);
  EXPECT_EQ(zk::getSync(*c, root_).data, big);
  auto reads = multiReadSync(*c, {{zk::ReadKind::kGetData, root_}, {zk::ReadKind::kGetChildren, "/"}});
  ASSERT_EQ(reads.code, Code::kOk);
  EXPECT_EQ(reads.results[0].data.size(), big.size());

  auto by_name = connectNative(tlsOptions("localhost:" + std::to_string(server_->securePort())));
  ASSERT_TRUE(by_name);
  EXPECT_EQ(zk::getSync(*by_name, root_).code, Code::kOk);
}

TEST_F(ZkNativeTlsTest, TheSessionResumesOverTlsAfterAReset) {
  auto proxy = TcpProxy::start(server_->securePort());
  ASSERT_TRUE(proxy);
  Events events;
  auto c = connectNative(tlsOptions((*proxy)->connectString()), &events);
  ASSERT_TRUE(c);
  ASSERT_EQ(zk::createSync(*c, CreateOp{.path = root_}).code, Code::kOk);
  ASSERT_EQ(zk::getSync(*c, root_, true).code, Code::kOk);
  const int64_t id = c->sessionId();
  (*proxy)->setMode(TcpProxy::Mode::kReset);
  ASSERT_TRUE(events.waitSession(SessionState::kConnecting, 1));
  (*proxy)->setMode(TcpProxy::Mode::kPass);
  ASSERT_TRUE(events.waitSessionCount(SessionState::kConnected, 1, 2));
  EXPECT_EQ(c->sessionId(), id);
  ASSERT_EQ(zk::setSync(*c, zk::SetOp{.path = root_, .data = "x"}).code, Code::kOk);
  ASSERT_TRUE(events.waitWatch(zk::EventType::kDataChanged, root_));
}

TEST_F(ZkNativeTlsTest, AnUntrustedServerCertificateIsRefused) {
  auto tls = goodTls();
  tls.ca_file = pki_->rogue.caFile();
  auto error = refused(tlsOptions(server_->secureConnectString(), tls));
  EXPECT_NE(error.message.find("server certificate is not trusted"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(server_->secureConnectString()), std::string::npos) << error.message;
}

TEST_F(ZkNativeTlsTest, AServerCertificateForAnotherNameIsRefusedUnlessTheCheckIsOff) {
  ZkServerOptions options;
  options.tls = ZkServerOptions::Tls{pki_->misnamed_server.key_store, pki_->ca.caFile()};
  ZkServer misnamed(options);
  ASSERT_TRUE(misnamed.start());
  auto error = refused(tlsOptions(misnamed.secureConnectString()));
  EXPECT_NE(error.message.find("not trusted"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("mismatch"), std::string::npos) << error.message;
  auto tls = goodTls();
  tls.verify_hostname = false;
  auto c = connectNative(tlsOptions(misnamed.secureConnectString(), tls));
  ASSERT_TRUE(c);
  EXPECT_EQ(zk::getSync(*c, "/").code, Code::kOk);
}

TEST_F(ZkNativeTlsTest, AMissingClientCertificateIsRefused) {
  auto tls = goodTls();
  tls.cert_file.clear();
  tls.key_file.clear();
  auto error = refused(tlsOptions(server_->secureConnectString(), tls));
  EXPECT_NE(error.message.find("TLS handshake with " + server_->secureConnectString() + " failed"),
            std::string::npos)
      << error.message;
}

TEST_F(ZkNativeTlsTest, AClientCertificateFromAnUnknownCaIsRefused) {
  auto tls = goodTls();
  tls.cert_file = pki_->rogue_client.cert_file;
  tls.key_file = pki_->rogue_client.key_file;
  auto error = refused(tlsOptions(server_->secureConnectString(), tls));
  EXPECT_NE(error.message.find("TLS handshake with " + server_->secureConnectString() + " failed"),
            std::string::npos)
      << error.message;
}

TEST_F(ZkNativeTlsTest, PlainTextToTheTlsPortAndTlsToThePlainPortAreRefused) {
  // The server closes a connection that does not start with a TLS
  // handshake: reopen() times out, saying so.
  auto plain = nativeOptions(server_->secureConnectString());
  plain.connect_timeout = 3000ms;
  auto error = refused(plain, 6000ms);
  EXPECT_EQ(error.code, ErrorCode::kTimeout);
  EXPECT_NE(error.message.find("closed the connection during the session handshake"), std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("TLS port"), std::string::npos) << error.message;

  auto tls_to_plain = tlsOptions(server_->connectString());
  tls_to_plain.connect_timeout = 3000ms;
  error = refused(tls_to_plain, 6000ms);
  EXPECT_NE(error.message.find("TLS handshake with " + server_->connectString() + " failed"), std::string::npos)
      << error.message;
}

TEST_F(ZkNativeTlsTest, BadFilesAreNamedInOneLine) {
  const auto dir = pki_->dir;
  std::ofstream(dir / "garbage.pem") << "not a certificate\n";
  struct Case {
    zk::TlsOptions tls;
    std::string file;
  };
  const std::string missing = (dir / "missing.pem").string();
  const std::string garbage = (dir / "garbage.pem").string();
  const std::vector<Case> cases = {
      {{missing, pki_->client.cert_file, pki_->client.key_file, true}, missing},
      {{garbage, pki_->client.cert_file, pki_->client.key_file, true}, garbage},
      {{pki_->ca.caFile(), missing, pki_->client.key_file, true}, missing},
      {{pki_->ca.caFile(), garbage, pki_->client.key_file, true}, garbage},
      {{pki_->ca.caFile(), pki_->client.cert_file, garbage, true}, garbage},
      // A key that belongs to another certificate.
      {{pki_->ca.caFile(), pki_->client.cert_file, pki_->rogue_client.key_file, true}, pki_->rogue_client.key_file},
  };
  for (const auto& c : cases) {
    auto error = refused(tlsOptions(server_->secureConnectString(), c.tls), 1000ms);
    EXPECT_EQ(error.code, ErrorCode::kInvalidArgument) << error.describe();
    EXPECT_NE(error.describe().find(c.file), std::string::npos) << error.describe();
    EXPECT_EQ(error.describe().find('\n'), std::string::npos) << error.describe();
  }
}

}  // namespace
}  // namespace zks::testing
