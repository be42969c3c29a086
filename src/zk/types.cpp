#include "zk/types.h"

namespace zks::zk {

ErrorClass classify(Code code) {
  switch (code) {
    case Code::kOk:
      return ErrorClass::kOk;
    case Code::kNoNode:
    case Code::kNodeExists:
    case Code::kBadVersion:
    case Code::kNotEmpty:
    case Code::kNoChildrenForEphemerals:
    case Code::kNoAuth:
    case Code::kInvalidAcl:
    case Code::kBadArguments:
    case Code::kUnimplemented:
      return ErrorClass::kAnswer;
    case Code::kConnectionLoss:
    case Code::kOperationTimeout:
    case Code::kSessionExpired:
    case Code::kSessionMoved:
    case Code::kClosing:
    case Code::kThrottled:
      return ErrorClass::kRetryable;
    case Code::kAuthFailed:
    case Code::kMarshallingError:
    case Code::kSystemError:
    case Code::kRuntimeInconsistency:
    case Code::kUnknown:
      return ErrorClass::kBug;
  }
  return ErrorClass::kBug;
}

std::string_view codeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNoNode: return "no node";
    case Code::kNodeExists: return "node exists";
    case Code::kBadVersion: return "bad version";
    case Code::kNotEmpty: return "not empty";
    case Code::kNoChildrenForEphemerals: return "no children for ephemerals";
    case Code::kNoAuth: return "not authorized";
    case Code::kInvalidAcl: return "invalid acl";
    case Code::kBadArguments: return "bad arguments";
    case Code::kUnimplemented: return "unimplemented";
    case Code::kConnectionLoss: return "connection loss";
    case Code::kOperationTimeout: return "operation timeout";
    case Code::kSessionExpired: return "session expired";
    case Code::kSessionMoved: return "session moved";
    case Code::kClosing: return "closing";
    case Code::kThrottled: return "throttled";
    case Code::kAuthFailed: return "authentication failed";
    case Code::kMarshallingError: return "marshalling error";
    case Code::kSystemError: return "system error";
    case Code::kRuntimeInconsistency: return "runtime inconsistency";
    case Code::kUnknown: return "unknown error";
  }
  return "unknown error";
}

NodeKind kindOf(const Stat& stat) {
  const auto owner = static_cast<uint64_t>(stat.ephemeral_owner);
  if (owner == 0) return NodeKind::kPersistent;
  if (owner == 0x8000000000000000ULL) return NodeKind::kContainer;
  if ((owner >> 56) == 0xFF) return NodeKind::kTtl;
  return NodeKind::kEphemeral;
}

std::string_view kindName(NodeKind kind) {
  switch (kind) {
    case NodeKind::kPersistent: return "persistent";
    case NodeKind::kEphemeral: return "ephemeral";
    case NodeKind::kContainer: return "container";
    case NodeKind::kTtl: return "ttl";
  }
  return "unknown";
}

AclList openAcl() { return {Acl{perm::kAll, "world", "anyone"}}; }

const std::string& opPath(const Op& op) {
  return std::visit([](const auto& o) -> const std::string& { return o.path; }, op);
}

namespace {
// Jute encodes a string or buffer as a 4-byte length and its bytes; a header
// per op (type, done flag, error) is 9 bytes. 16 bytes of slack per op keeps
// the estimate an upper bound.
constexpr size_t kOpOverhead = 9 + 16;
size_t str(const std::string& s) { return 4 + s.size(); }
}  // namespace

size_t serializedSize(const Op& op) {
  struct Visitor {
    size_t operator()(const CreateOp& o) const {
      size_t acl = 4;
      for (const auto& a : o.acl) acl += 4 + str(a.scheme) + str(a.id);
      return kOpOverhead + str(o.path) + str(o.data) + acl + 4 + 8;
    }
    size_t operator()(const SetOp& o) const { return kOpOverhead + str(o.path) + str(o.data) + 4; }
    size_t operator()(const DeleteOp& o) const { return kOpOverhead + str(o.path) + 4; }
    size_t operator()(const CheckOp& o) const { return kOpOverhead + str(o.path) + 4; }
  };
  return std::visit(Visitor{}, op);
}

std::string_view eventTypeName(EventType type) {
  switch (type) {
    case EventType::kCreated: return "created";
    case EventType::kDeleted: return "deleted";
    case EventType::kDataChanged: return "data changed";
    case EventType::kChildrenChanged: return "children changed";
    case EventType::kNotWatching: return "not watching";
  }
  return "unknown";
}

std::string_view sessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kConnecting: return "connecting";
    case SessionState::kConnected: return "connected";
    case SessionState::kExpired: return "expired";
    case SessionState::kAuthFailed: return "auth failed";
    case SessionState::kClosed: return "closed";
  }
  return "unknown";
}

}  // namespace zks::zk
