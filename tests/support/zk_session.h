#pragma once

// Helpers for tests that talk to a real server through the libzookeeper-mt
// client.

#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "zk/c_client.h"
#include "zk/client.h"

namespace zks::testing {

// Options suited to a local test server: a 4 s session timeout (so a
// partition expires a session quickly) and a 5 s connect timeout.
zk::ConnectOptions testClientOptions(const std::string& connect);

// makeCClient(options) and reopen(options.connect_timeout).
Result<std::unique_ptr<zk::Client>> connectClient(zk::ConnectOptions options);

// Expires `client`'s current session on the server and returns once the
// client has seen it (state() == kExpired). The client must come from
// makeCClient() and be connected.
Status expireSession(zk::Client& client, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace zks::testing
