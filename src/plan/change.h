#pragma once

// One planned change to the backup, as `diff` shows it and the applier turns
// it into a ZooKeeper operation. Pure values.

#include <optional>
#include <string>
#include <vector>

#include "zk/types.h"

namespace zks::plan {

enum class ChangeKind : uint8_t {
  kCreate,   // node missing on the backup
  kUpdate,   // data differs
  kSetAcl,   // ACL differs (acls: copy | open)
  kDelete,   // backup node with no primary counterpart
  kSkipped,  // primary node not replicated: mapping failed, payload did not parse, too large
  kBlocked,  // a delete that an ephemeral, excluded or foreign node prevents
  kConflict  // two primary nodes map to one backup path, or node kinds differ
};

std::string_view changeKindName(ChangeKind kind);

struct FieldChange {
  std::string field;
  std::string before;
  std::string after;
};

struct Change {
  ChangeKind kind = ChangeKind::kCreate;
  std::string path;         // on the backup
  std::string source_path;  // on the primary ("" for deletes of orphans)
  std::optional<std::string> before;  // backup data (update, delete)
  std::optional<std::string> after;   // desired data (create, update)
  zk::AclList acl;                    // create, setAcl: the ACL to set
  zk::AclList acl_before;             // setAcl: the backup's current ACL
  zk::CreateMode mode = zk::CreateMode::kPersistent;
  int64_t ttl_ms = 0;
  int32_t expected_version = -1;      // update, delete: backup version read; setAcl: aversion
  std::vector<FieldChange> fields;    // what the mapping changed (for display)
  std::string reason;                 // skipped, blocked, conflict, and why a write was refused
  int64_t source_mtime_ms = 0;        // the primary node's mtime (replication lag)
  // A node reported as unreplicable (not a difference another pass can
  // settle): a mapping failure, a write too large or refused for good, an
  // ACL the primary redacted, a primary node the replicator may not read, a
  // delete blocked or a path held by a standby-site ephemeral. A pass whose
  // only open items are these is "converged except reported nodes".
  bool reported = false;
  // A write that corrects drift: the backup differed from what the
  // replicator had written for a primary node that has not changed since.
  bool drift = false;
};

// Whether the change writes to the backup (the others are reports).
bool isWrite(const Change& change);

}  // namespace zks::plan
