#pragma once

// A ZMS-shaped metadata tree (../shared/ZMS-LAYOUT.md) for the demo, the
// integration tests and the benchmarks: Kafka and RocketMQ clusters, topics
// (statistics topics included) and consumer groups with Java-properties
// payloads, deterministic for a given shape and seed.
//
// Large trees are split over `tenants`: /zms/t00/{cluster,topic,consumergroup}.
// A real ZMS tree is flat, but a flat parent with 100,000+ children would
// make one getChildren answer larger than ZooKeeper's 1 MiB jute.maxbuffer.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "zk/client.h"

namespace zks::bench {

struct ZmsShape {
  std::string root = "/zms";
  int tenants = 0;  // 0: the plain layout, /zms/cluster, /zms/topic, /zms/consumergroup
  int kafka_clusters = 3;
  int rocketmq_clusters = 2;
  int topics = 20;
  int groups = 30;
  uint64_t seed = 1;
  // Primary-site names; the mapping turns "bj" into "sh" and 10.10.* into 10.50.*.
  std::string site = "bj";
  std::string net = "10.10";
};

struct ZmsNode {
  std::string path;
  std::string data;
};

// Calls `fn` for every node, parents before children.
void forEachZmsNode(const ZmsShape& shape, const std::function<void(ZmsNode)>& fn);
size_t zmsNodeCount(const ZmsShape& shape);

// The cluster names and broker hosts the tree uses (for mapping tables).
std::vector<std::string> zmsClusterNames(const ZmsShape& shape);
std::vector<std::string> zmsHosts(const ZmsShape& shape);

// A mapping file (SPEC section 3) whose tables cover every name and host of
// the tree: primary "bj"/"10.10" to standby "sh"/"10.50".
std::string zmsMappingYaml(const ZmsShape& shape);

// Writes the tree through `client` with pipelined, byte-bounded multi
// creates; existing nodes are an error. Returns the nodes written.
Result<size_t> writeZmsTree(zk::Client& client, const ZmsShape& shape);

}  // namespace zks::bench
