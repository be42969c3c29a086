#include "testdoubles/fake/auth.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "support/digest.h"

namespace zks::zk::fake {
namespace {

// Java's String.split(":") drops trailing empty parts; a digest id is valid
// when exactly two parts remain.
bool validDigestId(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t colon = id.find(':', start);
    parts.push_back(id.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  return parts.size() == 2;
}

std::optional<std::array<uint8_t, 4>> parseIpv4(const std::string& s) {
  std::array<uint8_t, 4> out{};
  size_t pos = 0;
  for (size_t i = 0; i < 4; ++i) {
    size_t end = pos;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (end == pos || end - pos > 3) return std::nullopt;
    const int v = std::stoi(s.substr(pos, end - pos));
    if (v > 255) return std::nullopt;
    out[i] = static_cast<uint8_t>(v);
    if (i < 3) {
      if (end >= s.size() || s[end] != '.') return std::nullopt;
      pos = end + 1;
    } else if (end != s.size()) {
      return std::nullopt;
    }
  }
  return out;
}

// IPAuthenticationProvider: "a.b.c.d" or "a.b.c.d/bits" (IPv4 only here).
std::optional<std::pair<std::array<uint8_t, 4>, int>> parseIpAcl(const std::string& expr) {
  const size_t slash = expr.find('/');
  auto addr = parseIpv4(expr.substr(0, slash));
  if (!addr) return std::nullopt;
  int bits = 32;
  if (slash != std::string::npos) {
    const std::string b = expr.substr(slash + 1);
    if (b.empty() || b.size() > 2 || !std::all_of(b.begin(), b.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    bits = std::stoi(b);
    if (bits > 32) return std::nullopt;
  }
  return std::make_pair(*addr, bits);
}

bool ipMatches(const std::string& client, const std::string& expr) {
  auto acl = parseIpAcl(expr);
  auto addr = parseIpv4(client);
  if (!acl || !addr) return false;
  for (size_t i = 0; i < 4; ++i) {
    const int bits = std::clamp(acl->second - static_cast<int>(i) * 8, 0, 8);
    const auto mask = static_cast<uint8_t>(0xff00 >> bits);
    if ((acl->first[i] & mask) != ((*addr)[i] & mask)) return false;
  }
  return true;
}

}  // namespace

std::optional<AuthIds> authenticate(const std::string& scheme, const std::string& credentials,
                                    const std::string& super_digest) {
  if (scheme != "digest") return std::nullopt;
  const std::string id = testing::digestAclId(credentials);
  AuthIds out;
  if (!super_digest.empty() && id == super_digest) out.emplace_back("super", "");
  out.emplace_back("digest", id);
  return out;
}

bool permitted(const AuthIds* ids, const AclList& acl, int32_t perm) {
  if (ids == nullptr || acl.empty()) return true;
  for (const auto& id : *ids) {
    if (id.first == "super") return true;
  }
  for (const auto& a : acl) {
    if ((a.perms & perm) == 0) continue;
    if (a.scheme == "world" && a.id == "anyone") return true;
    for (const auto& id : *ids) {
      if (id.first != a.scheme) continue;
      if (a.scheme == "digest" && id.second == a.id) return true;
      if (a.scheme == "ip" && ipMatches(id.second, a.id)) return true;
    }
  }
  return false;
}

std::optional<AclList> fixupAcl(const AuthIds* ids, const AclList& acl) {
  AclList unique;
  for (const auto& a : acl) {
    if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(a);
  }
  if (unique.empty()) return std::nullopt;
  AclList out;
  for (const auto& a : unique) {
    if (a.scheme == "world" && a.id == "anyone") {
      out.push_back(a);
    } else if (a.scheme == "auth") {
      // Only authenticated providers count: digest (ip is not one).
      bool any = false;
      if (ids != nullptr) {
        for (const auto& id : *ids) {
          if (id.first == "digest") {
            out.push_back(Acl{a.perms, id.first, id.second});
            any = true;
          }
        }
      }
      if (!any) return std::nullopt;
    } else if (a.scheme == "digest") {
      if (!validDigestId(a.id)) return std::nullopt;
      out.push_back(a);
    } else if (a.scheme == "ip") {
      if (!parseIpAcl(a.id)) return std::nullopt;
      out.push_back(a);
    } else {
      return std::nullopt;  // no such authentication provider
    }
  }
  return out;
}

AclList hideDigests(AclList acl) {
  for (auto& a : acl) {
    const size_t colon = a.id.find(':');
    if (a.scheme == "digest" && colon != std::string::npos) a.id = a.id.substr(0, colon) + ":x";
  }
  return acl;
}

}  // namespace zks::zk::fake
