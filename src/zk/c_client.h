#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "zk/client.h"
#include "zk/connect_options.h"

namespace zks::zk {

// The Client on libzookeeper-mt. Construct, then reopen() to connect.
//
// Threads: every callback and listener runs on one dispatcher thread the
// client owns for its whole life (so never on the caller's thread, and in
// completion order). Callbacks may issue requests, close() or reopen(); they
// must not destroy the client. The destructor closes the session and runs
// every callback still owed before it returns.
//
// Sessions: reopen() ends the current session (its pending requests complete
// with kClosing) and starts generation+1; it returns once connected and every
// `auth` entry is answered, or fails: kTimeout ("could not connect to
// ZooKeeper at '<connect>' within N ms"), kZooKeeper for refused auth (state
// kAuthFailed) or a bad connect string. On failure the new handle is closed
// and state() is kClosed (or kAuthFailed). Requests made while closed are
// answered kClosing; while reopen() runs they wait for the new session.
// After expiry, requests are answered kSessionExpired until reopen().
//
// Limits of the packaged C client (3.8), answered kUnimplemented without
// sending: a multi containing a TTL or container create. The server reports
// ephemeralOwner 0 for TTL and container nodes, so kindOf() on a real
// server tells only ephemeral from the rest.
//
// The C library's own log goes to spdlog at debug level (library level WARN).
std::unique_ptr<Client> makeCClient(ConnectOptions options);

}  // namespace zks::zk
