#pragma once

// Test-only hooks into the native client. Not for production code.

#include <chrono>
#include <cstdint>

#include "common/error.h"
#include "zk/client.h"

namespace zks::zk {

// True when `client` came from makeNativeClient().
bool isNativeClient(const Client& client);

// Makes the server expire `client`'s current session, as a long partition
// would: a second connection attaches to the same session id and password
// and closes the session. Returns once `client` has seen the expiry
// (state() == kExpired and the kExpired SessionEvent posted), or fails
// after `timeout`. `client` must be a connected native client.
Status expireNativeSessionForTesting(Client& client, std::chrono::milliseconds timeout);

// SetWatches/SetWatches2 packets the current session sent on reconnects.
uint64_t setWatchesPacketsForTesting(const Client& client);

}  // namespace zks::zk
