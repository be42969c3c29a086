#pragma once

// TapClient: a test decorator for the daemon's unit tests. It forwards
// everything to an inner client, counts requests by kind, and can hold back
// the requests that match a gate (not sent to the inner client) until the
// test opens it: the way to make a full pass read or write at a chosen
// moment between event passes (fifo_merge.h interleavings).
//
// Threading: requests from any thread; gate controls from the test thread.
// Held requests are sent, in order, from the thread that opens the gate.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "zk/client.h"

namespace zks::testing {

class TapClient final : public zk::Client {
 public:
  explicit TapClient(zk::Client& inner) : inner_(inner) {}

  // Holds back the next `count` requests of `kind` ("get", "getChildren",
  // "multi", "multiRead", ...) that touch `path` (a multi or multiRead
  // touches the paths of its ops; a multiRead's listing of P is
  // "children:P", its data read "P").
  void gate(std::string kind, std::string path, int count = 1) {
    std::lock_guard lock(mutex_);
    gates_.push_back({std::move(kind), std::move(path), count});
  }
  // Requests held so far.
  size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  // Sends every held request (in order) and closes every gate.
  void open() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
      gates_.clear();
    }
    for (auto& h : held) h();
  }
  uint64_t count(const std::string& kind) const {
    std::lock_guard lock(mutex_);
    uint64_t n = 0;
    for (const auto& [k, c] : counts_) n += k == kind ? c : 0;
    return n;
  }
  // Requests of `kind` that touched `path` (as gate() matches them).
  uint64_t seen(const std::string& kind, const std::string& path) const {
    std::lock_guard lock(mutex_);
    uint64_t n = 0;
    for (const auto& [k, p] : touched_) n += k == kind && p == path;
    return n;
  }
  // The kinds of the first 1,000 requests, in order.
  std::vector<std::string> log() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  // One-shot watches requested (reads with watch=true).
  uint64_t watchedReads() const { return watched_reads_.load(); }

  zk::Capabilities capabilities() const override { return inner_.capabilities(); }
  void get(const std::string& path, bool watch, zk::GetCallback cb) override {
    watched_reads_ += watch;
    pass("get", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.get(path, watch, std::move(cb)); });
  }
  void getChildren(const std::string& path, bool watch, zk::ChildrenCallback cb) override {
    watched_reads_ += watch;
    pass("getChildren", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.getChildren(path, watch, std::move(cb)); });
  }
  void exists(const std::string& path, bool watch, zk::StatCallback cb) override {
    watched_reads_ += watch;
    pass("exists", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.exists(path, watch, std::move(cb)); });
  }
  void getAcl(const std::string& path, zk::AclCallback cb) override {
    pass("getAcl", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.getAcl(path, std::move(cb)); });
  }
  void create(zk::CreateOp op, zk::CreateCallback cb) override {
    const std::string p = op.path;
    pass("create", {p}, [this, op = std::move(op), cb = std::move(cb)]() mutable { inner_.create(std::move(op), std::move(cb)); });
  }
  void set(zk::SetOp op, zk::StatCallback cb) override {
    const std::string p = op.path;
    pass("set", {p}, [this, op = std::move(op), cb = std::move(cb)]() mutable { inner_.set(std::move(op), std::move(cb)); });
  }
  void remove(zk::DeleteOp op, zk::VoidCallback cb) override {
    const std::string p = op.path;
    pass("remove", {p}, [this, op = std::move(op), cb = std::move(cb)]() mutable { inner_.remove(std::move(op), std::move(cb)); });
  }
  void setAcl(const std::string& path, zk::AclList acl, int32_t version, zk::VoidCallback cb) override {
    pass("setAcl", {path}, [=, this, acl = std::move(acl), cb = std::move(cb)]() mutable {
      inner_.setAcl(path, std::move(acl), version, std::move(cb));
    });
  }
  void multi(std::vector<zk::Op> ops, zk::MultiCallback cb) override {
    std::vector<std::string> paths;
    for (const auto& op : ops) paths.push_back(std::visit([](const auto& o) { return o.path; }, op));
    pass("multi", paths, [this, ops = std::move(ops), cb = std::move(cb)]() mutable { inner_.multi(std::move(ops), std::move(cb)); });
  }
  void multiRead(std::vector<zk::ReadOp> ops, zk::MultiReadCallback cb) override {
    std::vector<std::string> paths;
    // A listing in a multiRead is "children:<path>", a data read "<path>".
    for (const auto& op : ops) paths.push_back((op.kind == zk::ReadKind::kGetChildren ? "children:" : "") + op.path);
    pass("multiRead", paths, [this, ops = std::move(ops), cb = std::move(cb)]() mutable {
      inner_.multiRead(std::move(ops), std::move(cb));
    });
  }
  void addWatch(const std::string& path, zk::AddWatchMode mode, zk::VoidCallback cb) override {
    pass("addWatch", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.addWatch(path, mode, std::move(cb)); });
  }
  void removeWatches(const std::string& path, zk::VoidCallback cb) override {
    pass("removeWatches", {path}, [=, this, cb = std::move(cb)]() mutable { inner_.removeWatches(path, std::move(cb)); });
  }
  void sync(const std::string& path, zk::VoidCallback cb) override { inner_.sync(path, std::move(cb)); }
  void setWatchListener(zk::WatchListener listener) override { inner_.setWatchListener(std::move(listener)); }
  void setSessionListener(zk::SessionListener listener) override { inner_.setSessionListener(std::move(listener)); }
  Status reopen(std::chrono::milliseconds timeout) override { return inner_.reopen(timeout); }
  void close() override { inner_.close(); }
  zk::SessionState state() const override { return inner_.state(); }
  uint64_t generation() const override { return inner_.generation(); }
  int64_t sessionId() const override { return inner_.sessionId(); }
  size_t pending() const override { return inner_.pending(); }

 private:
  struct Gate {
    std::string kind;
    std::string path;
    int count;
  };
  void pass(const std::string& kind, const std::vector<std::string>& paths, std::function<void()> send) {
    {
      std::lock_guard lock(mutex_);
      bool found = false;
      for (auto& [k, c] : counts_) {
        if (k == kind) {
          ++c;
          found = true;
        }
      }
      if (!found) counts_.emplace_back(kind, 1);
      if (log_.size() < 1000) log_.push_back(kind);
      for (const auto& p : paths) {
        if (touched_.size() < 100000) touched_.emplace_back(kind, p);
      }
      for (auto& g : gates_) {
        if (g.count <= 0 || g.kind != kind) continue;
        bool touches = false;
        for (const auto& p : paths) touches |= p == g.path;
        if (!touches) continue;
        --g.count;
        held_.push_back(std::move(send));
        return;
      }
    }
    send();
  }

  zk::Client& inner_;
  mutable std::mutex mutex_;
  std::vector<Gate> gates_;
  std::vector<std::function<void()>> held_;
  std::vector<std::pair<std::string, uint64_t>> counts_;
  std::vector<std::string> log_;
  std::vector<std::pair<std::string, std::string>> touched_;
  std::atomic<uint64_t> watched_reads_{0};
};

}  // namespace zks::testing
