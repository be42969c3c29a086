#include "zk/native/watch_registry.h"

namespace zks::zk::native {

void WatchRegistry::addOneShot(OneShotWatch kind, std::string_view path) {
  PathSet& set = kind == OneShotWatch::kData ? data_ : kind == OneShotWatch::kExist ? exist_ : child_;
  set.emplace(path);
}

void WatchRegistry::addPersistent(std::string_view path, AddWatchMode mode) {
  (mode == AddWatchMode::kPersistentRecursive ? recursive_ : persistent_).emplace(path);
}

void WatchRegistry::removeAll(std::string_view path) {
  for (PathSet* set : {&data_, &exist_, &child_, &persistent_, &recursive_}) take(*set, path);
}

bool WatchRegistry::take(PathSet& set, std::string_view path) {
  auto it = set.find(path);
  if (it == set.end()) return false;
  set.erase(it);
  return true;
}

bool WatchRegistry::recursiveCovers(std::string_view path) const {
  if (recursive_.empty()) return false;
  // The path itself, then each ancestor up to "/".
  for (std::string_view p = path;;) {
    if (recursive_.find(p) != recursive_.end()) return true;
    if (p == "/" || p.empty()) return false;
    const size_t slash = p.rfind('/');
    p = slash == 0 ? std::string_view("/") : p.substr(0, slash);
  }
}

uint8_t WatchRegistry::route(EventType type, std::string_view path) {
  uint8_t origins = 0;
  bool one_shot = false;
  switch (type) {
    case EventType::kCreated:
    case EventType::kDataChanged:
      one_shot |= take(data_, path);
      one_shot |= take(exist_, path);
      break;
    case EventType::kDeleted:
      one_shot |= take(data_, path);
      one_shot |= take(exist_, path);
      one_shot |= take(child_, path);
      break;
    case EventType::kChildrenChanged:
      one_shot |= take(child_, path);
      break;
    case EventType::kNotWatching:
      return 0;
  }
  if (one_shot) origins |= watch_origin::kOneShot;
  if (persistent_.find(path) != persistent_.end()) origins |= watch_origin::kPersistent;
  if (type != EventType::kChildrenChanged && recursiveCovers(path)) origins |= watch_origin::kRecursive;
  return origins;
}

std::vector<SetWatchesRecord> WatchRegistry::setWatchesPackets(int64_t relative_zxid, size_t max_path_bytes) const {
  std::vector<SetWatchesRecord> packets;
  SetWatchesRecord current;
  current.relative_zxid = relative_zxid;
  size_t bytes = 0;
  size_t count = 0;
  auto add = [&](const PathSet& set, std::vector<std::string> SetWatchesRecord::*list) {
    for (const auto& path : set) {
      if (count > 0 && bytes + path.size() > max_path_bytes) {
        packets.push_back(std::move(current));
        current = SetWatchesRecord{};
        current.relative_zxid = relative_zxid;
        bytes = 0;
        count = 0;
      }
      (current.*list).push_back(path);
      bytes += path.size();
      ++count;
    }
  };
  add(data_, &SetWatchesRecord::data);
  add(exist_, &SetWatchesRecord::exist);
  add(child_, &SetWatchesRecord::child);
  add(persistent_, &SetWatchesRecord::persistent);
  add(recursive_, &SetWatchesRecord::persistent_recursive);
  if (count > 0) packets.push_back(std::move(current));
  return packets;
}

size_t WatchRegistry::size() const {
  return data_.size() + exist_.size() + child_.size() + persistent_.size() + recursive_.size();
}

}  // namespace zks::zk::native
