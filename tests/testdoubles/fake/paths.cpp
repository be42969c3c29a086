#include "testdoubles/fake/paths.h"

namespace zks::zk::fake {

bool isSequential(CreateMode m) {
  return m == CreateMode::kPersistentSequential || m == CreateMode::kEphemeralSequential ||
         m == CreateMode::kPersistentSequentialWithTtl;
}

bool isEphemeralMode(CreateMode m) { return m == CreateMode::kEphemeral || m == CreateMode::kEphemeralSequential; }

bool isTtlMode(CreateMode m) {
  return m == CreateMode::kPersistentWithTtl || m == CreateMode::kPersistentSequentialWithTtl;
}

bool isSpecialCreate(CreateMode m) { return isTtlMode(m) || m == CreateMode::kContainer; }

bool isSessionOwner(int64_t owner) {
  const auto u = static_cast<uint64_t>(owner);
  return owner != 0 && u != kContainerOwner && (u & kExtendedMask) != kExtendedMask;
}

bool validPath(std::string_view path, bool sequential) {
  if (path.empty() || path[0] != '/') return false;
  const size_t len = path.size();
  if (len == 1) return true;
  if (path[len - 1] == '/' && !sequential) return false;
  char lastc = '/';
  for (size_t i = 1; i < len; lastc = path[i], ++i) {
    const char c = path[i];
    const bool next_is_slash = i + 1 < len && path[i + 1] == '/';
    const bool at_end = i + 1 == len && !sequential;
    if (c == 0) return false;
    if (c == '/' && lastc == '/') return false;
    if (c == '.' && lastc == '.') {
      if (path[i - 2] == '/' && (at_end || next_is_slash)) return false;
    } else if (c == '.') {
      if (path[i - 1] == '/' && (at_end || next_is_slash)) return false;
    } else if (c > 0x00 && c < 0x1f) {
      return false;
    }
  }
  return true;
}

bool isSpecialPath(const std::string& path) {
  return path == "/" || path == "/zookeeper" || path == "/zookeeper/quota" || path == "/zookeeper/config";
}

std::string parentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

std::string nameOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool isUnder(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

}  // namespace zks::zk::fake
