#pragma once

// SHA-1, only to compute ZooKeeper digest ACL ids in tests (ZooKeeper's
// digest scheme is base64(sha1("user:password"))). Not for security.

#include <array>
#include <cstdint>
#include <string_view>

namespace zks::testing {

std::array<uint8_t, 20> sha1(std::string_view data);

}  // namespace zks::testing
