#pragma once

#include <expected>
#include <string>
#include <utility>

namespace zks {

// What went wrong, in the classes callers act on. ZooKeeper's own answers
// have their own enum (zk::Code); this one is for the layers above it.
enum class ErrorCode {
  kInvalidArgument,  // bad user input: config, flags, a file that does not parse
  kIo,               // a local file or socket could not be used
  kZooKeeper,        // a ZooKeeper request failed (message names the zk code)
  kTimeout,          // a deadline passed (connect, wait for condition)
  kMapping,          // a node could not be mapped
  kConflict,         // the world changed under us; re-read and re-plan
  kFenced,           // the site was failed over or this writer was deposed
  kInternal,         // a bug
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string path;  // the znode or file concerned, when there is one

  // "message (path)" or "message": one line, meant for an operator.
  std::string describe() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message, std::string path = {}) {
  return std::unexpected(Error{code, std::move(message), std::move(path)});
}

}  // namespace zks
