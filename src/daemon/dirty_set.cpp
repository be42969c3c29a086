#include "daemon/dirty_set.h"

namespace zks::daemon {

void DirtySet::mark(const std::string& path, uint8_t flags) {
  if (in_progress_.count(path)) {
    deferred_[path] |= flags;
    return;
  }
  auto [it, inserted] = flags_.try_emplace(path, 0);
  it->second |= flags;
  if (inserted) order_.push_back(path);
}

bool DirtySet::take(DirtyItem& out) {
  // Entries of order_ whose path is no longer waiting were handed out
  // already; they are dropped as they surface.
  while (!order_.empty()) {
    std::string path = std::move(order_.front());
    order_.pop_front();
    auto it = flags_.find(path);
    if (it == flags_.end()) continue;
    out.flags = it->second;
    flags_.erase(it);
    in_progress_.insert(path);
    out.path = std::move(path);
    return true;
  }
  return false;
}

void DirtySet::finish(const std::string& path) {
  in_progress_.erase(path);
  auto it = deferred_.find(path);
  if (it == deferred_.end()) return;
  const uint8_t flags = it->second;
  deferred_.erase(it);
  mark(path, flags);
}

void DirtySet::clear() {
  order_.clear();
  flags_.clear();
  in_progress_.clear();
  deferred_.clear();
}

}  // namespace zks::daemon
