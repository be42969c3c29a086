#pragma once

// WatchLedger: a Client decorator that keeps account of the one-shot
// watches the wrapped client holds, to know the size of the SetWatches
// request the libzookeeper C client sends when its connection comes back.
//
// Why (ZOOKEEPER-706): the packaged C client (3.8.0) puts every watched
// path into one SetWatches packet. Over the server's 1 MiB jute.maxbuffer
// the server drops the connection, the client reconnects and sends it
// again, forever: the session never expires and no event ever arrives. The
// daemon opens a new session instead (and re-reads) when the packet would
// be too large, and it must count what the client really sends: the data,
// exist and child watch tables (a node read with getData and listed with
// getChildren is in two of them), each path with its 4-byte length and the
// chroot prefix the client adds, and every watched path, indexed by the
// daemon or not (skipped ephemerals, missing roots).
//
// When the C client holds a watch (its zookeeper.c): getData with a watch
// answered ok -> data table; exists answered ok -> data table, answered no
// node -> exist table; getChildren answered ok -> child table. An event
// removes what it fires: created and data changed -> data and exist
// entries of its path; children changed -> child entry; deleted -> all
// three. A new session holds none.
//
// Threading: callbacks and listeners run on the wrapped client's completion
// thread (the ledger updates under its lock, then calls the caller's);
// accessors may be called from any thread.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "zk/client.h"

namespace zks::daemon {

// The SetWatches request the C client sends for these watch tables: its
// 4-byte frame length, the request header (xid, type), relativeZxid and
// three vectors of length-prefixed paths. Pure.
struct SetWatchesSize {
  size_t paths = 0;       // entries over the three tables
  size_t path_bytes = 0;  // their bytes, chroot included
  size_t bytes() const { return 4 + 8 + 8 + 3 * 4 + paths * 4 + path_bytes; }
};

// The largest SetWatches request the daemon lets the C client send: the
// server's jute.maxbuffer default (1 MiB less one byte) less a margin for
// watches set between the check and the reconnect.
inline constexpr size_t kSetWatchesLimit = 1024 * 1024 - 24 * 1024;

class WatchLedger final : public zk::Client {
 public:
  // `chroot`: the connect string's chroot suffix ("" for none).
  WatchLedger(std::unique_ptr<zk::Client> inner, std::string chroot);

  SetWatchesSize setWatchesSize() const;
  // Distinct watched paths (a path with a data and a child watch counts once).
  size_t watchedPaths() const;

  zk::Capabilities capabilities() const override { return inner_->capabilities(); }
  void get(const std::string& path, bool watch, zk::GetCallback cb) override;
  void getChildren(const std::string& path, bool watch, zk::ChildrenCallback cb) override;
  void exists(const std::string& path, bool watch, zk::StatCallback cb) override;
  void getAcl(const std::string& path, zk::AclCallback cb) override { inner_->getAcl(path, std::move(cb)); }
  void create(zk::CreateOp op, zk::CreateCallback cb) override { inner_->create(std::move(op), std::move(cb)); }
  void set(zk::SetOp op, zk::StatCallback cb) override { inner_->set(std::move(op), std::move(cb)); }
  void remove(zk::DeleteOp op, zk::VoidCallback cb) override { inner_->remove(std::move(op), std::move(cb)); }
  void setAcl(const std::string& path, zk::AclList acl, int32_t version, zk::VoidCallback cb) override {
    inner_->setAcl(path, std::move(acl), version, std::move(cb));
  }
  void multi(std::vector<zk::Op> ops, zk::MultiCallback cb) override { inner_->multi(std::move(ops), std::move(cb)); }
  void multiRead(std::vector<zk::ReadOp> ops, zk::MultiReadCallback cb) override {
    inner_->multiRead(std::move(ops), std::move(cb));
  }
  void addWatch(const std::string& path, zk::AddWatchMode mode, zk::VoidCallback cb) override {
    inner_->addWatch(path, mode, std::move(cb));
  }
  void removeWatches(const std::string& path, zk::VoidCallback cb) override {
    inner_->removeWatches(path, std::move(cb));
  }
  void sync(const std::string& path, zk::VoidCallback cb) override { inner_->sync(path, std::move(cb)); }
  void setWatchListener(zk::WatchListener listener) override;
  void setSessionListener(zk::SessionListener listener) override { inner_->setSessionListener(std::move(listener)); }
  Status reopen(std::chrono::milliseconds timeout) override;
  void close() override { inner_->close(); }
  zk::SessionState state() const override { return inner_->state(); }
  uint64_t generation() const override { return inner_->generation(); }
  int64_t sessionId() const override { return inner_->sessionId(); }
  size_t pending() const override { return inner_->pending(); }

 private:
  enum Table : uint8_t { kData = 1, kExist = 2, kChild = 4 };
  void add(const std::string& path, uint64_t generation, Table table);
  void removeFired(const zk::WatchEvent& event);
  // A newer session holds none of the older one's watches (mutex_ held).
  void newerSession(uint64_t generation);

  std::unique_ptr<zk::Client> inner_;
  const std::string chroot_;
  mutable std::mutex mutex_;
  uint64_t generation_ = 0;  // the session the tables belong to
  // Hash of the path -> (its length, the tables holding it). A hash, not
  // the path: at a million nodes the strings would double the daemon's
  // memory; two paths sharing a 64-bit hash would undercount one path.
  struct Entry {
    uint32_t length = 0;
    uint8_t tables = 0;
  };
  std::unordered_map<uint64_t, Entry> entries_;
  SetWatchesSize size_;
};

// The chroot suffix of a connect string ("host:port,host:port/chroot"): "" when none.
std::string chrootOf(const std::string& connect);

}  // namespace zks::daemon
