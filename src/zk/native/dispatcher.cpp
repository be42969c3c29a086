#include "zk/native/dispatcher.h"

#include <spdlog/spdlog.h>

namespace zks::zk::native {

Dispatcher::Dispatcher(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { loop(); });
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::post(std::vector<std::unique_ptr<Task>> tasks) {
  if (tasks.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      queue_ = std::move(tasks);
    } else {
      for (auto& t : tasks) queue_.push_back(std::move(t));
    }
  }
  cv_.notify_one();
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::loop() {
  for (;;) {
    std::vector<std::unique_ptr<Task>> batch;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    for (auto& task : batch) {
      try {
        task->run();
      } catch (const std::exception& e) {
        spdlog::error("zookeeper {}: a callback threw: {}", name_, e.what());
      } catch (...) {
        spdlog::error("zookeeper {}: a callback threw", name_);
      }
      task.reset();  // the callback's captures go now, not with the batch
    }
  }
}

}  // namespace zks::zk::native
