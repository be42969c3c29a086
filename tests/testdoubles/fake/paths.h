#pragma once

// Path rules and node encodings of a ZooKeeper 3.8 server and C client,
// shared by the fake's store, operations and requests.

#include <cstdint>
#include <string>
#include <string_view>

#include "zk/types.h"

namespace zks::zk::fake {

// ephemeralOwner encodings of the special node kinds (EphemeralType).
inline constexpr uint64_t kContainerOwner = 0x8000000000000000ULL;
inline constexpr uint64_t kExtendedMask = 0xFF00000000000000ULL;
inline constexpr int64_t kMaxTtl = 0xFFFFFFFFFFLL;  // ZOO_MAX_TTL

bool isSequential(CreateMode mode);
bool isEphemeralMode(CreateMode mode);
bool isTtlMode(CreateMode mode);
// Container and TTL creates: the packaged C client cannot put them in a multi.
bool isSpecialCreate(CreateMode mode);

// A session id, as opposed to the container/TTL encodings (EphemeralType.NORMAL).
bool isSessionOwner(int64_t owner);

// The C client's isValidPath(), checked before a request is sent. A
// sequential create may end in '/' (the server appends the suffix).
bool validPath(std::string_view path, bool sequential);

// The server refuses to delete these (ZKDatabase.isSpecialPath).
bool isSpecialPath(const std::string& path);

// "/a/b" -> "/a"; "/a" -> "/".
std::string parentOf(const std::string& path);
// "/a/b" -> "b".
std::string nameOf(const std::string& path);
// `path` is `root` or lies below it.
bool isUnder(const std::string& path, const std::string& root);

// Calls fn(p) for `path` and then each of its ancestors up to "/", nearest
// first (WatchManager's PathParentIterator); stops early when fn returns false.
template <typename Fn>
void forPathAndAncestors(const std::string& path, Fn&& fn) {
  std::string p = path;
  for (;;) {
    if (!fn(p)) return;
    if (p == "/") return;
    p = parentOf(p);
  }
}

}  // namespace zks::zk::fake
