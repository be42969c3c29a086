#include "reconcile/read_sessions.h"

#include <future>

namespace zks::reconcile {

ReadSessions::ReadSessions(std::unique_ptr<zk::Client> main, std::vector<std::unique_ptr<zk::Client>> extra)
    : main_(std::move(main)), extra_(std::move(extra)) {}

ReadSessions::~ReadSessions() { close(); }

void ReadSessions::getAcl(const std::string& path, zk::AclCallback cb) {
  const size_t at = next_.fetch_add(1, std::memory_order_relaxed) % sessions();
  (at == 0 ? *main_ : *extra_[at - 1]).getAcl(path, std::move(cb));
}

void ReadSessions::get(const std::string& path, bool watch, zk::GetCallback cb) {
  main_->get(path, watch, std::move(cb));
}
void ReadSessions::getChildren(const std::string& path, bool watch, zk::ChildrenCallback cb) {
  main_->getChildren(path, watch, std::move(cb));
}
void ReadSessions::exists(const std::string& path, bool watch, zk::StatCallback cb) {
  main_->exists(path, watch, std::move(cb));
}
void ReadSessions::create(zk::CreateOp op, zk::CreateCallback cb) { main_->create(std::move(op), std::move(cb)); }
void ReadSessions::set(zk::SetOp op, zk::StatCallback cb) { main_->set(std::move(op), std::move(cb)); }
void ReadSessions::remove(zk::DeleteOp op, zk::VoidCallback cb) { main_->remove(std::move(op), std::move(cb)); }
void ReadSessions::setAcl(const std::string& path, zk::AclList acl, int32_t version, zk::VoidCallback cb) {
  main_->setAcl(path, std::move(acl), version, std::move(cb));
}
void ReadSessions::multi(std::vector<zk::Op> ops, zk::MultiCallback cb) { main_->multi(std::move(ops), std::move(cb)); }
void ReadSessions::multiRead(std::vector<zk::ReadOp> ops, zk::MultiReadCallback cb) {
  main_->multiRead(std::move(ops), std::move(cb));
}
void ReadSessions::addWatch(const std::string& path, zk::AddWatchMode mode, zk::VoidCallback cb) {
  main_->addWatch(path, mode, std::move(cb));
}
void ReadSessions::removeWatches(const std::string& path, zk::VoidCallback cb) {
  main_->removeWatches(path, std::move(cb));
}
void ReadSessions::sync(const std::string& path, zk::VoidCallback cb) { main_->sync(path, std::move(cb)); }
void ReadSessions::setWatchListener(zk::WatchListener listener) { main_->setWatchListener(std::move(listener)); }
void ReadSessions::setSessionListener(zk::SessionListener listener) {
  main_->setSessionListener(std::move(listener));
}

Status ReadSessions::reopen(std::chrono::milliseconds timeout) {
  std::vector<std::future<Status>> opening;
  opening.push_back(std::async(std::launch::async, [this, timeout] { return main_->reopen(timeout); }));
  for (auto& c : extra_) {
    opening.push_back(std::async(std::launch::async, [&c, timeout] { return c->reopen(timeout); }));
  }
  Status first;
  for (auto& f : opening) {
    auto s = f.get();
    if (!s && first) first = std::move(s);
  }
  return first;
}

void ReadSessions::close() {
  for (auto& c : extra_) c->close();
  main_->close();
}

size_t ReadSessions::pending() const {
  size_t n = main_->pending();
  for (const auto& c : extra_) n += c->pending();
  return n;
}

}  // namespace zks::reconcile
