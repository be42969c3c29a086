#include "support/zk_session.h"

#include "zk/c_client_testing.h"
#include "zk/native/native_testing.h"

namespace zks::testing {

zk::ConnectOptions testClientOptions(const std::string& connect) {
  zk::ConnectOptions options;
  options.connect = connect;
  options.session_timeout = std::chrono::milliseconds(4000);
  options.connect_timeout = std::chrono::milliseconds(5000);
  options.name = "test";
  return options;
}

Result<std::unique_ptr<zk::Client>> connectClient(zk::ConnectOptions options) {
  const auto timeout = options.connect_timeout;
  auto client = zk::makeClient(std::move(options));
  if (auto st = client->reopen(timeout); !st) return std::unexpected(st.error());
  return client;
}

Status expireSession(zk::Client& client, std::chrono::milliseconds timeout) {
  // Each backend attaches a second connection to the session its own way.
  if (zk::isNativeClient(client)) return zk::expireNativeSessionForTesting(client, timeout);
  return zk::expireSessionForTesting(client, timeout);
}

}  // namespace zks::testing
