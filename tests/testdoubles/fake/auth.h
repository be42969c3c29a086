#pragma once

// Authentication and ACL rules of a ZooKeeper 3.8 server: who a session is
// (its auth ids), what an ACL lets it do (ZooKeeperServer.checkACL), and how
// a requested ACL is validated and expanded (PrepRequestProcessor.fixupACL).
// Schemes: world, digest, ip (IPv4, with /bits), auth, and the superDigest.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "zk/types.h"

namespace zks::zk::fake {

// An authenticated identity: ("ip", addr), ("digest", "user:hash"), ("super", "").
using AuthId = std::pair<std::string, std::string>;
using AuthIds = std::vector<AuthId>;

// The identities `credentials` add for `scheme` (digest only; the super
// identity too when they match `super_digest`, a "super:<hash>" id), or
// nullopt for a scheme the server has no provider for.
std::optional<AuthIds> authenticate(const std::string& scheme, const std::string& credentials,
                                    const std::string& super_digest);

// ZooKeeperServer.checkACL. `ids` null: the all-powerful direct helpers.
bool permitted(const AuthIds* ids, const AclList& acl, int32_t perm);

// PrepRequestProcessor.fixupACL: duplicates dropped, "auth" expanded to the
// session's digest ids, every entry validated. nullopt: kInvalidAcl.
std::optional<AclList> fixupAcl(const AuthIds* ids, const AclList& acl);

// getAcl without ADMIN shows digest ids as "user:x" (ZOOKEEPER-1392).
AclList hideDigests(AclList acl);

}  // namespace zks::zk::fake
