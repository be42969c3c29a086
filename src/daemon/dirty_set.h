#pragma once

// Primary paths waiting to be replicated after a watch event, coalesced: any
// number of events for one path before it is taken make one piece of work,
// and a path being worked on is never handed out twice at once, nor while an
// ancestor or descendant of it is, so two passes over one subtree can never
// race to the backup. Pure; owned by one thread.

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace zks::daemon {

enum DirtyFlags : uint8_t {
  kDirtyData = 1,      // the node's data (or existence) changed
  kDirtyChildren = 2,  // its list of children changed (recursive mode: read its subtree whole)
  kDirtyFull = 4,      // read both sites again, no shortcut (created, deleted, a retry)
};

struct DirtyItem {
  std::string path;
  uint8_t flags = 0;
};

class DirtySet {
 public:
  // Adds flags to `path`; a path already waiting keeps its place in line.
  void mark(const std::string& path, uint8_t flags);
  // The oldest waiting path that does not overlap one in progress, now in
  // progress; false if none.
  bool take(DirtyItem& out);
  // Ends the work on `path`; events that came meanwhile wait again.
  void finish(const std::string& path);
  void clear();

  size_t waiting() const { return flags_.size(); }
  size_t inProgress() const { return in_progress_.size(); }
  bool empty() const { return flags_.empty() && in_progress_.empty(); }

 private:
  std::deque<std::string> order_;                       // waiting paths, oldest first (may hold taken ones)
  std::unordered_map<std::string, uint8_t> flags_;      // waiting path -> flags
  std::unordered_set<std::string> in_progress_;
  // path -> how many in-progress paths lie strictly below it: with the
  // ancestors' lookups in in_progress_, an overlap check costs one hash
  // lookup per path level instead of a scan of everything in progress.
  std::unordered_map<std::string, size_t> busy_below_;
  bool overlapsInProgress(const std::string& path) const;
  void countBelow(const std::string& path, bool add);
  std::unordered_map<std::string, uint8_t> deferred_;   // flags marked while in progress
};

}  // namespace zks::daemon
