#include "metrics/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>

namespace zks::metrics {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

// Sized for the worst reasonable case of one misbehaving client next to the
// probes and the scraper; see start().
constexpr size_t kWorkers = 16;
constexpr auto kReadTimeout = std::chrono::seconds(2);
constexpr auto kWriteTimeout = std::chrono::seconds(5);
constexpr size_t kKeepAliveMaxRequests = 100;
constexpr size_t kMaxBodyBytes = 1024;

// A reason goes on one line of a probe's body: fold line breaks away.
std::string oneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::atomic<bool> listen_returned{false};
};

Result<std::pair<std::string, int>> parseListenAddress(const std::string& listen) {
  std::string host;
  std::string port_text;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return fail(ErrorCode::kInvalidArgument, "listen address '" + listen + "' is not [host]:port");
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return fail(ErrorCode::kInvalidArgument, "listen address '" + listen + "' is not host:port");
    }
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return fail(ErrorCode::kInvalidArgument, "listen address '" + listen + "' is not host:port with a port in 0-65535");
  }
  return std::pair{host, port};
}

HttpServer::HttpServer(const Registry& registry, ReadyCheck ready) : registry_(registry), ready_(std::move(ready)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& listen) {
  if (impl_) return fail(ErrorCode::kInternal, "http server already started");
  auto address = parseListenAddress(listen);
  if (!address) return std::unexpected(address.error());
  auto [host, port] = *address;

  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  // cpp-httplib serves each connection on one worker from accept to close,
  // so a client that connects and then sends nothing, or trickles its
  // request, holds a worker until a timeout. With a handful of workers a
  // single such client starved /readyz and the orchestrator restarted a
  // healthy daemon. Enough workers for many stalled connections (idle
  // threads cost little), short read timeouts, and a bounded keep-alive
  // keep the probe answering.
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  server.set_read_timeout(kReadTimeout);
  server.set_write_timeout(kWriteTimeout);
  // stop() waits for open keep-alive connections; a short idle timeout
  // bounds how long that can take, and a scraper's kept connection frees its
  // worker soon after the scrape.
  server.set_keep_alive_timeout(1);
  server.set_keep_alive_max_count(kKeepAliveMaxRequests);
  // Probes and scrapes have no body; anything larger is refused (413) before
  // it is read into memory.
  server.set_payload_max_length(kMaxBodyBytes);
  // httplib's default sets SO_REUSEPORT, which lets a second daemon bind the
  // same port and answer half the probes; SO_REUSEADDR alone still allows a
  // quick restart over connections in TIME_WAIT.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry_.render(), kMetricsContentType);
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", kTextContentType); });
  server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = false;
    std::string reason;
    try {
      std::tie(ready, reason) = ready_();
    } catch (const std::exception& e) {
      ready = false;
      reason = std::string("readiness check failed: ") + e.what();
    }
    if (reason.empty()) reason = ready ? "ready" : "not ready";
    res.status = ready ? 200 : 503;
    res.set_content(oneLine(std::move(reason)) + "\n", kTextContentType);
  });

  errno = 0;
  int bound = -1;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound < 0) {
    std::string why = errno != 0 ? std::string(": ") + std::strerror(errno) : "";
    return fail(ErrorCode::kIo, "cannot listen on " + listen + why);
  }

  impl_ = std::move(impl);
  port_ = bound;
  Impl* running = impl_.get();
  thread_ = std::thread([running] {
    running->server.listen_after_bind();
    running->listen_returned = true;
  });
  // httplib's stop() does nothing until the listen loop has begun, so a
  // stop() right after start() would leave the thread running forever. The
  // loop begins at once; wait for it (or for its failure).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!running->server.is_running() && !running->listen_returned && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!running->server.is_running()) {
    stop();
    return fail(ErrorCode::kIo, "http server on " + listen + " did not start");
  }
  return {};
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
  port_ = 0;
}

}  // namespace zks::metrics
