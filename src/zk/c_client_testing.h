#pragma once

// Test-only hooks into the libzookeeper-mt client (c_client.cpp). Not for
// production code.

#include <chrono>

#include "common/error.h"
#include "zk/client.h"

namespace zks::zk {

// Makes the server expire `client`'s current session, the way a long
// partition would: a second handle attaches to the same session id and
// password and closes it. Returns once `client` has seen the expiry
// (state() == kExpired and the kExpired SessionEvent posted), or fails after
// `timeout`. `client` must come from makeCClient() and be connected.
Status expireSessionForTesting(Client& client, std::chrono::milliseconds timeout);

}  // namespace zks::zk
