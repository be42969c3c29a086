#include "common/error.h"

namespace zks {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kZooKeeper: return "zookeeper error";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kMapping: return "mapping error";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kFenced: return "fenced";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Error::describe() const {
  if (path.empty()) return message;
  return message + " (" + path + ")";
}

}  // namespace zks
