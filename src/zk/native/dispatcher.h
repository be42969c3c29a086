#pragma once

// The native client's completion thread: runs callbacks, watch events and
// session events one at a time, in the order they were posted. It lives as
// long as the client, across sessions.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "zk/native/call.h"

namespace zks::zk::native {

class Dispatcher {
 public:
  explicit Dispatcher(std::string name);
  ~Dispatcher();  // stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void post(std::vector<std::unique_ptr<Task>> tasks);
  // Runs everything posted so far, then ends the thread. Idempotent.
  void stop();
  bool onDispatcherThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void loop();

  const std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Task>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace zks::zk::native
