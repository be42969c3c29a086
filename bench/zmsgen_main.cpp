// zks-zmsgen: writes a ZMS-shaped tree to a ZooKeeper, or prints its mapping file.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/zms_tree.h"
#include "zk/c_client.h"

int main(int argc, char** argv) {
  zks::bench::ZmsShape shape;
  std::string connect;
  bool mapping = false;
  CLI::App app{"zks-zmsgen: a ZMS-shaped test tree"};
  app.add_option("--connect", connect, "ZooKeeper connect string to write the tree to");
  app.add_option("--root", shape.root, "root path")->capture_default_str();
  app.add_option("--tenants", shape.tenants, "split the tree over this many /root/tNN subtrees")->capture_default_str();
  app.add_option("--kafka-clusters", shape.kafka_clusters)->capture_default_str();
  app.add_option("--rocketmq-clusters", shape.rocketmq_clusters)->capture_default_str();
  app.add_option("--topics", shape.topics, "topics per tenant")->capture_default_str();
  app.add_option("--groups", shape.groups, "consumer groups per tenant")->capture_default_str();
  app.add_option("--seed", shape.seed)->capture_default_str();
  app.add_flag("--print-mapping", mapping, "print a mapping file for the tree and exit");
  CLI11_PARSE(app, argc, argv);
  if (mapping) {
    std::fputs(zks::bench::zmsMappingYaml(shape).c_str(), stdout);
    return 0;
  }
  if (connect.empty()) {
    std::fprintf(stderr, "zks-zmsgen: error: --connect is required\n");
    return 2;
  }
  auto client = zks::zk::makeCClient({.connect = connect, .name = "target"});
  if (auto s = client->reopen(std::chrono::seconds(15)); !s) {
    std::fprintf(stderr, "zks-zmsgen: error: %s\n", s.error().describe().c_str());
    return 2;
  }
  auto written = zks::bench::writeZmsTree(*client, shape);
  if (!written) {
    std::fprintf(stderr, "zks-zmsgen: error: %s\n", written.error().describe().c_str());
    return 2;
  }
  std::printf("zks-zmsgen: wrote %zu nodes under %s\n", *written, shape.root.c_str());
  return 0;
}
