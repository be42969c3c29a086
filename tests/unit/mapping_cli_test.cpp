// `zkstandby validate` and `zkstandby map`, run as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int status = -1;
  std::string out;
  std::string err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zks_mapping_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path file = dir_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

  static std::string slurp(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Runs zkstandby with `args` (shell words, already quoted as needed).
  CliRun run(const std::string& args, const std::string& stdin_text = "") {
    fs::path in = write("stdin", stdin_text);
    std::string command = std::string(ZKSTANDBY_BIN) + " " + args + " <" + in.string() + " >" +
                          (dir_ / "out").string() + " 2>" + (dir_ / "err").string();
    int raw = std::system(command.c_str());
    CliRun r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(dir_ / "out");
    r.err = slurp(dir_ / "err");
    return r;
  }

  // A config replicating /zms with the shipped zms.yaml (or `mapping_files`).
  fs::path config(const std::string& mapping_files = "", const std::string& extra = "") {
    std::string files = mapping_files.empty() ? "\"" + std::string(ZKS_SOURCE_DIR) + "/mappings/zms.yaml\"" : mapping_files;
    return write("zks.yaml", "primary:\n  connect: \"127.0.0.1:1\"\n  connect_timeout_ms: 500\n"
                             "backup:\n  connect: \"127.0.0.1:2\"\n"
                             "sync:\n  roots:\n    - source: /zms\n  exclude: [ /zms/topic/*/*, /zms/consumergroup/*/* ]\n" +
                                 extra + "mapping:\n  files: [ " + files + " ]\n");
  }

  fs::path dir_;
};

TEST_F(Cli, ValidateAcceptsTheShippedZmsMapping) {
  CliRun r = run("validate -c " + config().string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "config OK: 1 roots, 3 mapping rules\n");
  // Advice, not problems: no backup identity, and what acls: copy needs.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
  EXPECT_NE(r.err.find(": warning: backup.auth is empty"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(": note: acls: copy needs the primary identity to hold ADMIN"), std::string::npos) << r.err;
  CliRun reverse = run("validate --reverse -c " + config().string());
  EXPECT_EQ(reverse.status, 0) << reverse.err;
  EXPECT_EQ(reverse.out, "config OK: 1 roots, 3 mapping rules (reverse mapping OK)\n");
}

TEST_F(Cli, ValidateReportsEveryMappingMistakeWithItsLine) {
  fs::path mapping = write("m.yaml",
                           "tables:\n"
                           "  cluster: { a: b }\n"
                           "rules:\n"
                           "  - paths: [ /zms/x** ]\n"                // 4: bad glob
                           "    segments: clustr\n"                   // 5: unknown table
                           "  - paths: [ /legacy/** ]\n"
                           "    replace: [ { regex: '(', with: x } ]\n"  // 7: bad regex
                           "    formatt: text\n");                   // 8: unknown key
  CliRun r = run("validate -c " + config("m.yaml").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  const std::string m = mapping.string();
  for (const std::string& line : {m + ":4: bad glob '/zms/x**'", m + ":5: unknown table 'clustr'", m + ":7: bad regex '('",
                                  m + ":8: unknown key 'formatt' in a rule"}) {
    EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n---\n" << r.err;
  }
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 4) << r.err;
}

TEST_F(Cli, ValidateReverseRefusesTablesThatAreNotOneToOne) {
  fs::path mapping = write("m.yaml",
                           "tables:\n  cluster:\n    a: c\n    b: c\n"
                           "rules:\n  - paths: [ /zms/topic/* ]\n    format: properties\n    fields: { clusterName: cluster }\n");
  EXPECT_EQ(run("validate -c " + config("m.yaml").string()).status, 0);
  CliRun r = run("validate --reverse -c " + config("m.yaml").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(mapping.string() + ":4: table 'cluster' is not one-to-one: 'a' and 'b' both map to 'c'"),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, ValidateReportsConfigAndMappingProblemsInOneRun) {
  write("m.yaml", "rules:\n  - paths: [ rel ]\n    format: json\n");
  CliRun r = run("validate -c " + config("m.yaml", "bogus_key: 1\n").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("zks.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bogus_key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("m.yaml:2: bad glob 'rel'"), std::string::npos) << r.err;
}

TEST_F(Cli, MapShowsEachZmsNodeKind) {
  fs::path cfg = config();
  struct {
    std::string path, data, expected;
  } cases[] = {
      {"/zms/cluster/kafka_bj_01",
       "bootAddr=10.10.1.11:9092,10.10.1.12:9092\nbrokerType=kafka\nserverIps=10.10.0.31:2181\n",
       "/zms/cluster/kafka_bj_01 -> /zms/cluster/kafka_sh_01\n"
       "bootAddr=10.50.1.11:9092,10.50.1.12:9092\nbrokerType=kafka\nserverIps=10.50.0.31:2181\n"
       "changed: path segment: kafka_bj_01 -> kafka_sh_01\n"
       "changed: bootAddr: 10.10.1.11:9092,10.10.1.12:9092 -> 10.50.1.11:9092,10.50.1.12:9092\n"
       "changed: serverIps: 10.10.0.31:2181 -> 10.50.0.31:2181\n"},
      {"/zms/cluster/rmq_bj_order", "bootAddr=10.10.3.41:9876;10.10.3.42:9876\nbrokerType=rocketmq\nserverIps=10.10.4.51:10911\n",
       "/zms/cluster/rmq_bj_order -> /zms/cluster/rmq_sh_order\n"
       "bootAddr=10.50.3.41:9876;10.50.3.42:9876\nbrokerType=rocketmq\nserverIps=10.50.4.51:10911\n"
       "changed: path segment: rmq_bj_order -> rmq_sh_order\n"
       "changed: bootAddr: 10.10.3.41:9876;10.10.3.42:9876 -> 10.50.3.41:9876;10.50.3.42:9876\n"
       "changed: serverIps: 10.10.4.51:10911 -> 10.50.4.51:10911\n"},
      {"/zms/topic/order_created", "clusterName=kafka_bj_01\ntype=topic\ngatedIps=\ngatedCluster=\n",
       "/zms/topic/order_created -> /zms/topic/order_created\n"
       "clusterName=kafka_sh_01\ntype=topic\ngatedIps=\ngatedCluster=\n"
       "changed: clusterName: kafka_bj_01 -> kafka_sh_01\n"},
      {"/zms/consumergroup/order_created_billing",
       "clusterName=kafka_bj_01\ntype=consumergroup\nbindingTopic=order_created\nbroadcast=false\nconsumeFrom=latest\n"
       "suspend=false\ngatedIps=10.20.5.7\ngatedCluster=kafka_bj_02\n",
       "/zms/consumergroup/order_created_billing -> /zms/consumergroup/order_created_billing\n"
       "clusterName=kafka_sh_01\ntype=consumergroup\nbindingTopic=order_created\nbroadcast=false\nconsumeFrom=latest\n"
       "suspend=false\ngatedIps=10.20.5.7\ngatedCluster=kafka_sh_02\n"
       "changed: clusterName: kafka_bj_01 -> kafka_sh_01\nchanged: gatedCluster: kafka_bj_02 -> kafka_sh_02\n"},
      {"/zms/topic/half_written", "", "/zms/topic/half_written -> /zms/topic/half_written\n(empty payload)\nchanged: nothing\n"},
  };
  for (const auto& c : cases) {
    fs::path data = write("data", c.data);
    CliRun r = run("map -c " + cfg.string() + " --path '" + c.path + "' --data-file " + data.string());
    EXPECT_EQ(r.status, 0) << c.path << ": " << r.err;
    EXPECT_EQ(r.out, c.expected) << c.path;
  }
  // The same through stdin.
  CliRun piped = run("map -c " + cfg.string() + " --path /zms/topic/t --data-file -", "clusterName=kafka_bj_02");
  EXPECT_EQ(piped.out, "/zms/topic/t -> /zms/topic/t\nclusterName=kafka_sh_02\nchanged: clusterName: kafka_bj_02 -> kafka_sh_02\n");
}

TEST_F(Cli, MapSaysWhyANodeIsNotReplicated) {
  fs::path cfg = config();
  CliRun client = run("map -c " + cfg.string() + " --path '/zms/topic/order_created/10.20.5.7||DEFAULT_PRODUCER||1.0.0'");
  EXPECT_EQ(client.status, 1);
  EXPECT_EQ(client.out, "/zms/topic/order_created/10.20.5.7||DEFAULT_PRODUCER||1.0.0: not replicated: excluded by '/zms/topic/*/*'\n");
  CliRun outside = run("map -c " + cfg.string() + " --path /elsewhere --data-file /dev/null");
  EXPECT_EQ(outside.status, 1);
  EXPECT_EQ(outside.out, "/elsewhere: not replicated: outside every root\n");
}

TEST_F(Cli, MapFailuresExitTwoWithOneLine) {
  fs::path cfg = config();
  fs::path data = write("data", "clusterName=kafka_zz_99\n");
  CliRun unmapped = run("map -c " + cfg.string() + " --path /zms/topic/t --data-file " + data.string());
  EXPECT_EQ(unmapped.status, 2);
  EXPECT_EQ(unmapped.out, "");
  EXPECT_NE(unmapped.err.find("zkstandby: error: /zms/topic/t: cannot be mapped (unmapped): clusterName: 'kafka_zz_99' is not "
                              "in table cluster"),
            std::string::npos)
      << unmapped.err;
  CliRun bad_path = run("map -c " + cfg.string() + " --path zms --data-file " + data.string());
  EXPECT_EQ(bad_path.status, 2);
  EXPECT_NE(bad_path.err.find("--path 'zms' is not a valid znode path"), std::string::npos) << bad_path.err;
  CliRun no_file = run("map -c " + cfg.string() + " --path /zms/topic/t --data-file " + (dir_ / "nope").string());
  EXPECT_EQ(no_file.status, 2);
}

TEST_F(Cli, MapReportsAnUnreachablePrimaryWithinItsTimeout) {
  auto start = std::chrono::steady_clock::now();
  CliRun r = run("map -c " + config().string() + " --path /zms/topic/t");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("primary ZooKeeper 127.0.0.1:1 not reachable within 500 ms"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST_F(Cli, MapReverseGoesBackToThePrimaryForm) {
  fs::path data = write("data", "bootAddr=10.50.1.11:9092\nbrokerType=kafka\n");
  CliRun r = run("map --reverse -c " + config().string() + " --path /zms/cluster/kafka_sh_01 --data-file " + data.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "/zms/cluster/kafka_sh_01 -> /zms/cluster/kafka_bj_01\nbootAddr=10.10.1.11:9092\nbrokerType=kafka\n"
            "changed: path segment: kafka_sh_01 -> kafka_bj_01\nchanged: bootAddr: 10.50.1.11:9092 -> 10.10.1.11:9092\n");
}

}  // namespace
