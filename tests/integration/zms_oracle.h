#pragma once

// The mapping oracle for trees from bench/zms_tree.h, written
// independently of the mapping engine: the primary site's names and addresses
// ("bj", 10.10.*) and what the standby site calls them ("sh", 10.50.*).

#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "cli_harness.h"

namespace zks::testing {

inline std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Cluster names in a path or payload, primary -> standby (or back).
inline std::string swapClusterNames(std::string text, bool to_standby) {
  const std::string a = to_standby ? "_bj_" : "_sh_", b = to_standby ? "_sh_" : "_bj_";
  for (const char* kind : {"kafka", "rmq"}) text = replaceAll(text, kind + a, kind + b);
  return text;
}

// The payload a node under a mapped ZMS parent should hold on the other site.
inline std::string swapPayload(const std::string& path, std::string data, const std::string& root, bool to_standby) {
  const bool mapped = path.starts_with(root + "/cluster/") || path.starts_with(root + "/topic/") ||
                      path.starts_with(root + "/consumergroup/");
  if (!mapped) return data;
  data = swapClusterNames(std::move(data), to_standby);
  return replaceAll(std::move(data), to_standby ? "10.10." : "10.50.", to_standby ? "10.50." : "10.10.");
}

// Every persistent node the other site should hold, from a dump of this one.
inline std::map<std::string, DumpedNode> expectedOtherSite(const std::map<std::string, DumpedNode>& site,
                                                           const std::string& root, bool to_standby) {
  std::map<std::string, DumpedNode> out;
  for (const auto& [path, node] : site) {
    if (node.ephemeral_owner != 0) continue;
    DumpedNode want = node;
    want.path = swapClusterNames(path, to_standby);
    want.data = swapPayload(path, node.data, root, to_standby);
    out[want.path] = want;
  }
  return out;
}

// Same data and ACL for every wanted node, and no persistent node more.
inline void expectSameContent(const std::map<std::string, DumpedNode>& want,
                              const std::map<std::string, DumpedNode>& have) {
  for (const auto& [path, node] : want) {
    auto it = have.find(path);
    if (it == have.end()) {
      ADD_FAILURE() << "missing: " << path;
      continue;
    }
    EXPECT_EQ(it->second.data, node.data) << path;
    EXPECT_EQ(it->second.acl, node.acl) << path;
  }
  for (const auto& [path, node] : have) {
    if (node.ephemeral_owner == 0 && !want.count(path)) ADD_FAILURE() << "extra: " << path;
  }
}

}  // namespace zks::testing
