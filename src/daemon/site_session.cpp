#include "daemon/site_session.h"

#include <spdlog/spdlog.h>

namespace zks::daemon {

SiteSession::SiteSession(EventLoop& loop, std::string name, zk::ConnectOptions options,
                         std::unique_ptr<zk::Client> client, SiteCallbacks callbacks)
    : loop_(loop),
      name_(std::move(name)),
      options_(std::move(options)),
      client_(std::move(client)),
      callbacks_(std::move(callbacks)) {
  client_->setSessionListener([this, loop = &loop_, alive = alive_](const zk::SessionEvent& e) {
    loop->post([this, alive, e] {
      if (*alive) onSessionEvent(e);
    });
  });
}

SiteSession::~SiteSession() {
  close();
  *alive_ = false;
}

void SiteSession::connect() {
  if (connecting_ || closed_) return;
  connecting_ = true;
  connected_ = false;
  // The previous connector posted its result and ended (connecting_ was
  // cleared on the loop after it): joining it takes no time.
  if (connector_.joinable()) connector_.join();
  connector_running_ = true;
  connector_ = std::thread([this, loop = &loop_, alive = alive_, timeout = options_.connect_timeout] {
    auto status = closed_ ? Status(std::unexpected(Error{ErrorCode::kZooKeeper, name_ + ": closed"}))
                          : client_->reopen(timeout);
    const uint64_t generation = client_->generation();
    loop->post([this, alive, status = std::move(status), generation] {
      if (*alive) onConnectDone(status, generation);
    });
    connector_running_ = false;
  });
}

void SiteSession::onConnectDone(Status status, uint64_t generation) {
  connecting_ = false;
  if (closed_) return;
  if (!status) {
    ++failures_;
    spdlog::warn("{}: {}; retrying", name_, status.error().describe());
    loop_.postAfter(kRetry, [this, alive = alive_] {
      if (*alive && !connected_) connect();
    });
    return;
  }
  failures_ = 0;
  session_generation_ = generation;
  connected_ = true;
  if (callbacks_.on_new_session) callbacks_.on_new_session();
}

void SiteSession::onSessionEvent(const zk::SessionEvent& e) {
  if (closed_ || e.generation != client_->generation()) return;
  if (callbacks_.on_event) callbacks_.on_event(e);
  // Events of a session connect() has not reported yet: its result says it.
  if (e.generation != session_generation_ || connecting_) return;
  switch (e.state) {
    case zk::SessionState::kConnected:
      if (!connected_) {
        connected_ = true;
        if (callbacks_.on_resumed) callbacks_.on_resumed();
      }
      break;
    case zk::SessionState::kConnecting:
      if (connected_) {
        connected_ = false;
        if (callbacks_.on_disconnected) callbacks_.on_disconnected();
      }
      if (callbacks_.renew_on_disconnect && callbacks_.renew_on_disconnect()) connect();
      break;
    case zk::SessionState::kExpired:
      spdlog::warn("{} session expired: opening a new one", name_);
      connected_ = false;
      connect();
      if (callbacks_.on_expired) callbacks_.on_expired();
      break;
    default:
      break;
  }
}

void SiteSession::close() {
  if (closed_.exchange(true)) return;
  // Cuts a reopen() in progress: the connector returns at once. A connector
  // that got past its closed_ check just before it was set may enter
  // reopen() after a close(): close again until it is out.
  client_->close();
  while (connector_running_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    client_->close();
  }
  if (connector_.joinable()) connector_.join();
  connected_ = false;
}

}  // namespace zks::daemon
