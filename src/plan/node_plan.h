#pragma once

// Decides what one node needs on the backup, from the mapped primary node and
// the backup node as read. Pure: values in, values out.

#include <optional>
#include <string>
#include <vector>

#include "plan/change.h"
#include "zk/types.h"

namespace zks::plan {

enum class EphemeralPolicy : uint8_t { kSkip, kPersist };
enum class AclPolicy : uint8_t { kCopy, kOpen, kKeepBackup };
enum class DeletePolicy : uint8_t { kPropagate, kKeep };

struct Policies {
  EphemeralPolicy ephemerals = EphemeralPolicy::kSkip;
  AclPolicy acls = AclPolicy::kCopy;
  DeletePolicy deletes = DeletePolicy::kPropagate;
};

// A primary node after mapping: where it goes and what it holds there.
struct DesiredNode {
  std::string source_path;
  std::string path;  // backup path
  std::string data;  // mapped payload
  zk::Stat stat;     // the primary's stat
  zk::AclList acl;   // the primary's ACL (acls: copy)
  std::vector<FieldChange> fields;
};

struct BackupNode {
  std::string path;
  std::string data;
  zk::Stat stat;
  std::optional<zk::AclList> acl;  // read only when the policy compares ACLs
};

// What a node needs. `desired` absent: the backup node has no counterpart.
// `backup` absent: the node is missing on the backup. Never both absent.
// The result is in apply order (e.g. create before nothing else; a data
// update before an ACL change).
std::vector<Change> planNode(const std::optional<DesiredNode>& desired, const std::optional<BackupNode>& backup,
                             const Policies& policies);

// The data write for a node whose backup copy is known to be the one this
// replicator last wrote (same primary czxid and ACL version since): no read
// of the backup, so the update is unconditional (version -1). Used by event
// passes for a data-only change; drift on the backup is the audit's to find.
Change planKnownUpdate(const DesiredNode& desired);

// Whether a primary node is replicated at all under the ephemeral policy.
bool replicates(const zk::Stat& primary_stat, const Policies& policies);

// The ACL the backup should carry for `desired` under `policies`.
zk::AclList desiredAcl(const DesiredNode& desired, const Policies& policies);

// ACL lists compare as sets: ZooKeeper keeps them in insertion order but
// order has no meaning.
bool sameAcl(zk::AclList a, zk::AclList b);

}  // namespace zks::plan
