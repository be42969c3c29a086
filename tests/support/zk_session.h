#pragma once

// Helpers for tests that talk to a real server through one of the product's
// clients (the native one or libzookeeper-mt, as options.backend says).

#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "zk/client.h"
#include "zk/connect_options.h"

namespace zks::testing {

// Options suited to a local test server: a 4 s session timeout (so a
// partition expires a session quickly) and a 5 s connect timeout. The
// backend is ConnectOptions' default unless the caller sets it.
zk::ConnectOptions testClientOptions(const std::string& connect);

// makeClient(options) and reopen(options.connect_timeout).
Result<std::unique_ptr<zk::Client>> connectClient(zk::ConnectOptions options);

// Expires `client`'s current session on the server and returns once the
// client has seen it (state() == kExpired). Works for both backends; the
// client must be connected.
Status expireSession(zk::Client& client, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace zks::testing
