#pragma once

// Watches on both sides of a session.
//
// ServerWatches is the server's view (DataTree's dataWatches and
// childWatches WatchManagers): per manager, path -> session -> mode, one
// mode per (session, path). A change triggers the sessions whose watches it
// matches, consuming standard ones (WatchManager.triggerWatch):
//  - created, data changed: the data manager; deleted: both managers, each
//    session notified once; children changed: the child manager;
//  - a standard or persistent watch matches its own path only, a recursive
//    one (data manager only) its path and every descendant, never for
//    children changed.
// ClientWatches is the client's registry (the Java client's ZKWatchManager):
// which registrations an arriving notification matches (watch_origin bits).
// Neither is thread-safe: the server's mutex or the client core's guards it.

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "zk/types.h"

namespace zks::zk::fake {

enum class WatchMode : uint8_t { kStandard, kPersistent, kRecursive };

class ServerWatches {
 public:
  // `replace_persistent`: ZOOKEEPER-4466 as in 3.8.0, a standard watch set
  // on a path where the session holds a persistent or recursive one takes
  // its place; false: the stronger mode stays.
  explicit ServerWatches(bool replace_persistent) : replace_persistent_(replace_persistent) {}

  void addData(const std::string& path, int64_t session, WatchMode mode = WatchMode::kStandard);
  void addChild(const std::string& path, int64_t session, WatchMode mode = WatchMode::kStandard);
  // DataTree.addWatch: PERSISTENT goes to both managers, PERSISTENT_RECURSIVE
  // to the data manager only.
  void addWatch(const std::string& path, int64_t session, AddWatchMode mode);
  // removeWatches with WatcherType Any; whether anything was removed.
  bool remove(const std::string& path, int64_t session);
  // Every watch of a session (closed connection, ended session).
  void drop(int64_t session);
  // The sessions `type` at `path` notifies, each once; standard watches consumed.
  std::set<int64_t> trigger(EventType type, const std::string& path);
  size_t count() const;

 private:
  using Table = std::map<std::string, std::map<int64_t, WatchMode>>;
  void add(Table& table, const std::string& path, int64_t session, WatchMode mode);
  static void triggerIn(Table& table, EventType type, const std::string& path, std::set<int64_t>& out);

  bool replace_persistent_;
  Table data_;
  Table child_;
};

struct ClientWatches {
  std::set<std::string> data;   // get, exists on an existing node
  std::set<std::string> exist;  // exists on a missing node
  std::set<std::string> child;  // getChildren
  std::set<std::string> persistent;
  std::set<std::string> recursive;

  // The watch_origin bits of the registrations a notification matches;
  // one-shot registrations it matches are consumed. 0: drop it.
  uint8_t match(EventType type, const std::string& path);
  // removeWatches: forgets every registration on `path`.
  void removeAll(const std::string& path);
  void clear();
  size_t size() const;
};

}  // namespace zks::zk::fake
