#include "zk/native/protocol.h"

namespace zks::zk::native {

Code codeOf(int32_t wire_error) {
  switch (wire_error) {
    case 0: return Code::kOk;
    case -1: return Code::kSystemError;
    case -2: return Code::kRuntimeInconsistency;
    case -3: return Code::kRuntimeInconsistency;  // DATAINCONSISTENCY
    case -4: return Code::kConnectionLoss;
    case -5: return Code::kMarshallingError;
    case -6: return Code::kUnimplemented;
    case -7: return Code::kOperationTimeout;
    case -8: return Code::kBadArguments;
    case -101: return Code::kNoNode;
    case -102: return Code::kNoAuth;
    case -103: return Code::kBadVersion;
    case -108: return Code::kNoChildrenForEphemerals;
    case -110: return Code::kNodeExists;
    case -111: return Code::kNotEmpty;
    case -112: return Code::kSessionExpired;
    case -113: return Code::kBadArguments;  // INVALIDCALLBACK
    case -114: return Code::kInvalidAcl;
    case -115: return Code::kAuthFailed;
    case -118: return Code::kSessionMoved;
    case -121: return Code::kNoNode;  // NOWATCHER
    case -124: return Code::kAuthFailed;  // SESSIONCLOSEDREQUIRESASLAUTH
    case -127: return Code::kThrottled;
    default: return Code::kUnknown;
  }
}

std::optional<EventType> eventTypeOf(int32_t wire_type) {
  switch (wire_type) {
    case 1: return EventType::kCreated;
    case 2: return EventType::kDeleted;
    case 3: return EventType::kDataChanged;
    case 4: return EventType::kChildrenChanged;
    default: return std::nullopt;
  }
}

int32_t createFlags(CreateMode mode) {
  switch (mode) {
    case CreateMode::kPersistent: return 0;
    case CreateMode::kEphemeral: return 1;
    case CreateMode::kPersistentSequential: return 2;
    case CreateMode::kEphemeralSequential: return 3;
    case CreateMode::kContainer: return 4;
    case CreateMode::kPersistentWithTtl: return 5;
    case CreateMode::kPersistentSequentialWithTtl: return 6;
  }
  return 0;
}

bool isSequential(CreateMode mode) {
  return mode == CreateMode::kPersistentSequential || mode == CreateMode::kEphemeralSequential ||
         mode == CreateMode::kPersistentSequentialWithTtl;
}

bool isTtl(CreateMode mode) {
  return mode == CreateMode::kPersistentWithTtl || mode == CreateMode::kPersistentSequentialWithTtl;
}

int32_t createOpcode(CreateMode mode) {
  if (mode == CreateMode::kContainer) return op::kCreateContainer;
  if (isTtl(mode)) return op::kCreateTtl;
  return op::kCreate;
}

}  // namespace zks::zk::native
