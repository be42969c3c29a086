#include "testdoubles/fake_server.h"

#include <algorithm>
#include <thread>

#include "support/digest.h"
#include "testdoubles/fake/paths.h"
#include "testdoubles/fake/server_impl.h"

namespace zks::zk {

using fake::Caller;

std::string digestAclId(std::string_view credentials) { return testing::digestAclId(credentials); }

FakeCounters& FakeCounters::operator+=(const FakeCounters& o) {
  reads += o.reads;
  multi_reads += o.multi_reads;
  write_requests += o.write_requests;
  multis += o.multis;
  creates += o.creates;
  sets += o.sets;
  deletes += o.deletes;
  set_acls += o.set_acls;
  return *this;
}

FakeServer::FakeServer(FakeServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeServer::~FakeServer() = default;

CreateResult FakeServer::createDirect(CreateOp op, int64_t ephemeral_owner) {
  std::lock_guard lk(impl_->mu);
  CreateResult res;
  if (!fake::validPath(op.path, fake::isSequential(op.mode))) {
    res.code = Code::kBadArguments;
    return res;
  }
  fake::Txn txn = impl_->store.begin();
  res.code = fake::ops::create(impl_->store, txn, Caller{nullptr, ephemeral_owner}, op, res.path);
  if (res.code != Code::kOk) {
    txn.rollback();
    res.path.clear();
  }
  impl_->commit(txn);
  return res;
}

Code FakeServer::createRecursiveDirect(const std::string& path, const std::string& data) {
  if (!fake::validPath(path, false)) return Code::kBadArguments;
  if (path == "/") return Code::kOk;
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (node(prefix)) continue;
    const auto r = createDirect(CreateOp{.path = prefix});
    if (r.code != Code::kOk && r.code != Code::kNodeExists) return r.code;
  }
  return createDirect(CreateOp{.path = path, .data = data}).code;
}

StatResult FakeServer::setDirect(const std::string& path, std::string data, int32_t version) {
  std::lock_guard lk(impl_->mu);
  StatResult res;
  if (!fake::validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  fake::Txn txn = impl_->store.begin();
  res.code = fake::ops::set(impl_->store, txn, Caller{}, SetOp{path, std::move(data), version}, res.stat);
  impl_->commit(txn);
  return res;
}

VoidResult FakeServer::removeDirect(const std::string& path, int32_t version) {
  std::lock_guard lk(impl_->mu);
  VoidResult res;
  if (!fake::validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  fake::Txn txn = impl_->store.begin();
  res.code = fake::ops::remove(impl_->store, txn, Caller{}, DeleteOp{path, version});
  impl_->commit(txn);
  return res;
}

Code FakeServer::removeRecursiveDirect(const std::string& path) {
  std::vector<std::string> paths;
  for (const auto& n : nodes(path)) paths.push_back(n.path);
  if (paths.empty()) return Code::kNoNode;
  // Deepest first, so every node is a leaf when its turn comes.
  std::sort(paths.begin(), paths.end(), [](const std::string& a, const std::string& b) {
    const auto da = std::count(a.begin(), a.end(), '/'), db = std::count(b.begin(), b.end(), '/');
    return da != db ? da > db : a < b;
  });
  for (const auto& p : paths) {
    if (fake::isSpecialPath(p)) continue;
    const auto r = removeDirect(p);
    if (r.code != Code::kOk && r.code != Code::kNoNode) return r.code;
  }
  return Code::kOk;
}

VoidResult FakeServer::setAclDirect(const std::string& path, AclList acl, int32_t version) {
  std::lock_guard lk(impl_->mu);
  VoidResult res;
  if (!fake::validPath(path, false)) {
    res.code = Code::kBadArguments;
    return res;
  }
  fake::Txn txn = impl_->store.begin();
  res.code = fake::ops::setAcl(impl_->store, txn, Caller{}, path, acl, version);
  impl_->commit(txn);
  return res;
}

MultiResult FakeServer::multiDirect(std::vector<Op> ops) {
  std::lock_guard lk(impl_->mu);
  fake::Request probe = fake::MultiReq{ops, {}};
  if (const Code code = fake::clientCheck(probe, kAllCapabilities); code != Code::kOk) {
    MultiResult res;
    res.code = code;
    return res;
  }
  fake::Txn txn = impl_->store.begin();
  MultiResult res = fake::ops::multi(impl_->store, txn, Caller{}, ops);
  impl_->commit(txn);
  return res;
}

std::optional<FakeNode> FakeServer::node(const std::string& path) const {
  std::lock_guard lk(impl_->mu);
  const fake::Node* n = impl_->store.find(path);
  if (n == nullptr) return std::nullopt;
  return impl_->store.fakeNode(path, *n);
}

std::vector<FakeNode> FakeServer::nodes(const std::string& root) const {
  std::lock_guard lk(impl_->mu);
  std::vector<FakeNode> out;
  const auto& tree = impl_->store.all();
  for (auto it = tree.lower_bound(root); it != tree.end(); ++it) {
    // Paths under root sort after it but may interleave with siblings such
    // as "/a-b" between "/a" and "/a/b": test each.
    if (it->first.compare(0, root.size(), root) != 0) break;
    if (fake::isUnder(it->first, root)) out.push_back(impl_->store.fakeNode(it->first, it->second));
  }
  return out;
}

size_t FakeServer::nodeCount() const {
  std::lock_guard lk(impl_->mu);
  return impl_->store.all().size();
}

int64_t FakeServer::zxid() const {
  std::lock_guard lk(impl_->mu);
  return impl_->store.zxid();
}

size_t FakeServer::reapContainers() {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> candidates;
  for (const auto& [path, n] : impl_->store.all()) {
    if (static_cast<uint64_t>(n.owner) == fake::kContainerOwner && n.children.empty() && n.stored_cversion > 0) {
      candidates.push_back(path);
    }
  }
  for (const auto& path : candidates) {
    fake::Txn txn = impl_->store.begin();  // one deleteContainer transaction each
    impl_->store.erase(txn, path);
    impl_->commit(txn);
  }
  return candidates.size();
}

size_t FakeServer::reapExpiredTtl(int64_t now_ms) {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> candidates;
  for (const auto& [path, n] : impl_->store.all()) {
    const auto owner = static_cast<uint64_t>(n.owner);
    if ((owner & fake::kExtendedMask) != fake::kExtendedMask || owner == fake::kContainerOwner || !n.children.empty()) {
      continue;
    }
    const auto ttl = static_cast<int64_t>(owner & ~fake::kExtendedMask);
    if (ttl != 0 && now_ms - n.mtime > ttl) candidates.push_back(path);
  }
  for (const auto& path : candidates) {
    fake::Txn txn = impl_->store.begin();
    impl_->store.erase(txn, path);
    impl_->commit(txn);
  }
  return candidates.size();
}

void FakeServer::setAcceptingConnections(bool accepting) {
  std::lock_guard lk(impl_->mu);
  impl_->accepting = accepting;
}

void FakeServer::setClock(std::function<int64_t()> clock) {
  std::lock_guard lk(impl_->mu);
  impl_->options.clock = std::move(clock);
}

void FakeServer::setMaxRequestBytes(size_t bytes) {
  std::lock_guard lk(impl_->mu);
  impl_->options.max_request_bytes = bytes;
}

FakeCounters FakeServer::counters() const {
  std::lock_guard lk(impl_->mu);
  return impl_->counters;
}

void FakeServer::resetCounters() {
  std::lock_guard lk(impl_->mu);
  impl_->counters = {};
}

size_t FakeServer::sessionCount() const {
  std::lock_guard lk(impl_->mu);
  return impl_->sessions.size();
}

size_t FakeServer::watchCount() const {
  std::lock_guard lk(impl_->mu);
  return impl_->watches.count();
}

bool FakeServer::waitIdle(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::shared_ptr<FakeClient::Core>> cores;
  {
    std::lock_guard lk(impl_->mu);
    for (const auto& w : impl_->cores) {
      if (auto c = w.lock()) cores.push_back(std::move(c));
    }
  }
  for (const auto& c : cores) {
    if (c->worker_id == std::this_thread::get_id()) return false;
  }
  // A callback on one client may write and so wake another: repeat until a
  // sweep finds every client idle at once.
  for (;;) {
    bool all_idle = true;
    for (const auto& c : cores) {
      std::unique_lock lk(c->mu);
      if (c->idleLocked()) continue;
      all_idle = false;
      if (!c->idle_cv.wait_until(lk, deadline, [&] { return c->idleLocked(); })) return false;
    }
    if (all_idle) return true;
  }
}

}  // namespace zks::zk
