#include "mapping/hosts.h"

namespace zks::mapping {
namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
}  // namespace

bool parseHostItem(std::string_view value, size_t begin, size_t end, HostItem& item) {
  while (begin < end && isSpace(value[begin])) ++begin;
  while (end > begin && isSpace(value[end - 1])) --end;
  std::string_view text = value.substr(begin, end - begin);
  size_t at = 0;
  if (size_t scheme = text.find("://"); scheme != std::string_view::npos) at = scheme + 3;
  size_t slash = text.find('/', at);
  if (slash == std::string_view::npos) slash = text.size();
  if (size_t user = text.find('@', at); user != std::string_view::npos && user < slash) at = user + 1;
  std::string_view authority = text.substr(at, slash - at);
  size_t host_begin = at, host_end;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host_begin = at + 1;
    host_end = at + close;
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      host_end = slash;  // a bare IPv6 address
    } else {
      host_end = colon == std::string_view::npos ? slash : at + colon;
    }
  }
  if (host_end <= host_begin) return false;
  item.host_begin = begin + host_begin;
  item.host_end = begin + host_end;
  item.authority_begin = begin + at;
  item.authority_end = begin + slash;
  return true;
}

}  // namespace zks::mapping
