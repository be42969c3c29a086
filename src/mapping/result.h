#pragma once

// What mapping one node gives. Part of the public API (mapping_set.h).

#include <string>
#include <vector>

namespace zks::mapping {

// One value the mapping changed, for `map` and `diff` to show.
struct Change {
  std::string field;   // properties key, concrete JSON pointer, "path segment", or "replace /REGEX/"
  std::string before;  // decoded value (a property's unescaped text, a JSON string's content)
  std::string after;
};

enum class Outcome : uint8_t {
  kMapped,         // path and data hold the backup node
  kNotReplicated,  // outside every root or excluded; `reason` says which
  kFailed,         // the node cannot be mapped; nothing of it may be written
};

enum class FailureKind : uint8_t {
  kNone,
  kUnmapped,  // unmapped: error met a value missing from its table
  kParse,     // the payload does not parse in the rule's format
  kTooLarge,  // the mapped payload exceeds kMaxDataBytes
  kBadPath,   // the mapped path is not a valid znode path
};
std::string_view failureKindName(FailureKind kind);

// ZooKeeper's default jute.maxbuffer is 1 MiB for a whole request, so no
// larger payload could be written.
inline constexpr size_t kMaxDataBytes = 1024 * 1024;

struct MapResult {
  Outcome outcome = Outcome::kMapped;
  FailureKind failure = FailureKind::kNone;
  std::string path;    // the backup path (kMapped; kFailed when only the payload failed; else empty)
  std::string data;    // the backup payload (kMapped only)
  bool path_changed = false;  // path differs from the primary path (after root relocation)
  bool data_changed = false;  // data differs from the primary payload
  std::vector<Change> changes;  // filled only when asked (explain)
  std::string reason;           // kNotReplicated / kFailed: one line for an operator

  bool mapped() const { return outcome == Outcome::kMapped; }
};

}  // namespace zks::mapping
