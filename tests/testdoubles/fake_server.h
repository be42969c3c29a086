#pragma once

// An in-memory ZooKeeper for unit tests: FakeServer holds one tree, and any
// number of FakeClients (fake_client.h; one session each at a time) talk to it.
//
// The semantics follow a ZooKeeper 3.8.0 server; every rule below was checked
// against the 3.8.0 sources (DataTree, WatchManager, PrepRequestProcessor,
// FinalRequestProcessor, zookeeper.c) or a live 3.8.0 server:
//  - One zxid per write transaction, also for a write that fails with an
//    answer (kNodeExists, kBadVersion...): the server logs an error txn.
//    A multi is one zxid. Opening and closing a session is one zxid each.
//    Requests refused by the client library (bad path) and reads, multiRead,
//    sync, addWatch and removeWatches take none.
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
//  - multiRead: each op answered on its own (kNoNode, kNoAuth per op);
//    getChildren entries carry no stat, as the server sends none; no watches.
//  - Watches: the server's two watch managers (data and child), each holding
//    one mode per (session, path): standard (one-shot), persistent or
//    persistent recursive. get/exists set a standard data watch, getChildren
//    a standard child watch; exists on a missing node sets a creation watch;
//    get/getChildren on a missing node or without READ set none. addWatch
//    PERSISTENT sets a persistent data and child watch, PERSISTENT_RECURSIVE
//    a recursive data watch only, so recursive watches fire created, deleted
//    and data changed for the path and every descendant and never children
//    changed. addWatch checks neither existence nor ACL (as 3.8.0).
//    A delete notifies each session once. setAcl fires nothing. A session's
//    own writes fire its watches before their answer arrives.
//  - ZOOKEEPER-4466 (3.8.0, see FakeServerOptions): a standard data watch
//    (get/exists with watch) set by the session on the path of its own
//    persistent or recursive watch replaces that mode in the data manager:
//    the next change of the path fires once and the persistent or recursive
//    watch is gone (descendants fire nothing more). A getChildren watch lives
//    in the other manager and leaves a recursive watch alone.
//  - removeWatches (WatcherType Any) removes every mode the session holds on
//    the path in both managers. The server answers NoWatcher when there was
//    none; zk::Code has no such value, so the fake answers kOk (the Client
//    contract: nothing of this session watches the path afterwards).
//  - sync answers kOk for any valid path, existing or not.
//  - ACL: READ for get/getChildren/check/multiRead, nothing for exists,
//    READ or ADMIN for getAcl (digest ids shown as "user:x" without ADMIN),
//    WRITE for set, CREATE/DELETE on the parent, ADMIN for setAcl. Schemes
//    world, digest (real SHA-1 digest), ip (IPv4, with /bits), auth (expands
//    to the session's digest ids) and the server's superDigest.
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
// Threading: every member may be called from any thread, except waitIdle()
// from a client's completion thread (it returns false there).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zk/types.h"

namespace zks::zk {

// "user:" + base64(sha1("user:password")): the id of a digest ACL entry for
// these credentials, exactly as ZooKeeper's DigestAuthenticationProvider
// computes it.
std::string digestAclId(std::string_view credentials);

// Operation counts, for assertions such as "a converged reconcile writes nothing".
struct FakeCounters {
  // Read ops answered by the server: get, getChildren, exists, getAcl, and
  // each op of a multiRead.
  uint64_t reads = 0;
  uint64_t multi_reads = 0;     // multiRead requests answered by the server
  uint64_t write_requests = 0;  // create, set, remove, setAcl, multi answered by the server, applied or not
  uint64_t multis = 0;          // multi requests answered by the server, applied or not
  // Ops applied (committed); each op of a committed multi counts.
  uint64_t creates = 0;
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t set_acls = 0;
  uint64_t writes() const { return creates + sets + deletes + set_acls; }
  FakeCounters& operator+=(const FakeCounters& other);
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
  std::string super_digest;        // "super:<digest>", as -Dzookeeper.DigestAuthenticationProvider.superDigest
  std::function<int64_t()> clock;  // ctime/mtime in ms since epoch; default: the system clock
  // ZOOKEEPER-4466 as in 3.8.0 (see above); false: the one-shot watch is
  // added beside the persistent or recursive one, as fixed servers do.
  bool one_shot_replaces_persistent = true;
};

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
  // Container and TTL creates are allowed here.
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
  // Server-side watch registrations: (path, session) pairs of the data and
  // of the child watch manager, whatever their mode.
  size_t watchCount() const;

  // Waits until every client of this server is idle (see FakeClient::waitIdle);
  // false on timeout or when called from a completion thread.
  bool waitIdle(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  struct Impl;

 private:
  friend class FakeClient;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zks::zk
