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

namespace {
// One of them is the other or lies below it.
bool overlaps(const std::string& a, const std::string& b) {
  auto under = [](const std::string& path, const std::string& root) {
    if (root == "/") return true;
    return path.size() >= root.size() && path.compare(0, root.size(), root) == 0 &&
           (path.size() == root.size() || path[root.size()] == '/');
  };
  return under(a, b) || under(b, a);
}
}  // namespace

bool DirtySet::take(DirtyItem& out) {
  for (auto pos = order_.begin(); pos != order_.end();) {
    auto it = flags_.find(*pos);
    if (it == flags_.end()) {
      // Handed out already; dropped as it surfaces.
      pos = order_.erase(pos);
      continue;
    }
    // Work on a subtree waits while an ancestor or descendant is being
    // worked on: two passes deleting and re-creating the same nodes could
    // otherwise each settle on what the other is about to undo.
    bool blocked = false;
    for (const auto& busy : in_progress_) {
      if (overlaps(*pos, busy)) {
        blocked = true;
        break;
      }
    }
    if (blocked) {
      ++pos;
      continue;
    }
    out.flags = it->second;
    flags_.erase(it);
    out.path = std::move(*pos);
    order_.erase(pos);
    in_progress_.insert(out.path);
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
