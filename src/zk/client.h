#pragma once

// The asynchronous ZooKeeper client interface every module writes against.
//
// Implementations: the native client (the wire protocol, native/), CClient
// (libzookeeper-mt, c_client.h), and in the test-support library FakeClient
// (in memory) and FaultClient (a fault-injecting decorator). makeClient()
// (connect_options.h) picks the backend a site is configured with.
//
// Threading: requests may be issued from any thread, including from inside a
// callback. Every callback runs on the implementation's completion thread,
// exactly once per request, and must be cheap: copy what it needs, post work
// to its owner's loop, return. Never block in a callback.
//
// Sessions: a client owns one session at a time, numbered by a generation that
// starts at 1 and grows each time reopen() builds a new one. Watch events and
// session events carry the generation of the session they belong to; events of
// an older generation are dropped by the client and never delivered. Requests
// still pending when a session ends complete with kSessionExpired, kClosing or
// kConnectionLoss (retryable codes): their outcome is unknown.
//
// Window: at most `max_in_flight` requests are on the wire at once; the rest
// wait in a FIFO inside the client. Callers bound their own memory use.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "zk/types.h"

namespace zks::zk {

using GetCallback = std::function<void(GetResult)>;
using ChildrenCallback = std::function<void(ChildrenResult)>;
using StatCallback = std::function<void(StatResult)>;
using AclCallback = std::function<void(AclResult)>;
using CreateCallback = std::function<void(CreateResult)>;
using VoidCallback = std::function<void(VoidResult)>;
using MultiCallback = std::function<void(MultiResult)>;
using MultiReadCallback = std::function<void(MultiReadResult)>;
using WatchListener = std::function<void(const WatchEvent&)>;
using SessionListener = std::function<void(const SessionEvent&)>;

// What the backend and the server it talks to can do. Callers pick their
// strategy from this (bulk reads or pipelined ones, one recursive watch or
// per-node watches); the fallbacks below keep every call working anyway.
struct Capabilities {
  bool multi_read = false;                // multiRead is one request (else emulated by pipelined reads)
  bool persistent_watches = false;        // addWatch/removeWatches work (else answered kUnimplemented)
  bool special_creates_in_multi = false;  // container and TTL creates may go inside multi()
};

class Client {
 public:
  virtual ~Client() = default;

  virtual Capabilities capabilities() const { return {}; }

  // Reads. `watch` sets a one-shot watch (data watch for get/exists, child
  // watch for getChildren) delivered to the watch listener.
  virtual void get(const std::string& path, bool watch, GetCallback cb) = 0;
  virtual void getChildren(const std::string& path, bool watch, ChildrenCallback cb) = 0;
  virtual void exists(const std::string& path, bool watch, StatCallback cb) = 0;
  virtual void getAcl(const std::string& path, AclCallback cb) = 0;

  // Writes.
  virtual void create(CreateOp op, CreateCallback cb) = 0;
  virtual void set(SetOp op, StatCallback cb) = 0;
  virtual void remove(DeleteOp op, VoidCallback cb) = 0;
  virtual void setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) = 0;
  // Atomic: all ops apply or none. The caller keeps the request under the
  // server's jute.maxbuffer (see MultiBatcher).
  virtual void multi(std::vector<Op> ops, MultiCallback cb) = 0;

  // Bulk reads: one result per op, in order (see MultiReadResult). Without
  // capabilities().multi_read this default issues the ops as pipelined
  // get()/getChildren() calls (their stats included) and answers once all
  // are in; the callback still runs on the completion thread.
  virtual void multiRead(std::vector<ReadOp> ops, MultiReadCallback cb);

  // Persistent watches (servers 3.6+). Their events reach the watch
  // listener with origins kPersistent/kRecursive and survive a reconnect
  // (re-registered with the session). removeWatches removes every watch
  // of this session on `path` (WatcherType Any: 3.8 leaves half a
  // persistent watch behind for the narrower types). Without
  // capabilities().persistent_watches both answer kUnimplemented.
  virtual void addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb);
  virtual void removeWatches(const std::string& path, VoidCallback cb);

  // Waits until the server this session talks to has caught up with the
  // leader (for reads after a write made through another session).
  virtual void sync(const std::string& path, VoidCallback cb);

  // Listeners are set before the first request; they run on the completion thread.
  virtual void setWatchListener(WatchListener listener) = 0;
  virtual void setSessionListener(SessionListener listener) = 0;

  // Ends the current session (if any) and starts a new one, bumping the
  // generation. Returns once connected or fails after `timeout`.
  virtual Status reopen(std::chrono::milliseconds timeout) = 0;
  virtual void close() = 0;

  virtual SessionState state() const = 0;
  virtual uint64_t generation() const = 0;
  virtual int64_t sessionId() const = 0;
  // Requests issued and not yet completed (on the wire or queued).
  virtual size_t pending() const = 0;
};

}  // namespace zks::zk
