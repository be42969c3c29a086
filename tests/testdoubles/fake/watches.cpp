#include "testdoubles/fake/watches.h"

#include "testdoubles/fake/paths.h"

namespace zks::zk::fake {

void ServerWatches::add(Table& table, const std::string& path, int64_t session, WatchMode mode) {
  auto [it, inserted] = table[path].try_emplace(session, mode);
  if (inserted) return;
  // WatcherModeManager keeps one mode per (watcher, path): the newest wins,
  // unless the fix for ZOOKEEPER-4466 keeps the persistent one.
  if (mode == WatchMode::kStandard && it->second != WatchMode::kStandard && !replace_persistent_) return;
  it->second = mode;
}

void ServerWatches::addData(const std::string& path, int64_t session, WatchMode mode) {
  add(data_, path, session, mode);
}

void ServerWatches::addChild(const std::string& path, int64_t session, WatchMode mode) {
  add(child_, path, session, mode);
}

void ServerWatches::addWatch(const std::string& path, int64_t session, AddWatchMode mode) {
  if (mode == AddWatchMode::kPersistentRecursive) {
    add(data_, path, session, WatchMode::kRecursive);
    return;
  }
  add(data_, path, session, WatchMode::kPersistent);
  add(child_, path, session, WatchMode::kPersistent);
}

bool ServerWatches::remove(const std::string& path, int64_t session) {
  bool removed = false;
  for (Table* table : {&data_, &child_}) {
    auto it = table->find(path);
    if (it == table->end()) continue;
    removed |= it->second.erase(session) > 0;
    if (it->second.empty()) table->erase(it);
  }
  return removed;
}

void ServerWatches::drop(int64_t session) {
  for (Table* table : {&data_, &child_}) {
    for (auto it = table->begin(); it != table->end();) {
      it->second.erase(session);
      it = it->second.empty() ? table->erase(it) : std::next(it);
    }
  }
}

void ServerWatches::triggerIn(Table& table, EventType type, const std::string& path, std::set<int64_t>& out) {
  forPathAndAncestors(path, [&](const std::string& p) {
    auto it = table.find(p);
    if (it == table.end()) return true;
    const bool at_parent = p != path;
    auto& watchers = it->second;
    for (auto w = watchers.begin(); w != watchers.end();) {
      const WatchMode mode = w->second;
      if (mode == WatchMode::kRecursive) {
        if (type != EventType::kChildrenChanged) out.insert(w->first);
      } else if (!at_parent) {
        out.insert(w->first);
        if (mode == WatchMode::kStandard) {
          w = watchers.erase(w);
          continue;
        }
      }
      ++w;
    }
    if (watchers.empty()) table.erase(it);
    return true;
  });
}

std::set<int64_t> ServerWatches::trigger(EventType type, const std::string& path) {
  std::set<int64_t> out;
  switch (type) {
    case EventType::kCreated:
    case EventType::kDataChanged: triggerIn(data_, type, path, out); break;
    case EventType::kChildrenChanged: triggerIn(child_, type, path, out); break;
    case EventType::kDeleted:
      // The child manager's trigger is suppressed for sessions the data
      // manager already notified: one event per session.
      triggerIn(data_, type, path, out);
      triggerIn(child_, type, path, out);
      break;
    case EventType::kNotWatching: break;
  }
  return out;
}

size_t ServerWatches::count() const {
  size_t n = 0;
  for (const Table* table : {&data_, &child_}) {
    for (const auto& [path, sessions] : *table) n += sessions.size();
  }
  return n;
}

uint8_t ClientWatches::match(EventType type, const std::string& path) {
  uint8_t origins = 0;
  auto take = [&](std::set<std::string>& table) {
    if (table.erase(path) > 0) origins |= watch_origin::kOneShot;
  };
  switch (type) {
    case EventType::kCreated:
    case EventType::kDataChanged:
      take(data);
      take(exist);
      break;
    case EventType::kChildrenChanged: take(child); break;
    case EventType::kDeleted:
      take(data);
      take(exist);
      take(child);
      break;
    case EventType::kNotWatching: return 0;
  }
  if (persistent.contains(path)) origins |= watch_origin::kPersistent;
  // A recursive registration never takes children changed (ZOOKEEPER-4475).
  if (type != EventType::kChildrenChanged && !recursive.empty()) {
    forPathAndAncestors(path, [&](const std::string& p) {
      if (!recursive.contains(p)) return true;
      origins |= watch_origin::kRecursive;
      return false;
    });
  }
  return origins;
}

void ClientWatches::removeAll(const std::string& path) {
  for (auto* table : {&data, &exist, &child, &persistent, &recursive}) table->erase(path);
}

void ClientWatches::clear() {
  for (auto* table : {&data, &exist, &child, &persistent, &recursive}) table->clear();
}

size_t ClientWatches::size() const {
  return data.size() + exist.size() + child.size() + persistent.size() + recursive.size();
}

}  // namespace zks::zk::fake
