#pragma once

// What the last pass saw of each primary node: path -> (czxid, mzxid, pzxid,
// aversion). A later pass that trusts it reads only a node's stat where
// these did not move, instead of its data and its backup counterpart
// (SPEC 4 "Reconcile cost"). Owned and used by one loop thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "zk/types.h"

namespace zks::reconcile {

struct IndexEntry {
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t pzxid = 0;
  int32_t aversion = 0;
  // The backup holds this node's copy as of mzxid (false: the node was seen
  // but not replicated, e.g. its mapping failed).
  bool replicated = false;

  static IndexEntry of(const zk::Stat& s, bool replicated) {
    return {s.czxid, s.mzxid, s.pzxid, s.aversion, replicated};
  }
  // Same node (not deleted and re-created), same data and ACL.
  bool sameContent(const zk::Stat& s) const { return czxid == s.czxid && mzxid == s.mzxid && aversion == s.aversion; }
};

class NodeIndex {
 public:
  std::optional<IndexEntry> find(const std::string& path) const {
    auto it = entries_.find(path);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& path, const IndexEntry& entry) {
    auto [it, inserted] = entries_.insert_or_assign(path, entry);
    if (inserted) path_bytes_ += path.size();
  }
  void erase(const std::string& path) {
    auto it = entries_.find(path);
    if (it == entries_.end()) return;
    path_bytes_ -= it->first.size();
    entries_.erase(it);
  }
  // `path` and everything below it.
  void eraseSubtree(const std::string& path) {
    erase(path);
    const std::string prefix = path == "/" ? "/" : path + "/";
    auto it = entries_.lower_bound(prefix);
    while (it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
      path_bytes_ -= it->first.size();
      it = entries_.erase(it);
    }
  }
  void clear() {
    entries_.clear();
    path_bytes_ = 0;
  }
  size_t size() const { return entries_.size(); }
  // Sum of the indexed paths' lengths: about what a SetWatches packet for
  // all of them would carry.
  size_t pathBytes() const { return path_bytes_; }

 private:
  std::map<std::string, IndexEntry> entries_;
  size_t path_bytes_ = 0;
};

}  // namespace zks::reconcile
