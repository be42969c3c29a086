#pragma once

// An in-memory ZooKeeper for unit tests: FakeServer holds one tree, and any
// number of FakeClients (one session each at a time) talk to it.
//
// The semantics follow a ZooKeeper 3.8 server seen through the 3.8 C client;
// every rule below was checked against the 3.8.0 sources (DataTree,
// PrepRequestProcessor, FinalRequestProcessor, zookeeper.c) or a live server:
//  - One zxid per write transaction, also for a write that fails with an
//    answer (kNodeExists, kBadVersion...): the server logs an error txn.
//    A multi is one zxid. Opening and closing a session is one zxid each.
//    Requests refused by the client library (bad path, TTL create in a
//    multi) and reads take none.
//  - cversion: the server stores the number of child creates and reports
//    2 * creates - numChildren, so a delete raises the reported cversion by
//    one, but the sequential suffix is the number of creates. Create a, b,
//    delete a, create "s" sequential -> "s0000000002", cversion then 4.
//  - pzxid moves on child create and delete only; a new node has pzxid = czxid.
//  - A client sees ephemeralOwner 0 for container and TTL nodes: 3.8 hides
//    the internal encoding (0x8000000000000000, 0xFF00000000000000 | ttl).
//    FakeNode::kind says what a node really is; FakeServerOptions can expose
//    the encoding for code written against the old (pre-3.5.4) behaviour.
//  - Check order per op is the server's, e.g. create: bad TTL -> invalid ACL
//    -> no parent -> parent ACL (CREATE) -> node exists -> ephemeral parent.
//  - multi: atomic; when op i fails with code C, results before i are kOk,
//    i is C, after i kRuntimeInconsistency, and MultiResult::code is C.
//    The C client cannot send a TTL create inside a multi (kUnimplemented).
//  - Watches: one-shot; get/exists/getChildren with watch. exists on a
//    missing node sets a creation watch; get/getChildren on a missing node
//    or without READ set none. A delete fires one kDeleted per session even
//    when it held data and child watches (the C client deduplicates).
//    setAcl fires nothing. A session's own writes fire its watches before
//    their answer arrives.
//  - ACL: READ for get/getChildren/check, nothing for exists, READ or
//    ADMIN for getAcl (digest ids shown as "user:x" without ADMIN), WRITE
//    for set, CREATE/DELETE on the parent, ADMIN for setAcl. Schemes world,
//    digest (real SHA-1 digest), ip (IPv4, with /bits), auth (expands to the
//    session's digest ids) and the server's superDigest.
//  - A request larger than jute.maxbuffer makes the server drop the
//    connection: it and every other request in flight fail with
//    kConnectionLoss; the client reconnects to the same session at once and
//    re-sends its watches (SetWatches with its last zxid), as the C client
//    does. A SetWatches request itself larger than jute.maxbuffer is
//    refused, so reconnect() then fails and the client stays disconnected
//    (ZOOKEEPER-706, see SPEC.md).
//  - children come back in an unspecified (hashed) order unless the options
//    ask for sorted order; the root holds "zookeeper" with "quota" and
//    "config" below it, as on a real server.
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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zk/c_client.h"
#include "zk/client.h"

namespace zks::zk {

// "user:" + base64(sha1("user:password")): the id of a digest ACL entry for
// these credentials, exactly as ZooKeeper's DigestAuthenticationProvider
// computes it.
std::string digestAclId(std::string_view credentials);

// Operation counts, for assertions such as "a converged reconcile writes nothing".
struct FakeCounters {
  uint64_t reads = 0;           // get, getChildren, exists, getAcl answered by the server
  uint64_t write_requests = 0;  // create, set, remove, setAcl, multi answered by the server, applied or not
  uint64_t multis = 0;          // multi requests answered by the server, applied or not
  // Ops applied (committed); each op of a committed multi counts.
  uint64_t creates = 0;
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t set_acls = 0;
  uint64_t writes() const { return creates + sets + deletes + set_acls; }
};

// A node as FakeServer's inspection helpers report it.
struct FakeNode {
  std::string path;
  std::string data;
  Stat stat;  // as a client would see it (see expose_extended_owner)
  AclList acl;
  NodeKind kind = NodeKind::kPersistent;  // what the node really is
  int64_t ttl_ms = 0;                     // TTL nodes only
};

enum class ChildOrder : uint8_t {
  kHashed,  // a fixed but meaningless order, like the server's HashSet
  kSorted,
};

struct FakeServerOptions {
  size_t max_request_bytes = 0xfffff;  // jute.maxbuffer
  bool extended_types_enabled = true;  // extendedTypesEnabled: needed for TTL nodes
  bool expose_extended_owner = false;  // report 0x80.. / 0xFF.. | ttl in ephemeralOwner
  bool system_nodes = true;            // /zookeeper, /zookeeper/quota, /zookeeper/config
  ChildOrder child_order = ChildOrder::kHashed;
  std::string super_digest;            // "super:<digest>", as -Dzookeeper.DigestAuthenticationProvider.superDigest
  std::function<int64_t()> clock;      // ctime/mtime in ms since epoch; default: the system clock
};

class FakeClient;

class FakeServer {
 public:
  explicit FakeServer(FakeServerOptions options = {});
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // ---- Direct helpers for tests: synchronous, any thread. ----
  // Each is one write transaction as if another, all-powerful client wrote
  // it: it takes a zxid, skips ACL checks and fires watches. An ephemeral
  // create needs `ephemeral_owner` (a session id, e.g. client.sessionId()).
  CreateResult createDirect(CreateOp op, int64_t ephemeral_owner = 0);
  // Creates the missing ancestors of `path` and `path` itself (persistent).
  Code createRecursiveDirect(const std::string& path, const std::string& data = {});
  StatResult setDirect(const std::string& path, std::string data, int32_t version = -1);
  VoidResult removeDirect(const std::string& path, int32_t version = -1);
  // Removes `path` and everything below it, children first.
  Code removeRecursiveDirect(const std::string& path);
  VoidResult setAclDirect(const std::string& path, AclList acl, int32_t version = -1);
  MultiResult multiDirect(std::vector<Op> ops);

  std::optional<FakeNode> node(const std::string& path) const;
  // `root` and every node below it, sorted by path string.
  std::vector<FakeNode> nodes(const std::string& root = "/") const;
  size_t nodeCount() const;
  int64_t zxid() const;  // the last zxid handed out

  // The server's periodic cleanup, on demand. Each deleted node is its own
  // transaction (a zxid) and fires watches. One pass, like one run of
  // ZooKeeper's ContainerManager: a container emptied by this pass goes next pass.
  // Containers that are empty and once had a child:
  size_t reapContainers();
  // TTL nodes that are empty and unmodified for longer than their TTL:
  size_t reapExpiredTtl(int64_t now_ms);

  // false: new sessions (reopen) and reconnects fail as if the server were
  // unreachable. Existing connections are not touched; disconnect() them.
  void setAcceptingConnections(bool accepting);
  void setClock(std::function<int64_t()> clock);
  void setMaxRequestBytes(size_t bytes);

  // Sum over every client of this server, closed ones included.
  FakeCounters counters() const;
  void resetCounters();
  size_t sessionCount() const;  // live sessions (connected or not)
  size_t watchCount() const;    // server-side watch registrations (path, session, kind)

  // Waits until every client of this server is idle (see FakeClient::waitIdle);
  // false on timeout or when called from a completion thread.
  bool waitIdle(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  struct Impl;

 private:
  friend class FakeClient;
  std::unique_ptr<Impl> impl_;
};

struct FakeClientOptions {
  std::vector<AuthEntry> auth;           // added at the start of every session (scheme "digest")
  std::string address = "127.0.0.1";     // the client's address, for ip ACLs
  // Open the first session (generation 1) in the constructor, silently: no
  // kConnected event, since no listener can be set yet. false: wait for
  // reopen(), like CClient.
  bool connect = true;
};

class FakeClient final : public Client {
 public:
  explicit FakeClient(std::shared_ptr<FakeServer> server, FakeClientOptions options = {});
  // Closes the session. Callbacks of pending requests still run (with
  // kClosing); undelivered events are dropped.
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  // ---- Client ----
  void get(const std::string& path, bool watch, GetCallback cb) override;
  void getChildren(const std::string& path, bool watch, ChildrenCallback cb) override;
  void exists(const std::string& path, bool watch, StatCallback cb) override;
  void getAcl(const std::string& path, AclCallback cb) override;
  void create(CreateOp op, CreateCallback cb) override;
  void set(SetOp op, StatCallback cb) override;
  void remove(DeleteOp op, VoidCallback cb) override;
  void setAcl(const std::string& path, AclList acl, int32_t version, VoidCallback cb) override;
  void multi(std::vector<Op> ops, MultiCallback cb) override;
  void setWatchListener(WatchListener listener) override;
  void setSessionListener(SessionListener listener) override;
  // Closes the live session (its ephemerals go; pending requests fail with
  // kClosing), opens a new one with generation + 1 and delivers kConnected.
  // Fails with kTimeout at once when the server does not accept connections.
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
  // on reconnect from the client's last zxid, as the C client's SetWatches does.
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
  int64_t lastZxid() const;       // the newest zxid this client has seen in a reply
  size_t watchCount() const;      // watches this client holds (data, exist and child)
  const std::shared_ptr<FakeServer>& server() const { return server_; }

  struct Core;

 private:
  std::shared_ptr<FakeServer> server_;
  std::shared_ptr<Core> core_;
};

}  // namespace zks::zk
