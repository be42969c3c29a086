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
  zk::AclList acl;   // the primary's ACL (acls: copy); empty: not known
  std::vector<FieldChange> fields;
  // The ACL of the backup node's parent, where a create needs it: under
  // `acls: keep-backup`, and under `acls: copy` when no entry of the
  // primary's ACL can be copied (see isRedactedDigest).
  std::optional<zk::AclList> parent_acl;
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

// A digest ACL entry whose id is not "user:<base64 SHA-1>" (28 characters):
// what a 3.8 server shows a client without ADMIN on the node instead of the
// hash ("user:x", CVE-2019-0201). Such an id must never be written: nobody
// could authenticate as it.
bool isRedactedDigest(const zk::Acl& entry);
bool hasRedactedDigest(const zk::AclList& acl);

// The ACL the backup should carry for `desired` under `policies`, for a
// node that exists there; nothing when the policy leaves the backup's ACL
// alone (keep-backup) or it cannot be known (copy: the primary ACL was not
// read, or holds redacted digest ids).
std::optional<zk::AclList> desiredAcl(const DesiredNode& desired, const Policies& policies);

// The ACL a node the replicator creates gets: copy: the primary's, less
// redacted digest entries (the backup parent's if none is left); open:
// world:anyone; keep-backup: the backup parent's. Nothing when that needs
// desired.parent_acl and it is not set (see needsParentAcl).
std::optional<zk::AclList> createAcl(const DesiredNode& desired, const Policies& policies);
// Whether createAcl needs desired.parent_acl.
bool needsParentAcl(const DesiredNode& desired, const Policies& policies);

// ACL lists compare as sets: ZooKeeper keeps them in insertion order but
// order has no meaning.
bool sameAcl(zk::AclList a, zk::AclList b);

}  // namespace zks::plan
