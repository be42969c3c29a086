#pragma once

// Host lists, the values `hosts: true` maps: host[:port] items separated by
// ',' or ';' (Kafka bootstrap lists, RocketMQ name servers, ZooKeeper connect
// strings, Solr node names, listener URLs). Internal to the engine.
//
// An item is trimmed of surrounding whitespace, then:
//   scheme://          kept ("PLAINTEXT://", "http://")
//   user@              kept
//   [v6addr]:port      the host is inside the brackets
//   a:b:c              two or more ':' and no brackets: a bare IPv6 host, no port
//   host:port/rest     the host ends at the first ':' or '/'
// Separators, whitespace, ports and everything after the host are kept.

#include <string_view>

namespace zks::mapping {

struct HostItem {
  size_t authority_begin = 0;  // host with its port (and brackets), up to any '/'
  size_t authority_end = 0;
  size_t host_begin = 0;  // the host alone
  size_t host_end = 0;
  bool hasPort() const { return authority_begin != host_begin || authority_end != host_end; }
};

// Calls fn(const HostItem&) for each item with a non-empty host, offsets into `value`.
template <typename Fn>
void forEachHost(std::string_view value, Fn&& fn);

// One item's parse; false when it names no host.
bool parseHostItem(std::string_view value, size_t begin, size_t end, HostItem& item);

template <typename Fn>
void forEachHost(std::string_view value, Fn&& fn) {
  size_t begin = 0;
  while (begin <= value.size()) {
    size_t end = begin;
    while (end < value.size() && value[end] != ',' && value[end] != ';') ++end;
    HostItem item;
    if (parseHostItem(value, begin, end, item)) fn(item);
    begin = end + 1;
  }
}

}  // namespace zks::mapping
