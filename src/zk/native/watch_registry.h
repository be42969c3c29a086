#pragma once

// The client's record of the watches its session holds on the server, kept
// as the Java client's ZKWatchManager keeps them: one-shot data, exist and
// child watches, and persistent and persistent-recursive watches (addWatch).
// It decides which registrations a server event fires (and consumes the
// one-shot ones), and lists everything for SetWatches after a reconnect.
//
// Paths are the server's (chroot included). Pure and single-threaded: the
// session's I/O thread owns it.
//
// Routing, by event type:
//   created, data changed: data and exist watches on the path, a persistent
//     watch on the path, a recursive watch on the path or an ancestor;
//   deleted: data, exist and child watches on the path, persistent, recursive;
//   children changed: a child watch or a persistent watch on the path, never
//     a recursive one (a recursive watch does not report children changes;
//     a 3.8 server still sends them to a session that also holds child
//     watches, ZOOKEEPER-4475: such an event matches nothing and is dropped).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "zk/native/records.h"
#include "zk/types.h"

namespace zks::zk::native {

enum class OneShotWatch : uint8_t { kData, kExist, kChild };

class WatchRegistry {
 public:
  void addOneShot(OneShotWatch kind, std::string_view path);
  void addPersistent(std::string_view path, AddWatchMode mode);
  // removeWatches(WatcherType.Any): every registration on exactly `path`.
  void removeAll(std::string_view path);

  // The watch_origin bits `type` on `path` matches (0: none, so the event
  // is dropped). Consumes the one-shot registrations it fires.
  uint8_t route(EventType type, std::string_view path);

  // Everything registered, in SetWatches packets of at most
  // `max_path_bytes` of paths each (a single longer path gets a packet of
  // its own). The server rejects a packet over its jute.maxbuffer and the
  // client would reconnect forever (ZOOKEEPER-706), hence the split.
  std::vector<SetWatchesRecord> setWatchesPackets(int64_t relative_zxid, size_t max_path_bytes) const;

  bool empty() const { return size() == 0; }
  size_t size() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PathSet = std::unordered_set<std::string, Hash, std::equal_to<>>;
  static bool take(PathSet& set, std::string_view path);
  bool recursiveCovers(std::string_view path) const;

  PathSet data_;
  PathSet exist_;
  PathSet child_;
  PathSet persistent_;
  PathSet recursive_;
};

}  // namespace zks::zk::native
