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
// The proper ancestors of an absolute path, nearest first, "/" last.
template <typename F>
void forEachAncestor(const std::string& path, F&& f) {
  for (size_t end = path.rfind('/'); end != std::string::npos && path != "/"; end = path.rfind('/', end - 1)) {
    f(end == 0 ? std::string("/") : path.substr(0, end));
    if (end == 0) break;
  }
}
}  // namespace

// The path itself, an ancestor or a descendant of it is in progress.
bool DirtySet::overlapsInProgress(const std::string& path) const {
  if (in_progress_.count(path)) return true;
  auto it = busy_below_.find(path);
  if (it != busy_below_.end() && it->second > 0) return true;
  bool found = false;
  forEachAncestor(path, [&](const std::string& a) { found = found || in_progress_.count(a) > 0; });
  return found;
}

void DirtySet::countBelow(const std::string& path, bool add) {
  forEachAncestor(path, [&](const std::string& a) {
    if (add) {
      ++busy_below_[a];
    } else if (auto it = busy_below_.find(a); it != busy_below_.end() && --it->second == 0) {
      busy_below_.erase(it);
    }
  });
}

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
    if (overlapsInProgress(*pos)) {
      ++pos;
      continue;
    }
    out.flags = it->second;
    flags_.erase(it);
    out.path = std::move(*pos);
    order_.erase(pos);
    in_progress_.insert(out.path);
    countBelow(out.path, true);
    return true;
  }
  return false;
}

void DirtySet::finish(const std::string& path) {
  if (in_progress_.erase(path) > 0) countBelow(path, false);
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
  busy_below_.clear();
  deferred_.clear();
}

}  // namespace zks::daemon
