// Mapping throughput on ZMS-shaped trees (and the other shipped layouts):
// nodes/s and MB/s of payload, one thread, as the planner calls the engine
// (a scoped set, one reused MapResult). The rules are those of
// mappings/zms.yaml; only its tables are replaced by generated, larger ones.
#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mapping/mapping_set.h"

namespace {

using zks::mapping::MappingSet;
using zks::mapping::MapResult;

constexpr int kKafkaClusters = 40;
constexpr int kRocketClusters = 20;
constexpr int kHostsPerSite = 400;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string host(int site, int i) { return "10." + std::to_string(site) + "." + std::to_string(1 + i / 200) + "." + std::to_string(10 + i % 200); }
std::string kafka(const char* site, int i) { return std::string("kafka_") + site + "_" + std::to_string(i); }
std::string rocket(const char* site, int i) { return std::string("rmq_") + site + "_" + std::to_string(i); }

// mappings/zms.yaml with generated tables in place of the example ones.
MappingSet zmsSet(bool scoped) {
  std::string shipped = readFile(std::string(ZKS_SOURCE_DIR) + "/mappings/zms.yaml");
  std::string yaml = "tables:\n  cluster:\n";
  for (int i = 0; i < kKafkaClusters; ++i) yaml += "    " + kafka("bj", i) + ": " + kafka("sh", i) + "\n";
  for (int i = 0; i < kRocketClusters; ++i) yaml += "    " + rocket("bj", i) + ": " + rocket("sh", i) + "\n";
  yaml += "  host:\n";
  for (int i = 0; i < kHostsPerSite; ++i) yaml += "    " + host(10, i) + ": " + host(50, i) + "\n";
  yaml += shipped.substr(shipped.find("\nrules:") + 1);
  auto set = zks::mapping::loadMappingText(yaml, "zms-bench.yaml");
  if (!set) throw std::runtime_error(set.error()[0].describe());
  if (!scoped) return *set;
  return *set->withScope({{"/zms", "/zms"}}, {"/zms/topic/*/*", "/zms/consumergroup/*/*"});
}

struct Node {
  std::string path;
  std::string data;
};

// A ZMS tree: every cluster, then topics and consumer groups spread over the
// clusters; a third written by java.util.Properties.store (date comment,
// escaped ':'), some gated, some with unknown extra keys.
std::vector<Node> zmsTree(size_t topics, size_t groups, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  std::vector<Node> nodes;
  auto hosts = [&](int n, const char* port, const char* sep, bool store) {
    std::string out;
    for (int k = 0; k < n; ++k) {
      out += (k ? sep : "") + host(10, pick(kHostsPerSite)) + (store ? "\\:" : ":") + port;
    }
    return out;
  };
  for (int i = 0; i < kKafkaClusters; ++i) {
    bool store = i % 3 == 0;
    std::string data = store ? "#Mon Jun 01 10:15:30 CST 2020\n" : "";
    data += "bootAddr=" + hosts(3 + pick(4), "9092", ",", store) + "\nbrokerType=kafka\nserverIps=" +
            hosts(3, "2181", ",", store) + "\n";
    nodes.push_back({"/zms/cluster/" + kafka("bj", i), data});
  }
  for (int i = 0; i < kRocketClusters; ++i) {
    std::string data = "bootAddr=" + hosts(2, "9876", ";", false) + "\nbrokerType=rocketmq\nserverIps=" +
                       hosts(2 + pick(3), "10911", ";", false) + "\n";
    nodes.push_back({"/zms/cluster/" + rocket("bj", i), data});
  }
  auto cluster = [&] { return pick(3) ? kafka("bj", pick(kKafkaClusters)) : rocket("bj", pick(kRocketClusters)); };
  auto object = [&](const std::string& kind, size_t i, bool group) {
    bool store = i % 3 == 0;
    bool gated = i % 10 == 0;
    std::string data = store ? "#Mon Jun 01 10:15:30 CST 2020\n" : "";
    data += "clusterName=" + cluster() + "\ntype=" + kind + "\n";
    if (group) {
      data += "bindingTopic=topic_" + std::to_string(pick(static_cast<int>(topics))) +
              "\nbroadcast=false\nconsumeFrom=" + (pick(2) ? "latest" : "earliest") + "\nsuspend=false\n";
    }
    data += "gatedIps=" + std::string(gated ? "10.20.5.7,10.20.5.8" : "") + "\ngatedCluster=" + (gated ? cluster() : "") + "\n";
    if (i % 7 == 0) data += "statisticsLogger=true\n";
    return data;
  };
  for (size_t i = 0; i < topics; ++i) {
    nodes.push_back({"/zms/topic/topic_" + std::to_string(i), object("topic", i, false)});
  }
  for (size_t i = 0; i < groups; ++i) {
    nodes.push_back({"/zms/consumergroup/group_" + std::to_string(i), object("consumergroup", i, true)});
  }
  return nodes;
}

void run(benchmark::State& state, const MappingSet& set, const std::vector<Node>& nodes, bool explain = false) {
  MapResult result;
  size_t i = 0, bytes = 0, failed = 0;
  for (auto _ : state) {
    const Node& node = nodes[i];
    set.map(node.path, node.data, result, explain);
    failed += !result.mapped();
    bytes += node.data.size();
    benchmark::DoNotOptimize(result.data.data());
    if (++i == nodes.size()) i = 0;
  }
  if (failed) state.SkipWithError("a node failed to map");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// The whole ZMS tree: 60 clusters, 60k topics, 40k consumer groups.
void BM_ZmsTree(benchmark::State& state) {
  static const MappingSet set = zmsSet(true);
  static const auto nodes = zmsTree(60000, 40000);
  run(state, set, nodes);
}
BENCHMARK(BM_ZmsTree);

void BM_ZmsTreeExplain(benchmark::State& state) {  // what diff and map pay
  static const MappingSet set = zmsSet(true);
  static const auto nodes = zmsTree(60000, 40000);
  run(state, set, nodes, true);
}
BENCHMARK(BM_ZmsTreeExplain);

void BM_ZmsClusters(benchmark::State& state) {  // segments + host lists
  static const MappingSet set = zmsSet(true);
  static const auto nodes = zmsTree(0, 0);
  run(state, set, nodes);
}
BENCHMARK(BM_ZmsClusters);

void BM_ZmsReverse(benchmark::State& state) {  // failback through the inverse
  static const MappingSet forward = zmsSet(true);
  static const MappingSet reverse = *forward.inverse();
  static const auto nodes = [] {
    std::vector<Node> mapped;
    for (const Node& node : zmsTree(60000, 40000)) {
      MapResult r = forward.map(node.path, node.data);
      mapped.push_back({r.path, r.data});
    }
    return mapped;
  }();
  run(state, reverse, nodes);
}
BENCHMARK(BM_ZmsReverse);

void BM_ZmsUnmappedPaths(benchmark::State& state) {  // nodes no rule names (parents, other trees)
  static const MappingSet set = zmsSet(false);
  static const std::vector<Node> nodes = [] {
    std::vector<Node> out;
    for (int i = 0; i < 1000; ++i) out.push_back({"/other/tree/node_" + std::to_string(i), "some=payload\nof=typical size\n"});
    return out;
  }();
  run(state, set, nodes);
}
BENCHMARK(BM_ZmsUnmappedPaths);

void BM_SolrStateJson(benchmark::State& state) {  // one large JSON document per node
  static const MappingSet set = [] {
    auto loaded = zks::mapping::loadMappingFiles({std::string(ZKS_SOURCE_DIR) + "/mappings/solr.yaml"});
    if (!loaded) throw std::runtime_error(loaded.error()[0].describe());
    return *loaded;
  }();
  static const std::vector<Node> nodes = [] {
    const char* hosts[] = {"10.10.1.11", "10.10.1.12", "10.10.1.13"};
    std::string state_json = "{\"big\":{\"router\":{\"name\":\"compositeId\"},\"shards\":{";
    for (int s = 0; s < 32; ++s) {
      state_json += (s ? "," : "") + std::string("\"shard") + std::to_string(s) + "\":{\"range\":\"0-7fffffff\",\"state\":\"active\",\"replicas\":{";
      for (int r = 0; r < 3; ++r) {
        std::string h = hosts[(s + r) % 3];
        state_json += (r ? "," : "") + std::string("\"core_node") + std::to_string(s * 3 + r) +
                      "\":{\"core\":\"big_shard" + std::to_string(s) + "_replica_n" + std::to_string(r) +
                      "\",\"base_url\":\"http://" + h + ":8983/solr\",\"node_name\":\"" + h +
                      ":8983_solr\",\"state\":\"active\",\"type\":\"NRT\",\"force_set_state\":\"false\"}";
      }
      state_json += "}}";
    }
    state_json += "}}}";
    return std::vector<Node>{{"/solr/collections/big/state.json", state_json}};
  }();
  run(state, set, nodes);
}
BENCHMARK(BM_SolrStateJson);

}  // namespace

BENCHMARK_MAIN();
