#pragma once

// ZooKeeper's digest scheme, for building digest ACLs in tests: the id of
// credentials "user:password" is "user:" + base64(sha1("user:password")),
// exactly as DigestAuthenticationProvider computes it. Not for security.

#include <string>
#include <string_view>

namespace zks::testing {

std::string digestAclId(std::string_view credentials);

}  // namespace zks::testing
