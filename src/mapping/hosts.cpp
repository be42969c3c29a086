#include "mapping/hosts.h"

namespace zks::mapping {
namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
}  // namespace

bool parseHostItem(std::string_view value, size_t begin, size_t end, HostItem& item) {
  // Plain loops rather than find(): items are a few bytes, calls would dominate.
  while (begin < end && isSpace(value[begin])) ++begin;
  while (end > begin && isSpace(value[end - 1])) --end;
  size_t at = begin;
  for (size_t i = begin; i + 2 < end; ++i) {  // "scheme://": letters up to the first ':'
    char c = value[i];
    if (c == ':') {
      if (value[i + 1] == '/' && value[i + 2] == '/') at = i + 3;
      break;
    }
    if (c == '/') break;
  }
  size_t slash = end, user = std::string_view::npos;
  for (size_t i = at; i < end; ++i) {
    char c = value[i];
    if (c == '/') {
      slash = i;
      break;
    }
    if (c == '@') user = i;
  }
  if (user != std::string_view::npos) at = user + 1;
  size_t host_begin = at, host_end = slash;
  if (at < slash && value[at] == '[') {
    size_t close = value.find(']', at);
    if (close == std::string_view::npos || close >= slash) return false;
    host_begin = at + 1;
    host_end = close;
  } else {
    size_t first_colon = std::string_view::npos, colons = 0;
    for (size_t i = at; i < slash; ++i) {
      if (value[i] == ':') {
        if (colons++ == 0) first_colon = i;
      }
    }
    // Two or more ':' without brackets: a bare IPv6 address, no port.
    if (colons == 1) host_end = first_colon;
  }
  if (host_end <= host_begin) return false;
  item.authority_begin = at;
  item.authority_end = slash;
  item.host_begin = host_begin;
  item.host_end = host_end;
  return true;
}

}  // namespace zks::mapping
