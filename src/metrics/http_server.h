#pragma once

// The daemon's HTTP endpoint (SPEC.md section 6), on cpp-httplib:
//   GET /metrics  the registry in Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while the process lives
//   GET /readyz   200 or 503 with a one-line reason, from the daemon's check
//
// Threading: start() and stop() are called by the owner (one thread).
// Requests are served on the server's own threads (a listener and a pool of
// 16 workers, one per open connection; request bodies over 1 KiB are refused
// with 413, a request must arrive within 2 s); they call Registry::render() and the ReadyCheck there, so the
// check must be safe to call from any thread at any time (read atomics or
// take a lock; never block on the replication loop).

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "common/error.h"
#include "metrics/registry.h"

namespace zks::metrics {

class HttpServer {
 public:
  // (ready, reason): reason is shown in both cases; keep it to one line.
  using ReadyCheck = std::function<std::pair<bool, std::string>()>;

  // Both must outlive the server (or at least its stop()).
  HttpServer(const Registry& registry, ReadyCheck ready);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds "host:port" or "[v6addr]:port" and starts serving. Port 0 picks a
  // free port; port() tells which. Fails (kInvalidArgument) on a malformed
  // address, (kIo) when the address cannot be bound, (kInternal) when
  // already started.
  Status start(const std::string& listen);

  // Stops accepting, waits for requests in progress and joins the server's
  // threads. Safe to call twice or without start().
  void stop();

  // The bound port; 0 when not started.
  int port() const { return port_; }

 private:
  struct Impl;
  const Registry& registry_;
  ReadyCheck ready_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "host:port" or "[v6addr]:port" (brackets removed from the host).
Result<std::pair<std::string, int>> parseListenAddress(const std::string& listen);

}  // namespace zks::metrics
