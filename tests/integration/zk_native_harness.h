#pragma once

// Shared by the native client's integration tests (zk_native_*_test.cpp):
// recorders for what listeners and callbacks receive, and connecting a
// native client with test options.

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/wait.h"
#include "support/zk_session.h"
#include "zk/blocking.h"
#include "zk/client.h"
#include "zk/native/native_client.h"

namespace zks::testing {

using namespace std::chrono_literals;

// Test options for the native backend.
inline zk::ConnectOptions nativeOptions(const std::string& connect) {
  auto options = testClientOptions(connect);
  options.backend = zk::Backend::kNative;
  return options;
}

class Events;

// A connected native client. `events`, when given, is attached before the
// session starts, so it sees every session event from the first one on.
inline std::unique_ptr<zk::Client> connectNative(zk::ConnectOptions options, Events* events = nullptr);

// Collects what a client's listeners receive.
class Events {
 public:
  void attach(zk::Client& client) {
    client.setWatchListener([this](const zk::WatchEvent& e) {
      std::lock_guard lock(mutex_);
      watches_.push_back(e);
    });
    client.setSessionListener([this](const zk::SessionEvent& e) {
      std::lock_guard lock(mutex_);
      sessions_.push_back(e);
    });
  }
  bool waitWatch(zk::EventType type, const std::string& path, std::chrono::milliseconds timeout = 10s) {
    return waitFor([&] { return countWatch(type, path) > 0; }, timeout);
  }
  size_t countWatch(zk::EventType type, const std::string& path) {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(watches_.begin(), watches_.end(), [&](const zk::WatchEvent& e) {
      return e.type == type && e.path == path;
    }));
  }
  std::optional<zk::WatchEvent> find(zk::EventType type, const std::string& path) {
    std::lock_guard lock(mutex_);
    for (const auto& e : watches_) {
      if (e.type == type && e.path == path) return e;
    }
    return std::nullopt;
  }
  std::vector<zk::WatchEvent> watches() {
    std::lock_guard lock(mutex_);
    return watches_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    watches_.clear();
    sessions_.clear();
  }
  bool waitSession(zk::SessionState state, uint64_t generation, std::chrono::milliseconds timeout = 15s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex_);
          return std::any_of(sessions_.begin(), sessions_.end(), [&](const zk::SessionEvent& e) {
            return e.state == state && e.generation == generation;
          });
        },
        timeout);
  }
  size_t countSession(zk::SessionState state, uint64_t generation) {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count_if(sessions_.begin(), sessions_.end(), [&](const zk::SessionEvent& e) {
      return e.state == state && e.generation == generation;
    }));
  }
  // For reconnects: the n-th event of this state and generation.
  bool waitSessionCount(zk::SessionState state, uint64_t generation, size_t n,
                        std::chrono::milliseconds timeout = 20s) {
    return waitFor([&] { return countSession(state, generation) >= n; }, timeout);
  }
  std::vector<zk::SessionEvent> sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  std::mutex mutex_;
  std::vector<zk::WatchEvent> watches_;
  std::vector<zk::SessionEvent> sessions_;
};

inline std::unique_ptr<zk::Client> connectNative(zk::ConnectOptions options, Events* events) {
  options.backend = zk::Backend::kNative;
  auto client = zk::makeNativeClient(options);
  if (events != nullptr) events->attach(*client);
  auto st = client->reopen(options.connect_timeout);
  EXPECT_TRUE(st) << st.error().describe();
  if (!st) return nullptr;
  return client;
}

// Records one callback's result and the thread it ran on.
template <typename R>
struct Outcome {
  std::mutex mutex;
  std::optional<R> result;
  std::thread::id thread;
  int calls = 0;
  auto callback() {
    return [this](R r) {
      std::lock_guard lock(mutex);
      result = std::move(r);
      thread = std::this_thread::get_id();
      ++calls;
    };
  }
  bool wait(std::chrono::milliseconds timeout = 10s) {
    return waitFor(
        [&] {
          std::lock_guard lock(mutex);
          return calls > 0;
        },
        timeout);
  }
};

inline zk::MultiReadResult multiReadSync(zk::Client& c, std::vector<zk::ReadOp> ops) {
  return zk::await<zk::MultiReadResult>([&](auto cb) { c.multiRead(std::move(ops), std::move(cb)); });
}
inline zk::VoidResult addWatchSync(zk::Client& c, const std::string& path, zk::AddWatchMode mode) {
  return zk::await<zk::VoidResult>([&](auto cb) { c.addWatch(path, mode, std::move(cb)); });
}
inline zk::VoidResult removeWatchesSync(zk::Client& c, const std::string& path) {
  return zk::await<zk::VoidResult>([&](auto cb) { c.removeWatches(path, std::move(cb)); });
}
inline zk::VoidResult syncSync(zk::Client& c, const std::string& path) {
  return zk::await<zk::VoidResult>([&](auto cb) { c.sync(path, std::move(cb)); });
}

}  // namespace zks::testing
