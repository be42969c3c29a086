#pragma once

// The project's own ZooKeeper value types. <zookeeper.h> is included by
// c_client.cpp only; everything else speaks these.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zks::zk {

// ZooKeeper result codes the replicator distinguishes. Values are ours, not
// the C client's; c_client.cpp translates.
enum class Code {
  kOk,
  // Answers: the server understood and said no. Expected; callers branch on them.
  kNoNode,
  kNodeExists,
  kBadVersion,
  kNotEmpty,
  kNoChildrenForEphemerals,
  kNoAuth,
  kInvalidAcl,
  kBadArguments,
  kUnimplemented,
  // Retryable: the outcome of the request is unknown or the session is gone.
  kConnectionLoss,
  kOperationTimeout,
  kSessionExpired,
  kSessionMoved,
  kClosing,
  kThrottled,
  // Bugs or hard failures.
  kAuthFailed,
  kMarshallingError,
  kSystemError,
  kRuntimeInconsistency,
  kUnknown,
};

enum class ErrorClass { kOk, kAnswer, kRetryable, kBug };

ErrorClass classify(Code code);
std::string_view codeName(Code code);
inline bool isRetryable(Code code) { return classify(code) == ErrorClass::kRetryable; }

struct Stat {
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t ctime = 0;  // ms since epoch
  int64_t mtime = 0;  // ms since epoch
  int32_t version = 0;
  int32_t cversion = 0;
  int32_t aversion = 0;
  int64_t ephemeral_owner = 0;
  int32_t data_length = 0;
  int32_t num_children = 0;
  int64_t pzxid = 0;
  bool operator==(const Stat&) const = default;
};

enum class NodeKind : uint8_t { kPersistent, kEphemeral, kContainer, kTtl };

// ZooKeeper encodes the kind in ephemeralOwner: 0 persistent,
// 0x8000000000000000 container, top byte 0xFF a TTL node (the TTL itself is
// not recoverable from the stat), anything else the owning session id.
NodeKind kindOf(const Stat& stat);
std::string_view kindName(NodeKind kind);

namespace perm {
inline constexpr int32_t kRead = 1;
inline constexpr int32_t kWrite = 2;
inline constexpr int32_t kCreate = 4;
inline constexpr int32_t kDelete = 8;
inline constexpr int32_t kAdmin = 16;
inline constexpr int32_t kAll = 31;
}  // namespace perm

struct Acl {
  int32_t perms = perm::kAll;
  std::string scheme;
  std::string id;
  bool operator==(const Acl&) const = default;
  auto operator<=>(const Acl&) const = default;
};
using AclList = std::vector<Acl>;

// world:anyone with every permission.
AclList openAcl();

enum class CreateMode : uint8_t {
  kPersistent,
  kPersistentSequential,
  kEphemeral,
  kEphemeralSequential,
  kContainer,
  kPersistentWithTtl,
  kPersistentSequentialWithTtl,
};

struct CreateOp {
  std::string path;
  std::string data;
  AclList acl = openAcl();
  CreateMode mode = CreateMode::kPersistent;
  int64_t ttl_ms = 0;  // only for the *WithTtl modes
};
struct SetOp {
  std::string path;
  std::string data;
  int32_t version = -1;  // -1: any
};
struct DeleteOp {
  std::string path;
  int32_t version = -1;
};
struct CheckOp {
  std::string path;
  int32_t version = -1;
};
using Op = std::variant<CreateOp, SetOp, DeleteOp, CheckOp>;

const std::string& opPath(const Op& op);

// An upper bound of the bytes `op` takes in a serialized multi request; used
// to keep one multi under the server's jute.maxbuffer.
size_t serializedSize(const Op& op);

// ---- results (copied out of the C client's buffers) ----

struct GetResult {
  Code code = Code::kOk;
  std::string data;
  Stat stat;
};
struct ChildrenResult {
  Code code = Code::kOk;
  std::vector<std::string> children;
  Stat stat;
};
struct StatResult {  // exists, set
  Code code = Code::kOk;
  Stat stat;
};
struct AclResult {
  Code code = Code::kOk;
  AclList acl;
  Stat stat;
};
struct CreateResult {
  Code code = Code::kOk;
  std::string path;  // the created path (with sequence suffix)
};
struct VoidResult {  // delete, setAcl, sync
  Code code = Code::kOk;
};
struct OpResult {
  Code code = Code::kOk;
  std::string path;  // create only
  Stat stat;         // set only
};
// ---- bulk reads (multiRead, op 22, servers 3.6+) ----

// One read inside a multiRead. Unlike multi, a multiRead is not a
// transaction: each op is answered on its own, and one op's error does not
// stop the others.
enum class ReadKind : uint8_t { kGetData, kGetChildren };
struct ReadOp {
  ReadKind kind = ReadKind::kGetData;
  std::string path;
};
struct ReadResult {
  Code code = Code::kOk;
  std::string data;                   // kGetData
  Stat stat;                          // kGetData only: the server sends no stat with multiRead's getChildren
  std::vector<std::string> children;  // kGetChildren
};
struct MultiReadResult {
  // kOk when the request was answered (then every op has its own code in
  // `results`, one per op, in order); otherwise why it was not (connection
  // loss, closing, ...) and `results` is empty.
  Code code = Code::kOk;
  std::vector<ReadResult> results;
};

struct MultiResult {
  // kOk when every op succeeded. Otherwise the first failing op's code; the
  // per-op results then say which one (the others are kRuntimeInconsistency
  // or kOk-but-rolled-back, as ZooKeeper reports them).
  Code code = Code::kOk;
  std::vector<OpResult> results;
};

// ---- watches and sessions ----

enum class EventType : uint8_t { kCreated, kDeleted, kDataChanged, kChildrenChanged, kNotWatching };
std::string_view eventTypeName(EventType type);

// addWatch modes (op 106, servers 3.6+). A persistent watch stays after it
// fires; a recursive one also fires for every descendant (created, deleted,
// data changed; never children changed).
enum class AddWatchMode : uint8_t { kPersistent, kPersistentRecursive };

// Which registrations in the client's watch registry an event matched. The
// client delivers an event once, with every kind of registration it matched;
// an event that matched none (ZOOKEEPER-4475: child events of descendants
// leak to a session that holds child watches) is dropped by the client.
namespace watch_origin {
inline constexpr uint8_t kOneShot = 1;      // a one-shot data, exists or child watch (now consumed)
inline constexpr uint8_t kPersistent = 2;   // a persistent watch on the event's path
inline constexpr uint8_t kRecursive = 4;    // a persistent recursive watch on the path or an ancestor
}  // namespace watch_origin

struct WatchEvent {
  EventType type;
  std::string path;
  uint64_t generation = 0;  // the session generation that set the watch
  uint8_t origins = watch_origin::kOneShot;
};

enum class SessionState : uint8_t { kConnecting, kConnected, kExpired, kAuthFailed, kClosed };
std::string_view sessionStateName(SessionState state);

struct SessionEvent {
  SessionState state;
  uint64_t generation = 0;
};

}  // namespace zks::zk
