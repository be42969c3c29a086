#pragma once

// The Reconciler's walk state, shared by its .cpp files (reconciler.cpp: the
// walk; reconciler_reads.cpp: batches and ACL reads; reconciler_report.cpp:
// outcomes and reports). Not part of the module's interface.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reconcile/name_list.h"
#include "reconcile/reconciler.h"

namespace zks::reconcile {

std::string joinPath(const std::string& parent, std::string_view name);
std::string lastSegment(const std::string& path);

// A directory pair being walked: the primary node's children against its
// backup counterpart's children.
struct Reconciler::Dir {
  std::string primary_path;
  std::string backup_path;
  const Root* root = nullptr;  // set for the virtual parent of a root (its one child is the root)
  // Which sides are listed. The primary is not when its stat said it has
  // no children (then the listing is as of that read); the backup is not
  // when its node is new, absent or a leaf.
  bool list_primary = true;
  bool list_backup = true;
  // A directory of more than kBigListing children: its listings are
  // megabytes. Big directories are walked one at a time (or nested), and
  // the backup listing of one waits for the primary's to be in, so that at
  // most one big reply is being decoded at any moment.
  bool big = false;
  bool backup_deferred = false;
  // An event pass over a directory: its backup children were not listed
  // (they may exist). Known children are left to their own events.
  bool backup_unlisted = false;
  int32_t primary_hint = 0;  // children the stats announced, for the reply size estimate
  int32_t backup_hint = 0;
  uint8_t listings_out = 0;  // listings asked for and not yet answered
  bool listed = false;
  bool finished = false;
  bool suppress_deletes = false;  // a listing or a child's read failed: no orphan is deleted here
  // FIFO sequence of the primary listing (or of the read that said there
  // were no children): orphans found here are as of it.
  uint64_t listing_seq = 0;
  NameList primary;
  NameList backup;
  std::vector<bool> backup_claimed;    // per backup name: a primary child maps to it
  std::vector<bool> identity_claimed;  // per primary child: planned under its own name
  size_t backup_cursor = 0;  // where the next claimed backup name probably is (children come in order)
  // Backup names claimed by primary children of another name (a mapping
  // rename) -> that child's path. Empty unless the mapping renames here.
  std::unordered_map<std::string, std::string> renamed;
  size_t next_child = 0;  // the next primary child to read
  size_t pending = 0;     // children taken up and not finished
  // The backup node's ACL when known (read, or set by our create), and the
  // creates waiting for it to be read (withBackupDirAcl).
  std::optional<zk::AclList> backup_acl;
  std::vector<std::function<void(const zk::AclList*)>> acl_waiters;
};

// One primary child being read, mapped and planned.
struct Reconciler::Node {
  enum class Stage : uint8_t { kPrimary, kBackup, kPlan };
  DirPtr dir;
  size_t child = 0;  // index in dir->primary
  std::string source_path;
  Stage stage = Stage::kPrimary;
  uint64_t seq = 0;  // FIFO sequence of the primary read
  // The primary node.
  bool data_in = false;
  bool counted = false;
  zk::Code code = zk::Code::kOk;
  std::string data;
  zk::Stat stat;
  std::optional<IndexEntry> entry;  // trusted passes: what the index knew
  // Its ACL (acls: copy): read beside the data on a first read, after it on
  // a trusted one, or not at all where the index knows the copy (skipped).
  bool acl_out = false;
  bool acl_skipped = false;
  std::optional<zk::AclResult> acl;
  // Mapped.
  std::optional<plan::DesiredNode> desired;
  // The backup copy.
  std::optional<zk::ReadResult> backup;
  bool backup_acl_out = false;
  bool backup_counted = false;
  std::optional<zk::AclResult> backup_acl;
  bool done = false;
};

// A backup node with no primary counterpart, and its subtree.
struct Reconciler::Orphan {
  std::shared_ptr<Orphan> parent;
  std::string path;
  uint64_t listing_seq = 0;  // of the primary listing that showed no counterpart
  std::string data;
  zk::Stat stat;
  size_t pending = 0;
  bool blocked = false;  // kept, reported: an ephemeral, protected or unreadable node below
  std::string blocked_by;
};

// The writes one primary node needs; when all have landed the node is
// settled in the index, when one did not it is dropped from it.
struct Reconciler::NodeWrites {
  std::string source_path;
  zk::Stat stat;
  size_t pending = 0;
  bool failed = false;
  bool retry = false;  // a failure a re-read and re-plan may settle (else: parked)
};

// One multiRead (or its pipelined single reads): ops of one kind on one site.
struct Reconciler::ReadBatch {
  enum class Kind : uint8_t { kPrimaryData, kPrimaryList, kBackupData, kBackupList, kOrphanData, kOrphanList };
  explicit ReadBatch(Kind k) : kind(k) {}
  bool primary() const { return kind == Kind::kPrimaryData || kind == Kind::kPrimaryList; }
  Kind kind;
  std::vector<zk::ReadOp> ops;  // handed to the client by a multiRead (size() then in `count`)
  size_t count = 0;
  size_t bytes = 0;  // expected reply bytes
  std::vector<NodePtr> nodes;
  std::vector<DirPtr> dirs;
  std::vector<OrphanPtr> orphans;
  std::vector<zk::ReadResult> results;
  // FIFO sequences (primary only): one for a multiRead reply, one per op
  // for single reads (each its own reply).
  std::vector<uint64_t> seqs;
  size_t remaining = 0;  // single reads not yet answered
  uint64_t seq(size_t i) const { return seqs.empty() ? 0 : seqs.size() == 1 ? seqs[0] : seqs[i]; }
};

}  // namespace zks::reconcile
