#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/http_server.h"
#include "metrics/registry.h"

namespace zks::metrics {
namespace {

// A strict reader of the text format, enough to check what render() wrote:
// every line is a HELP, a TYPE or a sample of a family whose TYPE came first.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<std::string> label_order;
  std::string value;
};

struct Exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<std::string> families;  // in order of appearance
  std::vector<Sample> samples;

  const Sample* find(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return &s;
    }
    return nullptr;
  }
};

std::string unescape(const std::string& text, size_t& i, char stop) {
  std::string out;
  while (i < text.size() && text[i] != stop) {
    if (text[i] == '\\') {
      ++i;
      if (i >= text.size()) throw std::runtime_error("dangling backslash");
      char c = text[i];
      if (c == 'n') {
        out += '\n';
      } else if (c == '\\' || c == '"') {
        out += c;
      } else {
        throw std::runtime_error(std::string("bad escape \\") + c);
      }
    } else {
      out += text[i];
    }
    ++i;
  }
  return out;
}

std::string familyOf(const std::string& sample_name, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s = suffix;
    if (sample_name.size() > s.size() && sample_name.ends_with(s)) {
      std::string base = sample_name.substr(0, sample_name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return sample_name;
}

Exposition parse(const std::string& text) {
  Exposition e;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("output does not end with a newline");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) {
      size_t space = line.find(' ', 7);
      std::string name = line.substr(7, space - 7);
      size_t i = space + 1;
      e.help[name] = unescape(line, i, '\0');
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      size_t space = line.find(' ', 7);
      std::string name = line.substr(7, space - 7);
      if (!e.help.contains(name)) throw std::runtime_error("TYPE before HELP for " + name);
      if (e.type.contains(name)) throw std::runtime_error("second TYPE for " + name);
      e.type[name] = line.substr(space + 1);
      e.families.push_back(name);
      continue;
    }
    if (line.empty() || line[0] == '#') throw std::runtime_error("unexpected line: " + line);
    Sample s;
    size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string label = line.substr(i, eq - i);
        if (line[eq + 1] != '"') throw std::runtime_error("unquoted label value: " + line);
        i = eq + 2;
        std::string value = unescape(line, i, '"');
        ++i;  // closing quote
        if (s.labels.contains(label)) throw std::runtime_error("label twice: " + line);
        s.labels[label] = value;
        s.label_order.push_back(label);
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    if (line[i] != ' ') throw std::runtime_error("no space before value: " + line);
    s.value = line.substr(i + 1);
    if (s.value.empty() || s.value.find(' ') != std::string::npos) throw std::runtime_error("bad value: " + line);
    std::string family = familyOf(s.name, e.type);
    if (e.families.empty() || e.families.back() != family) throw std::runtime_error("sample outside its family: " + line);
    e.samples.push_back(std::move(s));
  }
  return e;
}

TEST(MetricsExposition, Counter) {
  Registry registry;
  Counter& applied = registry.counter("zks_ops_applied_total", "Writes applied to the backup, by kind.", {{"kind", "create"}});
  applied.inc();
  applied.inc(2);
  registry.counter("zks_ops_applied_total", "Writes applied to the backup, by kind.", {{"kind", "delete"}});
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.help["zks_ops_applied_total"], "Writes applied to the backup, by kind.");
  EXPECT_EQ(e.type["zks_ops_applied_total"], "counter");
  ASSERT_EQ(e.samples.size(), 2u);
  ASSERT_NE(e.find("zks_ops_applied_total", {{"kind", "create"}}), nullptr);
  EXPECT_EQ(e.find("zks_ops_applied_total", {{"kind", "create"}})->value, "3");
  EXPECT_EQ(e.find("zks_ops_applied_total", {{"kind", "delete"}})->value, "0") << "a registered series shows at zero";
}

TEST(MetricsExposition, UnlabelledSeriesHasNoBraces) {
  Registry registry;
  registry.gauge("zks_epoch", "Failover epoch.").set(7);
  EXPECT_EQ(registry.render(), "# HELP zks_epoch Failover epoch.\n# TYPE zks_epoch gauge\nzks_epoch 7\n");
}

TEST(MetricsExposition, GaugeValues) {
  Registry registry;
  Gauge& depth = registry.gauge("zks_queue_depth", "Queued events.", {{"site", "primary"}});
  depth.set(10);
  depth.dec();
  depth.add(-2.5);
  registry.gauge("zks_odd", "Special values.", {{"v", "nan"}}).set(NAN);
  registry.gauge("zks_odd", "Special values.", {{"v", "inf"}}).set(INFINITY);
  registry.gauge("zks_odd", "Special values.", {{"v", "-inf"}}).set(-INFINITY);
  registry.gauge("zks_odd", "Special values.", {{"v", "tiny"}}).set(1e-9);
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.type["zks_queue_depth"], "gauge");
  EXPECT_EQ(e.find("zks_queue_depth", {{"site", "primary"}})->value, "6.5");
  EXPECT_EQ(e.find("zks_odd", {{"v", "nan"}})->value, "NaN");
  EXPECT_EQ(e.find("zks_odd", {{"v", "inf"}})->value, "+Inf");
  EXPECT_EQ(e.find("zks_odd", {{"v", "-inf"}})->value, "-Inf");
  EXPECT_EQ(std::stod(e.find("zks_odd", {{"v", "tiny"}})->value), 1e-9);
}

TEST(MetricsExposition, Histogram) {
  Registry registry;
  Histogram& lag = registry.histogram("zks_lag_seconds", "Primary mtime to backup apply.", {0.001, 0.01, 0.1, 1},
                                      {{"root", "/zms"}});
  for (double v : {0.0005, 0.001, 0.05, 5.0}) lag.observe(v);
  lag.observe(NAN);  // dropped
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.type["zks_lag_seconds"], "histogram");
  std::vector<std::pair<std::string, std::string>> expected = {
      {"0.001", "2"}, {"0.01", "2"}, {"0.1", "3"}, {"1", "3"}, {"+Inf", "4"}};
  std::vector<const Sample*> buckets;
  for (const auto& s : e.samples) {
    if (s.name == "zks_lag_seconds_bucket") buckets.push_back(&s);
  }
  ASSERT_EQ(buckets.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(buckets[i]->labels.at("root"), "/zms");
    EXPECT_EQ(buckets[i]->labels.at("le"), expected[i].first) << "buckets in increasing order, +Inf last";
    EXPECT_EQ(buckets[i]->value, expected[i].second) << "le=" << expected[i].first;
    EXPECT_EQ(buckets[i]->label_order.back(), "le");
  }
  ASSERT_NE(e.find("zks_lag_seconds_sum", {{"root", "/zms"}}), nullptr);
  EXPECT_DOUBLE_EQ(std::stod(e.find("zks_lag_seconds_sum", {{"root", "/zms"}})->value), 0.0005 + 0.001 + 0.05 + 5.0);
  EXPECT_EQ(e.find("zks_lag_seconds_count", {{"root", "/zms"}})->value, "4");
}

TEST(MetricsExposition, DefaultLagBucketsSpanOneMillisecondToTenSeconds) {
  Registry registry;
  registry.histogram("zks_lag_seconds", "Lag.", kLagBuckets).observe(0.003);
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.find("zks_lag_seconds_bucket", {{"le", "0.001"}})->value, "0");
  EXPECT_EQ(e.find("zks_lag_seconds_bucket", {{"le", "0.005"}})->value, "1");
  EXPECT_EQ(e.find("zks_lag_seconds_bucket", {{"le", "10"}})->value, "1");
  EXPECT_EQ(e.find("zks_lag_seconds_bucket", {{"le", "+Inf"}})->value, "1");
}

TEST(MetricsExposition, EscapesHelpAndLabelValues) {
  Registry registry;
  std::string value = "a\"b\\c\nd";
  registry.counter("zks_escape_total", "Help with \\ and\nnewline \"quoted\".", {{"path", value}}).inc();
  std::string text = registry.render();
  EXPECT_NE(text.find(R"(path="a\"b\\c\nd")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(# HELP zks_escape_total Help with \\ and\nnewline "quoted".)"), std::string::npos) << text;
  Exposition e = parse(text);
  EXPECT_EQ(e.help["zks_escape_total"], "Help with \\ and\nnewline \"quoted\".");
  ASSERT_EQ(e.samples.size(), 1u);
  EXPECT_EQ(e.samples[0].labels.at("path"), value);
}

TEST(MetricsExposition, FamiliesByNameSeriesByLabels) {
  Registry registry;
  registry.gauge("zks_b", "B.", {{"site", "primary"}});
  registry.gauge("zks_b", "B.", {{"site", "backup"}});
  registry.counter("zks_a_total", "A.", {{"z", "1"}, {"a", "2"}});
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.families, (std::vector<std::string>{"zks_a_total", "zks_b"}));
  ASSERT_EQ(e.samples.size(), 3u);
  EXPECT_EQ(e.samples[0].label_order, (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(e.samples[1].labels.at("site"), "backup");
  EXPECT_EQ(e.samples[2].labels.at("site"), "primary");
}

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameSeries) {
  Registry registry;
  Counter& a = registry.counter("zks_x_total", "X.", {{"a", "1"}, {"b", "2"}});
  Counter& b = registry.counter("zks_x_total", "X.", {{"b", "2"}, {"a", "1"}});
  Counter& other = registry.counter("zks_x_total", "X.", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  a.inc();
  EXPECT_EQ(b.value(), 1u);
}

TEST(MetricsRegistry, MisuseThrowsAtRegistration) {
  Registry registry;
  registry.counter("zks_x_total", "X.");
  EXPECT_THROW(registry.gauge("zks_x_total", "X."), std::invalid_argument);
  EXPECT_THROW(registry.counter("zks_x_total", "Other help."), std::invalid_argument);
  EXPECT_THROW(registry.counter("9starts_with_digit", "X."), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash", "X."), std::invalid_argument);
  EXPECT_THROW(registry.counter("zks_y_total", "Y.", {{"bad-label", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter("zks_y_total", "Y.", {{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter("zks_y_total", "Y.", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("zks_h", "H.", {1, 2}, {{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("zks_h", "H.", {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("zks_h", "H.", {1, INFINITY}), std::invalid_argument);
  registry.histogram("zks_h", "H.", {1, 2});
  EXPECT_THROW(registry.histogram("zks_h", "H.", {1, 3}), std::invalid_argument);
  // Nothing half-registered by the failed calls shows up.
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.families, (std::vector<std::string>{"zks_h", "zks_x_total"}));
}

// Updates from several threads, while another thread renders and registers,
// must add up exactly (run under ThreadSanitizer too).
TEST(MetricsRegistry, ConcurrentUpdatesSumExactly) {
  Registry registry;
  Counter& counter = registry.counter("zks_c_total", "C.");
  Gauge& gauge = registry.gauge("zks_g", "G.");
  Histogram& histogram = registry.histogram("zks_h_seconds", "H.", {0.5, 1.5});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    int round = 0;
    while (!done) {
      parse(registry.render());
      registry.counter("zks_scrape_side_total", "Registered while others update.", {{"round", std::to_string(round++ % 10)}})
          .inc();
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        gauge.add(1);
        histogram.observe(t % 2 == 0 ? 1.0 : 2.0);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();

  EXPECT_EQ(counter.value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(gauge.value(), double{kThreads} * kPerThread);
  Histogram::Snapshot snap = histogram.snapshot();
  EXPECT_EQ(snap.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snap.cumulative, (std::vector<uint64_t>{0, 2 * kPerThread, 4 * kPerThread}));
  EXPECT_EQ(snap.sum, 2.0 * kPerThread * 1.0 + 2.0 * kPerThread * 2.0);
  Exposition e = parse(registry.render());
  EXPECT_EQ(e.find("zks_c_total", {})->value, std::to_string(kThreads * kPerThread));
}

TEST(ListenAddress, Parses) {
  EXPECT_EQ(parseListenAddress("127.0.0.1:9406"), (std::pair<std::string, int>{"127.0.0.1", 9406}));
  EXPECT_EQ(parseListenAddress("[::1]:0"), (std::pair<std::string, int>{"::1", 0}));
  for (const char* bad : {"", "127.0.0.1", ":80", "h:", "h:x", "h:70000", "[::1]80", "h:-1"}) {
    auto parsed = parseListenAddress(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.counter("zks_requests_total", "Test counter.", {{"site", "backup"}}).inc(5);
    server_ = std::make_unique<HttpServer>(registry_, [this] {
      std::lock_guard lock(mutex_);
      return std::pair{ready_, reason_};
    });
    auto started = server_->start("127.0.0.1:0");
    ASSERT_TRUE(started.has_value()) << started.error().describe();
    ASSERT_GT(server_->port(), 0);
  }

  void setReady(bool ready, std::string reason) {
    std::lock_guard lock(mutex_);
    ready_ = ready;
    reason_ = std::move(reason);
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(5, 0);
    return c;
  }

  Registry registry_;
  std::mutex mutex_;
  bool ready_ = false;
  std::string reason_ = "first reconcile not done";
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HealthzAnswersOk) {
  auto res = client().Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzFollowsTheCheck) {
  auto c = client();
  auto res = c.Get("/readyz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "first reconcile not done\n");

  setReady(true, "leader, connected");
  res = c.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "leader, connected\n");

  setReady(false, "fenced:\nsite failed over");
  res = c.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "fenced: site failed over\n") << "the reason stays on one line";
}

TEST_F(HttpServerTest, MetricsServesTheRegistry) {
  auto c = client();
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  Exposition e = parse(res->body);
  ASSERT_NE(e.find("zks_requests_total", {{"site", "backup"}}), nullptr);
  EXPECT_EQ(e.find("zks_requests_total", {{"site", "backup"}})->value, "5");

  // Values are read at each scrape.
  registry_.counter("zks_requests_total", "Test counter.", {{"site", "backup"}}).inc();
  res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(parse(res->body).find("zks_requests_total", {{"site", "backup"}})->value, "6");
}

TEST_F(HttpServerTest, UnknownPathIsNotFound) {
  auto res = client().Get("/nothing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(HttpServerTest, StopClosesThePortAndCanBeRepeated) {
  int port = server_->port();
  ASSERT_TRUE(client().Get("/healthz"));
  server_->stop();
  EXPECT_EQ(server_->port(), 0);
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  auto res = c.Get("/healthz");
  EXPECT_FALSE(res) << "still answering after stop()";
  server_->stop();
}

TEST_F(HttpServerTest, StartTwiceIsRefused) {
  auto again = server_->start("127.0.0.1:0");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kInternal);
}

TEST_F(HttpServerTest, PortInUseIsAnError) {
  Registry other;
  HttpServer second(other, [] { return std::pair{true, std::string()}; });
  auto started = second.start("127.0.0.1:" + std::to_string(server_->port()));
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kIo);
  EXPECT_NE(started.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos) << started.error().message;
}

// A plain TCP connection to the server, for clients that misbehave.
int connectRaw(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// One client opening connections that send nothing, or trickle a request a
// byte at a time (each holds one of the server's workers), must not keep
// the probe from answering.
TEST_F(HttpServerTest, StalledAndTricklingConnectionsDoNotStarveReadyz) {
  setReady(true, "leader, connected");
  constexpr int kTrickling = 4, kSilent = 4;
  std::vector<int> fds;
  for (int i = 0; i < kTrickling + kSilent; ++i) fds.push_back(connectRaw(server_->port()));
  for (int i = 0; i < kTrickling; ++i) {
    const std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    send(fds[i], head.data(), head.size(), MSG_NOSIGNAL);
  }
  std::atomic<bool> stop{false};
  std::thread trickler([&] {
    // The slow client's pace: one header byte per connection every 100 ms,
    // never finishing its request.
    while (!stop) {
      for (int i = 0; i < kTrickling; ++i) send(fds[i], "a", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct Cleanup {
    std::atomic<bool>& stop;
    std::thread& thread;
    std::vector<int>& fds;
    ~Cleanup() {
      stop = true;
      thread.join();
      for (int fd : fds) close(fd);
    }
  } cleanup{stop, trickler, fds};

  for (int probe = 0; probe < 3; ++probe) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_connection_timeout(3, 0);
    c.set_read_timeout(3, 0);
    const auto start = std::chrono::steady_clock::now();
    auto res = c.Get("/readyz");
    ASSERT_TRUE(res) << "probe " << probe << ": " << httplib::to_string(res.error()) << " after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()
                     << " ms";
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "leader, connected\n");
  }
}

// Probes and scrapes carry no body: a large one is refused (413) before it
// is held in memory.
TEST_F(HttpServerTest, ARequestBodyOverTheLimitIsRefused) {
  const int fd = connectRaw(server_->port());
  const std::string body(64 * 1024, 'x');
  const std::string request = "POST /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  const std::string response = readAll(fd);
  close(fd);
  EXPECT_EQ(response.substr(0, 12), "HTTP/1.1 413") << response.substr(0, 200);
  // The server is still serving.
  auto res = client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HttpServer, StopRightAfterStartReturns) {
  Registry registry;
  for (int i = 0; i < 20; ++i) {
    HttpServer server(registry, [] { return std::pair{true, std::string()}; });
    ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
    server.stop();
  }
}

TEST(HttpServer, ThrowingCheckIsNotReady) {
  Registry registry;
  HttpServer server(registry, []() -> std::pair<bool, std::string> { throw std::runtime_error("state unavailable"); });
  ASSERT_TRUE(server.start("127.0.0.1:0").has_value());
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(5, 0);
  auto res = c.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "readiness check failed: state unavailable\n");
}

TEST(HttpServer, BadAddressIsRefused) {
  Registry registry;
  HttpServer server(registry, [] { return std::pair{true, std::string()}; });
  auto started = server.start("nonsense");
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace zks::metrics
