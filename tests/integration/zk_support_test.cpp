// The test harness itself: a real server that starts, stops, crashes and
// restarts on the same port and data, and a proxy whose faults a client sees.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <gtest/gtest.h>

#include "support/sha1.h"
#include "support/tcp_proxy.h"
#include "support/wait.h"
#include "support/zk_server.h"

namespace zks::testing {
namespace {

using namespace std::chrono_literals;

// What a raw socket sees when it asks `port` "ruok": the answer, "" when the
// peer says nothing for `wait`, or "reset"/"closed".
std::string ask(int port, std::chrono::milliseconds wait) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "refused";
  }
  timeval tv{0, static_cast<suseconds_t>(wait.count() * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // A reset that arrives before the send is reported by the send.
  if (::send(fd, "ruok", 4, MSG_NOSIGNAL) < 0) {
    int err = errno;
    ::close(fd);
    return err == ECONNRESET || err == EPIPE ? "reset" : "send failed";
  }
  char buf[64];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  int err = errno;
  ::close(fd);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  if (n == 0) return "closed";
  if (err == ECONNRESET) return "reset";
  return "";
}

TEST(Sha1, MatchesKnownDigests) {
  auto d = sha1("abc");
  EXPECT_EQ(d[0], 0xa9);
  EXPECT_EQ(d[1], 0x99);
  EXPECT_EQ(d[19], 0x9d);
  // The superDigest example from ZooKeeper's administrator guide.
  EXPECT_EQ(ZkServer::digestId("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
}

TEST(ZkServer, StartsStopsAndRestartsOnTheSamePortAndData) {
  ZkServer server;
  ASSERT_TRUE(server.start()) << server.logFile();
  const int port = server.port();
  EXPECT_GT(port, 0);
  EXPECT_EQ(server.connectString(), "127.0.0.1:" + std::to_string(port));
  auto ruok = server.fourLetterWord("ruok");
  ASSERT_TRUE(ruok);
  EXPECT_EQ(*ruok, "imok");

  ASSERT_TRUE(server.stop());
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(server.fourLetterWord("ruok", 500ms));

  ASSERT_TRUE(server.restart());
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(*server.fourLetterWord("ruok"), "imok");

  server.kill9();
  EXPECT_FALSE(server.running());
  ASSERT_TRUE(server.start());
  EXPECT_EQ(server.port(), port);
  auto stat = server.fourLetterWord("srvr");
  ASSERT_TRUE(stat);
  EXPECT_NE(stat->find("Mode: standalone"), std::string::npos) << *stat;
}

TEST(ZkServer, TwoServersGetDifferentPorts) {
  ZkServer a, b;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.dataDir(), b.dataDir());
}

TEST(TcpProxy, PassesBlackholesAndResets) {
  ZkServer server;
  ASSERT_TRUE(server.start());
  auto proxy = TcpProxy::start(server.port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  EXPECT_EQ(p.connectString(), "127.0.0.1:" + std::to_string(p.listenPort()));

  EXPECT_EQ(ask(p.listenPort(), 2000ms), "imok");

  p.setMode(TcpProxy::Mode::kBlackhole);
  // Accepted, then silence: no answer, no close.
  EXPECT_EQ(ask(p.listenPort(), 300ms), "");

  p.setMode(TcpProxy::Mode::kReset);
  EXPECT_EQ(ask(p.listenPort(), 2000ms), "reset");

  p.setMode(TcpProxy::Mode::kPass);
  EXPECT_EQ(ask(p.listenPort(), 2000ms), "imok");
}

TEST(TcpProxy, HeldConnectionResumesAfterBlackhole) {
  ZkServer server;
  ASSERT_TRUE(server.start());
  auto proxy = TcpProxy::start(server.port());
  ASSERT_TRUE(proxy);
  auto& p = **proxy;
  p.setMode(TcpProxy::Mode::kBlackhole);

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(p.listenPort()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::send(fd, "ruok", 4, MSG_NOSIGNAL);
  ASSERT_TRUE(waitFor([&] { return p.connections() == 1; }, 2s));

  p.setMode(TcpProxy::Mode::kPass);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[16];
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(std::string(buf, 4), "imok");
}

TEST(TcpProxy, RefusesWhenTheTargetIsDown) {
  ZkServer server;
  ASSERT_TRUE(server.start());
  auto proxy = TcpProxy::start(server.port());
  ASSERT_TRUE(proxy);
  server.kill9();
  const auto answer = ask((*proxy)->listenPort(), 2000ms);
  EXPECT_TRUE(answer == "reset" || answer == "closed") << answer;
}

}  // namespace
}  // namespace zks::testing
