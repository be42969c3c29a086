#pragma once

// What the last pass saw of each primary node: path -> (czxid, mzxid, pzxid,
// aversion). A later pass that trusts it reads only a node's stat where
// these did not move, instead of its data and its backup counterpart
// (SPEC 4 "Reconcile cost"). Owned and used by one loop thread.
//
// It also holds the nodes reported as unreplicable, with their reports: a
// node whose write the backup refused for good, or whose payload does not
// map, is "parked" — not written again until its primary node changes
// (czxid, mzxid or aversion moves, so a trusted pass re-reads it) or an
// audit re-reads everything — and every pass that trusts the index reports
// it again without touching it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plan/change.h"
#include "zk/types.h"

namespace zks::reconcile {

// Why a node is reported as unreplicable (see ReconcileReport).
enum class ReportedKind : uint8_t {
  kMappingFailure,
  kTooLarge,
  kUnreadable,        // primary node, no auth
  kBackupUnreadable,  // backup node, no auth
  kRedactedAcl,
  kParked,            // a write refused for good
  kBlocked,
  kHeldByEphemeral,
};

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
    release(path);
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
    for (auto h = held_.lower_bound(prefix); h != held_.end() && h->first.compare(0, prefix.size(), prefix) == 0;) {
      forget(h->second);
      h = held_.erase(h);
    }
  }
  void clear() {
    entries_.clear();
    held_.clear();
    parked_ = 0;
    path_bytes_ = 0;
  }

  // ---- reported nodes (primary path -> reports) ----
  using Reports = std::vector<std::pair<ReportedKind, plan::Change>>;
  void hold(const std::string& path, ReportedKind kind, plan::Change report) {
    auto& reports = held_[path];
    const bool was_parked = isParked(reports);
    reports.emplace_back(kind, std::move(report));
    if (!was_parked && isParked(reports)) ++parked_;
  }
  const Reports* held(const std::string& path) const {
    auto it = held_.find(path);
    return it == held_.end() ? nullptr : &it->second;
  }
  // Forgets the reports of `path` (it is about to be read and planned again).
  void release(const std::string& path) {
    auto it = held_.find(path);
    if (it == held_.end()) return;
    forget(it->second);
    held_.erase(it);
  }
  // Nodes held back from writing until they change: a write refused for
  // good or too large.
  size_t parked() const { return parked_; }
  size_t heldNodes() const { return held_.size(); }
  size_t size() const { return entries_.size(); }
  // Sum of the indexed paths' lengths: about what a SetWatches packet for
  // all of them would carry.
  size_t pathBytes() const { return path_bytes_; }

 private:
  static bool isParked(const Reports& reports) {
    for (const auto& [kind, c] : reports) {
      if (kind == ReportedKind::kParked || kind == ReportedKind::kTooLarge) return true;
    }
    return false;
  }
  void forget(const Reports& reports) {
    if (isParked(reports)) --parked_;
  }

  std::map<std::string, IndexEntry> entries_;
  std::map<std::string, Reports> held_;
  size_t parked_ = 0;
  size_t path_bytes_ = 0;
};

}  // namespace zks::reconcile
