#include "support/digest.h"

#include <cstdint>

#include "support/sha1.h"

namespace zks::testing {
namespace {

std::string base64(const uint8_t* data, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{data[i]} << 16) | (i + 1 < n ? uint32_t{data[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{data[i + 2]} : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

}  // namespace

std::string digestAclId(std::string_view credentials) {
  const auto digest = sha1(credentials);
  const size_t colon = credentials.find(':');
  return std::string(credentials.substr(0, colon)) + ":" + base64(digest.data(), digest.size());
}

}  // namespace zks::testing
