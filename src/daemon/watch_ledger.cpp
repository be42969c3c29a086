#include "daemon/watch_ledger.h"

#include <bit>
#include <string_view>

namespace zks::daemon {

namespace {
uint64_t hashOf(const std::string& path) { return std::hash<std::string_view>{}(path); }
}  // namespace

std::string chrootOf(const std::string& connect) {
  const auto slash = connect.find('/');
  if (slash == std::string::npos) return {};
  std::string chroot = connect.substr(slash);
  return chroot == "/" ? std::string() : chroot;
}

WatchLedger::WatchLedger(std::unique_ptr<zk::Client> inner, std::string chroot)
    : inner_(std::move(inner)), chroot_(std::move(chroot)) {}

SetWatchesSize WatchLedger::setWatchesSize() const {
  std::lock_guard lock(mutex_);
  return size_;
}

size_t WatchLedger::watchedPaths() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void WatchLedger::newerSession(uint64_t generation) {
  if (generation <= generation_) return;
  generation_ = generation;
  entries_.clear();
  size_ = {};
}

void WatchLedger::add(const std::string& path, uint64_t generation, Table table) {
  std::lock_guard lock(mutex_);
  newerSession(generation);
  if (generation != generation_) return;  // an answer from a session that has ended
  auto& e = entries_[hashOf(path)];
  e.length = static_cast<uint32_t>(chroot_.size() + (path == "/" && !chroot_.empty() ? 0 : path.size()));
  if (e.tables & table) return;
  e.tables |= table;
  ++size_.paths;
  size_.path_bytes += e.length;
}

void WatchLedger::removeFired(const zk::WatchEvent& event) {
  uint8_t fired = 0;
  switch (event.type) {
    case zk::EventType::kCreated:
    case zk::EventType::kDataChanged: fired = kData | kExist; break;
    case zk::EventType::kChildrenChanged: fired = kChild; break;
    case zk::EventType::kDeleted: fired = kData | kExist | kChild; break;
    case zk::EventType::kNotWatching: return;
  }
  std::lock_guard lock(mutex_);
  newerSession(event.generation);
  if (event.generation != generation_) return;
  auto it = entries_.find(hashOf(event.path));
  if (it == entries_.end()) return;
  const uint8_t gone = it->second.tables & fired;
  const int n = std::popcount(gone);
  size_.paths -= n;
  size_.path_bytes -= static_cast<size_t>(n) * it->second.length;
  it->second.tables &= static_cast<uint8_t>(~gone);
  if (it->second.tables == 0) entries_.erase(it);
}

void WatchLedger::get(const std::string& path, bool watch, zk::GetCallback cb) {
  if (!watch) return inner_->get(path, false, std::move(cb));
  const uint64_t generation = inner_->generation();
  inner_->get(path, true, [this, path, generation, cb = std::move(cb)](zk::GetResult r) {
    if (r.code == zk::Code::kOk) add(path, generation, kData);
    cb(std::move(r));
  });
}

void WatchLedger::exists(const std::string& path, bool watch, zk::StatCallback cb) {
  if (!watch) return inner_->exists(path, false, std::move(cb));
  const uint64_t generation = inner_->generation();
  inner_->exists(path, true, [this, path, generation, cb = std::move(cb)](zk::StatResult r) {
    if (r.code == zk::Code::kOk) add(path, generation, kData);
    else if (r.code == zk::Code::kNoNode) add(path, generation, kExist);
    cb(std::move(r));
  });
}

void WatchLedger::getChildren(const std::string& path, bool watch, zk::ChildrenCallback cb) {
  if (!watch) return inner_->getChildren(path, false, std::move(cb));
  const uint64_t generation = inner_->generation();
  inner_->getChildren(path, true, [this, path, generation, cb = std::move(cb)](zk::ChildrenResult r) {
    if (r.code == zk::Code::kOk) add(path, generation, kChild);
    cb(std::move(r));
  });
}

void WatchLedger::setWatchListener(zk::WatchListener listener) {
  inner_->setWatchListener([this, listener = std::move(listener)](const zk::WatchEvent& e) {
    removeFired(e);
    if (listener) listener(e);
  });
}

Status WatchLedger::reopen(std::chrono::milliseconds timeout) {
  auto status = inner_->reopen(timeout);
  // Whatever the outcome, the old session's watches are gone.
  std::lock_guard lock(mutex_);
  newerSession(inner_->generation());
  return status;
}

}  // namespace zks::daemon
