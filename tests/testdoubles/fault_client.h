#pragma once

// FaultClient: a Client decorator that makes chosen requests fail, for tests
// of the layers above zk (reconcile after an unknown outcome, batch fallback,
// session loss handling).
//
// Two ways to fail a request:
//  - kFailBefore: the request never reaches the inner client; its callback
//    gets the rule's code (kConnectionLoss unless told otherwise). Nothing
//    was applied.
//  - kApplyThenTimeout: the request goes to the inner client as usual; when
//    the real answer comes back it is thrown away and the callback gets
//    kOperationTimeout instead. The op may or may not have been applied:
//    exactly the unknown outcome a caller must handle by re-reading.
// Multi and multiRead requests are matched and failed as a whole; a failed
// one has no per-op results. addWatch, removeWatches and sync fail the same
// two ways: kApplyThenTimeout on addWatch leaves the watch set on the inner
// client while the caller is told the outcome is unknown. capabilities()
// are the inner client's; calls it lacks are answered by the inner client
// (its emulation or kUnimplemented), with the faults still injected here.
//
// Threading: the FaultClient has its own completion thread. Every callback,
// watch event and session event the caller sees runs there, one at a time,
// never inline in the caller; request callbacks come in request order, also
// for injected failures (which wait for the answers of earlier requests).
// The inner client's callbacks only hand their result over to that thread.
// The constructor installs the FaultClient's own listeners on the inner
// client; set listeners on the FaultClient, not on the inner client.
//
// Rules are checked in the order they were added; the first that fires
// decides. Rules and counters may be changed and read from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zk/client.h"

namespace zks::zk {

enum class OpKind : uint8_t {
  kGet,
  kGetChildren,
  kExists,
  kGetAcl,
  kCreate,
  kSet,
  kRemove,
  kSetAcl,
  kMulti,
  kMultiRead,
  kSync,
  kAddWatch,
  kRemoveWatches,
};
std::string_view opKindName(OpKind kind);

namespace op_mask {
constexpr uint32_t bit(OpKind kind) { return uint32_t{1} << static_cast<unsigned>(kind); }
inline constexpr uint32_t kReads = bit(OpKind::kGet) | bit(OpKind::kGetChildren) | bit(OpKind::kExists) |
                                   bit(OpKind::kGetAcl) | bit(OpKind::kMultiRead) | bit(OpKind::kSync);
inline constexpr uint32_t kWrites = bit(OpKind::kCreate) | bit(OpKind::kSet) | bit(OpKind::kRemove) |
                                    bit(OpKind::kSetAcl) | bit(OpKind::kMulti);
inline constexpr uint32_t kWatches = bit(OpKind::kAddWatch) | bit(OpKind::kRemoveWatches);
inline constexpr uint32_t kAll = kReads | kWrites | kWatches;
}  // namespace op_mask

enum class FaultMode : uint8_t { kFailBefore, kApplyThenTimeout };

struct FaultRule {
  uint32_t ops = op_mask::kAll;  // which kinds of request the rule looks at
  // Only requests on a path that starts with this string ("" = any). A multi
  // or multiRead matches when any of its ops does.
  std::string path_prefix;
  // Extra condition on (kind, path); for a multi or multiRead it is asked
  // per op path, with kind kMulti or kMultiRead. Empty = always.
  std::function<bool(OpKind, const std::string&)> predicate;
  uint64_t skip = 0;        // let the first `skip` matching requests through
  uint64_t max_faults = 0;  // stop injecting after this many; 0 = no limit
  double probability = 1.0;  // chance per matching request, drawn from the seeded RNG
  FaultMode mode = FaultMode::kFailBefore;
  // The code the callback gets. Default: kConnectionLoss for kFailBefore,
  // kOperationTimeout for kApplyThenTimeout.
  std::optional<Code> code;
};

class FaultClient final : public Client {
 public:
  // Owns the inner client (shares ownership).
  explicit FaultClient(std::shared_ptr<Client> inner, uint64_t seed = 1);
  // Borrows the inner client, which must outlive this object.
  explicit FaultClient(Client& inner, uint64_t seed = 1);
  // Stops the completion thread after delivering the answers it holds; events
  // not yet delivered are dropped. Answers that the inner client delivers
  // later still reach their callbacks, on the inner client's thread.
  ~FaultClient() override;
  FaultClient(const FaultClient&) = delete;
  FaultClient& operator=(const FaultClient&) = delete;

  // Returns the rule's id.
  size_t addRule(FaultRule rule);
  void removeRule(size_t id);
  void clearRules();
  uint64_t injected() const;            // faults injected by all rules
  uint64_t injected(size_t rule) const;  // by one rule (also after its removal)

  // Waits until every request issued here got its callback and every event
  // received was delivered. False on timeout or on the completion thread.
  bool waitIdle(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  Client& inner() const { return *inner_; }

  // ---- Client ----
  Capabilities capabilities() const override { return inner_->capabilities(); }
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
  Status reopen(std::chrono::milliseconds timeout) override { return inner_->reopen(timeout); }
  void close() override { inner_->close(); }
  SessionState state() const override { return inner_->state(); }
  uint64_t generation() const override { return inner_->generation(); }
  int64_t sessionId() const override { return inner_->sessionId(); }
  size_t pending() const override;

  struct Core;

 private:
  std::shared_ptr<Client> owned_;
  Client* inner_;
  std::shared_ptr<Core> core_;
};

}  // namespace zks::zk
