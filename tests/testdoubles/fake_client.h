#pragma once

// FakeClient: a zk::Client on a FakeServer (fake_server.h), one session at
// a time, with test controls for what a real network does to a session
// (expiry, disconnects, requests in flight).
//
// What the client side adds to the server's rules (as the 3.8 C and Java
// clients do):
//  - Paths are checked before sending (kBadArguments, never sent); a multi
//    with one bad path is refused whole, with no per-op results, while a
//    multiRead answers kBadArguments for that op only.
//  - A registry of the watches the session set (one-shot data, exist and
//    child watches; persistent and recursive ones). A notification is
//    delivered once, with WatchEvent::origins naming every registration it
//    matched; one-shot registrations are consumed. A recursive registration
//    never matches children changed, and a notification that matches
//    nothing is dropped (ZOOKEEPER-4475).
//  - capabilities() are the options' (all true by default). Without
//    multi_read, multiRead is the Client base class's emulation; without
//    persistent_watches, addWatch and removeWatches answer kUnimplemented;
//    without special_creates_in_multi, a multi with a container or TTL
//    create answers kUnimplemented unsent (the packaged C client's limit).
//
// Threading: each FakeClient has one completion thread. It executes the
// client's requests against the server in the order they were issued and
// runs their callbacks, watch events and session events on that thread,
// never inline in the caller. Requests may be issued from any thread,
// including callbacks. The test controls (expireSession, disconnect, ...)
// may be called from any thread; waitIdle() must not be called from a
// completion thread (it returns false there).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "testdoubles/fake_server.h"
#include "zk/client.h"
#include "zk/connect_options.h"

namespace zks::zk {

// Everything a FakeClient can do; what a 3.8 server reached by the native
// client offers.
inline constexpr Capabilities kAllCapabilities{
    .multi_read = true, .persistent_watches = true, .special_creates_in_multi = true};

struct FakeClientOptions {
  std::vector<AuthEntry> auth;        // added at the start of every session (scheme "digest")
  std::string address = "127.0.0.1";  // the client's address, for ip ACLs
  // Open the first session (generation 1) in the constructor, silently: no
  // kConnected event, since no listener can be set yet. false: wait for
  // reopen(), like the real clients.
  bool connect = true;
  // What capabilities() reports and the client does; Capabilities{} (all
  // false) behaves like the libzookeeper backend.
  Capabilities capabilities = kAllCapabilities;
};

class FakeClient final : public Client {
 public:
  explicit FakeClient(std::shared_ptr<FakeServer> server, FakeClientOptions options = {});
  // Closes the session. Callbacks of pending requests still run (with
  // kClosing) before the destructor returns; undelivered events are dropped.
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  // ---- Client ----
  Capabilities capabilities() const override;
  void get(const std::string& path, bool watch, GetCallback cb) override;
  void getChildren(const std::string& path, bool watch, ChildrenCallback cb) override;
  void exists(const std::string& path, bool watch, StatCallback cb) override;
  void getAcl(const std::string& path, AclCallback cb) override;
  void create(CreateOp op, CreateCallback cb) override;
  void set(SetOp op, StatCallback cb) override;
  void remove(DeleteOp op, VoidCallback cb) override;
  void setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) override;
  void multi(std::vector<Op> ops, MultiCallback cb) override;
  void multiRead(std::vector<ReadOp> ops, MultiReadCallback cb) override;
  void addWatch(const std::string& path, AddWatchMode mode, VoidCallback cb) override;
  void removeWatches(const std::string& path, VoidCallback cb) override;
  void sync(const std::string& path, VoidCallback cb) override;
  void setWatchListener(WatchListener listener) override;
  void setSessionListener(SessionListener listener) override;
  // Closes the live session (its ephemerals go; pending requests fail with
  // kClosing), opens a new one with generation + 1 and delivers kConnected.
  // Fails with kTimeout at once when the server does not accept connections,
  // and with kZooKeeper when it refuses an auth entry (state kAuthFailed).
  Status reopen(std::chrono::milliseconds timeout) override;
  // Closes the session; requests then fail with kClosing. No session event,
  // and events not yet delivered are dropped.
  void close() override;
  SessionState state() const override;
  uint64_t generation() const override;
  int64_t sessionId() const override;
  size_t pending() const override;

  // ---- Test controls ----
  // The server expires the session: its ephemerals are deleted (firing other
  // sessions' watches) and its watches dropped. If connected, the client
  // learns at once: pending requests fail with kSessionExpired, kExpired is
  // delivered, and requests fail with kSessionExpired until reopen(). If
  // disconnected, it learns on reconnect(), as a real client would.
  void expireSession();
  // The connection drops; the session lives on. Pending requests fail with
  // kConnectionLoss, kConnecting is delivered, and requests fail with
  // kConnectionLoss until reconnect(). Watches fired meanwhile are recovered
  // on reconnect from the client's last zxid, as the C client's SetWatches
  // does; persistent and recursive watches are re-added without events.
  void disconnect();
  // Back to the same session: kConnected, then the recovered watch events.
  // Returns the new state: kConnected, kExpired (the session expired while
  // away; kExpired is delivered) or kConnecting (refused; still disconnected).
  SessionState reconnect();
  // Adds credentials to the live session and to every later one. A scheme
  // other than "digest" fails authentication (state kAuthFailed) as on a server.
  void addAuth(const std::string& scheme, const std::string& credentials);
  // While paused, issued requests stay pending (not executed), e.g. to make
  // them be in flight when the session ends. Events are still delivered.
  void pauseRequests();
  void resumeRequests();
  // Waits until every issued request has completed (callback returned) and
  // every queued event was delivered; paused requests do not count. False on
  // timeout or when called from this client's completion thread.
  bool waitIdle(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  FakeCounters counters() const;  // this client's requests, over all its sessions
  void resetCounters();
  int64_t lastZxid() const;  // the newest zxid this client has seen in a reply
  // Watches this client's registry holds: one-shot data, exist and child
  // watches, persistent and recursive ones (one per path and kind).
  size_t watchCount() const;
  const std::shared_ptr<FakeServer>& server() const { return server_; }

  struct Core;

 private:
  std::shared_ptr<FakeServer> server_;
  std::shared_ptr<Core> core_;
};

}  // namespace zks::zk
