#pragma once

// One site's client for a full reconcile that reads it over more than one
// session (the site's max_read_sessions): every request goes to the main
// session, except getACL, which is spread round robin over the main
// session and the extra ones. getACL cannot ride in a multiRead, so under
// `acls: copy` a first read pipelines one per node; more sessions let the
// servers (and this client) work on them side by side. ACLs carry no watch
// events, so the FIFO order of the main session's replies and events (the
// daemon's merge rule) does not need them.
//
// Threading: as the clients it wraps; requests may come from any thread.

#include <atomic>
#include <memory>
#include <vector>

#include "zk/client.h"

namespace zks::reconcile {

class ReadSessions final : public zk::Client {
 public:
  ReadSessions(std::unique_ptr<zk::Client> main, std::vector<std::unique_ptr<zk::Client>> extra);
  ~ReadSessions() override;

  size_t sessions() const { return 1 + extra_.size(); }
  zk::Client& main() const { return *main_; }

  zk::Capabilities capabilities() const override { return main_->capabilities(); }
  void get(const std::string& path, bool watch, zk::GetCallback cb) override;
  void getChildren(const std::string& path, bool watch, zk::ChildrenCallback cb) override;
  void exists(const std::string& path, bool watch, zk::StatCallback cb) override;
  void getAcl(const std::string& path, zk::AclCallback cb) override;
  void create(zk::CreateOp op, zk::CreateCallback cb) override;
  void set(zk::SetOp op, zk::StatCallback cb) override;
  void remove(zk::DeleteOp op, zk::VoidCallback cb) override;
  void setAcl(const std::string& path, zk::AclList acl, int32_t version, zk::VoidCallback cb) override;
  void multi(std::vector<zk::Op> ops, zk::MultiCallback cb) override;
  void multiRead(std::vector<zk::ReadOp> ops, zk::MultiReadCallback cb) override;
  void addWatch(const std::string& path, zk::AddWatchMode mode, zk::VoidCallback cb) override;
  void removeWatches(const std::string& path, zk::VoidCallback cb) override;
  void sync(const std::string& path, zk::VoidCallback cb) override;
  void setWatchListener(zk::WatchListener listener) override;
  void setSessionListener(zk::SessionListener listener) override;
  // Reopens every session; the first failure is returned.
  Status reopen(std::chrono::milliseconds timeout) override;
  void close() override;
  zk::SessionState state() const override { return main_->state(); }
  uint64_t generation() const override { return main_->generation(); }
  int64_t sessionId() const override { return main_->sessionId(); }
  size_t pending() const override;

 private:
  std::unique_ptr<zk::Client> main_;
  std::vector<std::unique_ptr<zk::Client>> extra_;
  std::atomic<size_t> next_{0};
};

}  // namespace zks::reconcile
