#include "plan/node_plan.h"

#include <algorithm>

namespace zks::plan {

namespace {
// Writes `desired`'s data over a backup copy at `expected_version` (-1: any).
Change dataUpdate(const DesiredNode& desired, int32_t expected_version) {
  Change update{.kind = ChangeKind::kUpdate, .path = desired.path, .source_path = desired.source_path};
  update.after = desired.data;
  update.expected_version = expected_version;
  update.fields = desired.fields;
  update.source_mtime_ms = desired.stat.mtime;
  return update;
}
}  // namespace

std::string_view changeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kCreate: return "create";
    case ChangeKind::kUpdate: return "update";
    case ChangeKind::kSetAcl: return "set-acl";
    case ChangeKind::kDelete: return "delete";
    case ChangeKind::kSkipped: return "skipped";
    case ChangeKind::kBlocked: return "blocked";
    case ChangeKind::kConflict: return "conflict";
  }
  return "unknown";
}

bool isWrite(const Change& change) {
  switch (change.kind) {
    case ChangeKind::kCreate:
    case ChangeKind::kUpdate:
    case ChangeKind::kSetAcl:
    case ChangeKind::kDelete:
      return true;
    default:
      return false;
  }
}

bool replicates(const zk::Stat& primary_stat, const Policies& policies) {
  return zk::kindOf(primary_stat) != zk::NodeKind::kEphemeral || policies.ephemerals == EphemeralPolicy::kPersist;
}

bool isRedactedDigest(const zk::Acl& entry) {
  if (entry.scheme != "digest") return false;
  // "user:" then base64(sha1): 27 characters and one '=' of padding. A user
  // name has no ':' (ZooKeeper splits the credentials at the first one).
  const auto colon = entry.id.find(':');
  if (colon == std::string::npos || colon == 0) return true;
  const std::string_view hash = std::string_view(entry.id).substr(colon + 1);
  if (hash.size() != 28 || hash.back() != '=') return true;
  for (char c : hash.substr(0, 27)) {
    const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!b64) return true;
  }
  return false;
}

bool hasRedactedDigest(const zk::AclList& acl) { return std::any_of(acl.begin(), acl.end(), isRedactedDigest); }

namespace {
// The primary's entries that can be written as they are.
zk::AclList copyableEntries(const zk::AclList& acl) {
  zk::AclList out;
  for (const auto& a : acl) {
    if (!isRedactedDigest(a)) out.push_back(a);
  }
  return out;
}
}  // namespace

std::optional<zk::AclList> desiredAcl(const DesiredNode& desired, const Policies& policies) {
  switch (policies.acls) {
    case AclPolicy::kOpen: return zk::openAcl();
    case AclPolicy::kKeepBackup: return std::nullopt;
    case AclPolicy::kCopy:
      // An empty list is an ACL not read, never "open": ZooKeeper has no
      // node without an ACL entry.
      if (desired.acl.empty() || hasRedactedDigest(desired.acl)) return std::nullopt;
      return desired.acl;
  }
  return std::nullopt;
}

bool needsParentAcl(const DesiredNode& desired, const Policies& policies) {
  switch (policies.acls) {
    case AclPolicy::kOpen: return false;
    case AclPolicy::kKeepBackup: return true;
    // Every entry redacted. (An empty list is an ACL not read: no create.)
    case AclPolicy::kCopy: return !desired.acl.empty() && copyableEntries(desired.acl).empty();
  }
  return false;
}

std::optional<zk::AclList> createAcl(const DesiredNode& desired, const Policies& policies) {
  if (needsParentAcl(desired, policies)) {
    if (!desired.parent_acl || desired.parent_acl->empty()) return std::nullopt;
    return desired.parent_acl;
  }
  if (policies.acls == AclPolicy::kOpen) return zk::openAcl();
  if (desired.acl.empty()) return std::nullopt;
  return copyableEntries(desired.acl);
}

bool sameAcl(zk::AclList a, zk::AclList b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

namespace {

// The creation mode that keeps the primary node's kind. Ephemerals (only
// replicated under `ephemerals: persist`) become persistent: the replicator's
// session must not own the standby's copy. The real server reports containers
// and TTL nodes with ephemeralOwner 0 to clients, so they usually arrive here
// as persistent; see docs/design.md, "The model".
zk::CreateMode createModeFor(const zk::Stat& stat) {
  switch (zk::kindOf(stat)) {
    case zk::NodeKind::kContainer: return zk::CreateMode::kContainer;
    case zk::NodeKind::kTtl: return zk::CreateMode::kPersistentWithTtl;
    default: return zk::CreateMode::kPersistent;
  }
}

// The low 40 bits of a TTL node's ephemeralOwner hold its TTL in ms.
int64_t ttlOf(const zk::Stat& stat) {
  return static_cast<int64_t>(static_cast<uint64_t>(stat.ephemeral_owner) & 0xFFFFFFFFFFULL);
}

}  // namespace

std::vector<Change> planNode(const std::optional<DesiredNode>& desired, const std::optional<BackupNode>& backup,
                             const Policies& policies) {
  std::vector<Change> out;
  if (!desired) {
    if (!backup) return out;
    // The standby site's own ephemerals (its clients' registrations) are never touched.
    if (zk::kindOf(backup->stat) == zk::NodeKind::kEphemeral) return out;
    if (policies.deletes == DeletePolicy::kKeep) return out;
    Change del{.kind = ChangeKind::kDelete, .path = backup->path};
    del.before = backup->data;
    del.expected_version = backup->stat.version;
    out.push_back(std::move(del));
    return out;
  }

  // The primary's ACL names digest ids the server redacted: they are never
  // written, and the node is reported (its data still goes).
  std::optional<Change> redacted;
  if (policies.acls == AclPolicy::kCopy && hasRedactedDigest(desired->acl)) {
    redacted = Change{.kind = ChangeKind::kSkipped,
                      .path = desired->path,
                      .source_path = desired->source_path,
                      .reason = "ACL not copied: the primary showed a redacted digest id (the replicator's primary "
                                "identity needs ADMIN on this node, or a super identity)",
                      .reported = true};
  }

  if (!backup) {
    auto acl = createAcl(*desired, policies);
    if (!acl) {
      // The reconciler supplies parent_acl where it is needed; without it
      // the node is not created rather than created with a guessed ACL.
      out.push_back(Change{.kind = ChangeKind::kSkipped,
                           .path = desired->path,
                           .source_path = desired->source_path,
                           .reason = "not created: the ACL it should get is not known",
                           .reported = true});
      return out;
    }
    Change create{.kind = ChangeKind::kCreate, .path = desired->path, .source_path = desired->source_path};
    create.after = desired->data;
    create.acl = std::move(*acl);
    create.mode = createModeFor(desired->stat);
    if (create.mode == zk::CreateMode::kPersistentWithTtl) {
      create.ttl_ms = ttlOf(desired->stat);
      if (create.ttl_ms <= 0) create.mode = zk::CreateMode::kPersistent;
    }
    create.fields = desired->fields;
    create.source_mtime_ms = desired->stat.mtime;
    out.push_back(std::move(create));
    if (redacted) out.push_back(std::move(*redacted));
    return out;
  }

  if (zk::kindOf(backup->stat) == zk::NodeKind::kEphemeral) {
    // A standby-site session owns this path; writing it would fight that
    // client. Reported: it clears when that client goes.
    out.push_back(Change{.kind = ChangeKind::kConflict,
                         .path = desired->path,
                         .source_path = desired->source_path,
                         .reason = "an ephemeral node of the standby site holds this path",
                         .reported = true});
    return out;
  }

  if (backup->data != desired->data) {
    Change update = dataUpdate(*desired, backup->stat.version);
    update.before = backup->data;
    out.push_back(std::move(update));
  }

  if (backup->acl) {
    if (auto want = desiredAcl(*desired, policies); want && !sameAcl(*want, *backup->acl)) {
      Change acl{.kind = ChangeKind::kSetAcl, .path = desired->path, .source_path = desired->source_path};
      acl.acl = std::move(*want);
      acl.acl_before = *backup->acl;
      acl.expected_version = backup->stat.aversion;
      out.push_back(std::move(acl));
    }
  }
  if (redacted) out.push_back(std::move(*redacted));
  return out;
}

Change planKnownUpdate(const DesiredNode& desired) { return dataUpdate(desired, -1); }

}  // namespace zks::plan
