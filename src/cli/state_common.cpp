#include "cli/state_common.h"

#include <unistd.h>

#include <cstdio>
#include <httplib.h>
#include <iostream>

#include "common/log.h"
#include "zk/connect_options.h"

namespace zks::cli {

std::optional<BackupSession> openBackup(const std::string& config_file) {
  auto loaded = config::loadConfig(config_file);
  if (!loaded) {
    for (const auto& problem : loaded.error()) std::fprintf(stderr, "zkstandby: error: %s\n", problem.describe().c_str());
    return std::nullopt;
  }
  // One-shot commands keep the client library's routine lines (connected,
  // session established) out of the operator's way unless asked for.
  const std::string& level = loaded->log.level;
  (void)setupLogging(level == "debug" || level == "trace" ? level : "warn", loaded->log.format);

  auto options = config::connectOptions(loaded->backup, "backup");
  if (!options) {
    std::fprintf(stderr, "zkstandby: error: backup: %s\n", options.error().describe().c_str());
    return std::nullopt;
  }
  BackupSession session{std::move(*loaded), zk::makeClient(*options)};
  if (auto s = session.client->reopen(options->connect_timeout); !s) {
    std::fprintf(stderr, "zkstandby: error: backup ZooKeeper %s not reachable within %lld ms: %s\n",
                 options->connect.c_str(), static_cast<long long>(options->connect_timeout.count()),
                 s.error().describe().c_str());
    return std::nullopt;
  }
  return session;
}

Consent askConsent(const std::string& question, bool assume_yes) {
  if (assume_yes) return Consent::kGiven;
  if (isatty(STDIN_FILENO) == 0) return Consent::kNoTerminal;
  std::fprintf(stderr, "%s\nType 'yes' to continue: ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return Consent::kDeclined;
  return answer == "yes" ? Consent::kGiven : Consent::kDeclined;
}

state::LiveFigures fetchLiveFigures(const config::Config& config, std::chrono::milliseconds timeout) {
  state::LiveFigures live;
  const std::string& listen = config.http.listen;
  if (listen.empty()) return live;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    live.endpoint = listen;
    live.problem = "http.listen has no port";
    return live;
  }
  std::string host = listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "*") host = "127.0.0.1";  // listening everywhere: ask locally
  if (host == "[::]") host = "::1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  live.endpoint = "http://" + listen + "/metrics";
  if (port <= 0 || port > 65535) {
    live.problem = "http.listen has a bad port";
    return live;
  }
  httplib::Client client(host, port);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  auto res = client.Get("/metrics");
  if (!res) {
    live.problem = res.error() == httplib::Error::Connection ? std::string("cannot connect")
                                                             : "HTTP client: " + httplib::to_string(res.error());
    return live;
  }
  if (res->status != 200) {
    live.problem = "HTTP " + std::to_string(res->status);
    return live;
  }
  live.reachable = true;
  live.metrics = state::pickLiveMetrics(res->body);
  return live;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace zks::cli
