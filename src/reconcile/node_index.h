#pragma once

// What the last pass saw of each primary node: path -> (czxid, mzxid, pzxid,
// aversion). A later pass that trusts it reads a node's data only, not its
// backup counterpart, where these did not move (SPEC 4 "Reconcile cost"),
// and skips the getACL of both sides where czxid and aversion did not move.
// Owned and used by one loop thread.
//
// Layout: a flat open-addressing table keyed by a 64-bit hash of the path
// (XXH3-128: low 64 bits the key, 16 more bits a tag kept in the entry);
// paths themselves are not stored. About 40 bytes an entry at load 0.57 to
// 0.85, i.e. 47 to 70 bytes per indexed node (the daemon's memory target is
// 200 B/znode in all).
//
// Why a hash collision can only cost a re-read, never a skipped change:
//  - A lookup whose key matches but whose tag does not answers "not
//    indexed": the node is read in full and planned against its backup
//    copy, and its put() takes the slot over (the other path is then read
//    in full next time). Only 80 equal bits make two paths share an entry.
//  - Every use of an entry is checked against the node's stat as read now:
//    a trusted pass takes a node as unchanged only if czxid, mzxid and
//    aversion all match. czxid is unique per node except for nodes created
//    by one multi transaction, so even an 80-bit collision only makes a
//    node look unchanged if it was created in the same transaction as the
//    other path, and neither has changed since.
// The chance of any 80-bit collision among 10^6 paths is about 4e-13.
//
// No ordered iteration: subtrees are dropped by mark and sweep. A full
// pass calls beginSweep() before it reads; every node it sees is put()
// (which marks it); after a complete pass sweep() drops every entry not
// marked since, i.e. nodes gone from the primary (or no longer read).
// Entries put meanwhile by event passes are marked too and stay.
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
#include <set>
#include <string>
#include <string_view>
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
  // Same node and ACL: the backup copy carries the ACL this replicator gave
  // it, so neither side's ACL needs reading again.
  bool sameAcl(const zk::Stat& s) const { return replicated && czxid == s.czxid && aversion == s.aversion; }
  bool operator==(const IndexEntry&) const = default;
};

class NodeIndex {
 public:
  NodeIndex();
  ~NodeIndex();
  NodeIndex(const NodeIndex&) = delete;
  NodeIndex& operator=(const NodeIndex&) = delete;

  std::optional<IndexEntry> find(std::string_view path) const;
  void put(std::string_view path, const IndexEntry& entry);
  void erase(std::string_view path);
  void clear();
  size_t size() const { return size_; }

  // ---- mark and sweep ----
  // A full pass begins: entries put from now on are marked as seen.
  void beginSweep();
  // The full pass that called beginSweep() read the whole tree: every entry
  // not put since is dropped (with its reports). Returns how many.
  size_t sweep();

  // ---- reported nodes (primary path -> reports) ----
  using Reports = std::vector<std::pair<ReportedKind, plan::Change>>;
  void hold(const std::string& path, ReportedKind kind, plan::Change report);
  const Reports* held(const std::string& path) const;
  // Forgets the reports of `path` (it is about to be read and planned again).
  void release(std::string_view path);
  // Nodes held back from writing until they change: a write refused for
  // good or too large.
  size_t parked() const { return parked_; }
  size_t heldNodes() const { return held_.size(); }

  // ---- LEGACY: the per-node daemon's event passes (goes away with them) ----
  // `path` and everything below it. Needs the ordered set of paths kept
  // beside the table for it (legacy_paths_), which is what makes this index
  // cost about twice its table while the daemon still calls it.
  void eraseSubtree(const std::string& path);
  // Whether the ordered set of paths is kept (it is by default). Off, the
  // index costs its table only (recursive mode: about half the daemon's
  // memory per znode); eraseSubtree then erases `path` and the reports
  // below it only. Turned on again, paths are collected from the next put
  // of each (a full pass puts every node).
  void keepPaths(bool on);
  // Sum of the indexed paths' lengths: about what a SetWatches packet for
  // all of them would carry.
  size_t pathBytes() const { return path_bytes_; }

  // Bytes the table holds (capacity, not size), for memory tests.
  size_t tableBytes() const;

 private:
  // One entry without its key; 32 bytes.
  struct Value {
    int64_t czxid;
    int64_t mzxid;
    int64_t pzxid;
    int32_t aversion;
    uint16_t tag;    // 16 more bits of the path's hash
    uint8_t flags;   // kReplicated
    uint8_t mark;    // mark_ when last put
  };
  static constexpr uint8_t kReplicated = 1;
  struct Hash {
    uint64_t key;  // never 0 (0 marks an empty slot)
    uint16_t tag;
  };
  static Hash hashOf(std::string_view path);

  size_t slotOf(uint64_t key) const;
  size_t findSlot(uint64_t key) const;  // npos when absent
  void eraseSlot(size_t slot);
  void grow();
  void insertFresh(uint64_t key, const Value& value);  // no duplicate check, no growth
  static bool isParked(const Reports& reports);
  void forget(const Reports& reports);

  std::vector<uint64_t> keys_;  // 0: empty
  std::vector<Value> values_;
  size_t size_ = 0;
  uint8_t mark_ = 0;

  std::map<std::string, Reports, std::less<>> held_;
  size_t parked_ = 0;

  // LEGACY (eraseSubtree, pathBytes): every indexed path, in order.
  std::set<std::string, std::less<>> legacy_paths_;
  size_t path_bytes_ = 0;
  bool keep_paths_ = true;
};

}  // namespace zks::reconcile
