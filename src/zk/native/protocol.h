#pragma once

// ZooKeeper wire constants: operation codes, reserved xids, error codes,
// watch event types and create flags, as the 3.8 server defines them
// (ZooDefs.OpCode, KeeperException.Code, Watcher.Event, CreateMode).

#include <cstdint>
#include <optional>

#include "zk/types.h"

namespace zks::zk::native {

namespace op {
inline constexpr int32_t kNotification = 0;
inline constexpr int32_t kCreate = 1;
inline constexpr int32_t kDelete = 2;
inline constexpr int32_t kExists = 3;
inline constexpr int32_t kGetData = 4;
inline constexpr int32_t kSetData = 5;
inline constexpr int32_t kGetAcl = 6;
inline constexpr int32_t kSetAcl = 7;
inline constexpr int32_t kGetChildren = 8;
inline constexpr int32_t kSync = 9;
inline constexpr int32_t kPing = 11;
inline constexpr int32_t kGetChildren2 = 12;
inline constexpr int32_t kCheck = 13;
inline constexpr int32_t kMulti = 14;
inline constexpr int32_t kCreate2 = 15;
inline constexpr int32_t kRemoveWatches = 18;
inline constexpr int32_t kCreateContainer = 19;
inline constexpr int32_t kCreateTtl = 21;
inline constexpr int32_t kMultiRead = 22;
inline constexpr int32_t kAuth = 100;
inline constexpr int32_t kSetWatches = 101;
inline constexpr int32_t kSetWatches2 = 105;
inline constexpr int32_t kAddWatch = 106;
inline constexpr int32_t kCloseSession = -11;
inline constexpr int32_t kError = -1;  // the type of a failed op's result inside multi
}  // namespace op

// Xids the protocol reserves; requests use positive ones.
namespace xid {
inline constexpr int32_t kNotification = -1;
inline constexpr int32_t kPing = -2;
inline constexpr int32_t kAuth = -4;
inline constexpr int32_t kSetWatches = -8;
}  // namespace xid

// KeeperException.Code values the client tells apart.
namespace err {
inline constexpr int32_t kOk = 0;
inline constexpr int32_t kRuntimeInconsistency = -2;
inline constexpr int32_t kUnimplemented = -6;
inline constexpr int32_t kNoNode = -101;
inline constexpr int32_t kAuthFailed = -115;
inline constexpr int32_t kNoWatcher = -121;
}  // namespace err

// The server's error code as ours. NOWATCHER (removeWatches on a path this
// session does not watch) reads as kNoNode: there is no such watch.
Code codeOf(int32_t wire_error);

// Watcher.Event.EventType. None (-1) carries session state, which this
// client learns from the connection itself; it maps to nothing.
std::optional<EventType> eventTypeOf(int32_t wire_type);

// CreateMode.toFlag().
int32_t createFlags(CreateMode mode);
bool isSequential(CreateMode mode);
bool isTtl(CreateMode mode);
// The opcode that creates a node of `mode` (container and TTL nodes have
// their own, with a Create2Response reply).
int32_t createOpcode(CreateMode mode);
// EphemeralType.TTL's limit: the TTL shares ephemeralOwner with a marker.
inline constexpr int64_t kMaxTtlMs = (int64_t{1} << 40) - 1;

// addWatch modes (AddWatchMode) and removeWatches types (WatcherType).
inline constexpr int32_t kAddWatchPersistent = 0;
inline constexpr int32_t kAddWatchPersistentRecursive = 1;
inline constexpr int32_t kWatcherTypeAny = 3;

// ConnectRequest's protocol version; the session password's length.
inline constexpr int32_t kProtocolVersion = 0;
inline constexpr size_t kPasswordBytes = 16;

}  // namespace zks::zk::native
