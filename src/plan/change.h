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
  std::string reason;                 // skipped, blocked, conflict
  int64_t source_mtime_ms = 0;        // the primary node's mtime (replication lag)
};

// Whether the change writes to the backup (the others are reports).
bool isWrite(const Change& change);

}  // namespace zks::plan
