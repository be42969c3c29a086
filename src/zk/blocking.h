#pragma once

// Blocking wrappers for the few places that wait for one answer (CLI
// commands, leader election, tests). Never call these from a client callback:
// the answer arrives on the completion thread they would block.

#include <future>

#include "zk/client.h"

namespace zks::zk {

template <typename R, typename Issue>
R await(Issue&& issue) {
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  issue([promise](R r) { promise->set_value(std::move(r)); });
  return future.get();
}

inline GetResult getSync(Client& c, const std::string& path, bool watch = false) {
  return await<GetResult>([&](auto cb) { c.get(path, watch, std::move(cb)); });
}
inline ChildrenResult getChildrenSync(Client& c, const std::string& path, bool watch = false) {
  return await<ChildrenResult>([&](auto cb) { c.getChildren(path, watch, std::move(cb)); });
}
inline StatResult existsSync(Client& c, const std::string& path, bool watch = false) {
  return await<StatResult>([&](auto cb) { c.exists(path, watch, std::move(cb)); });
}
inline AclResult getAclSync(Client& c, const std::string& path) {
  return await<AclResult>([&](auto cb) { c.getAcl(path, std::move(cb)); });
}
inline CreateResult createSync(Client& c, CreateOp op) {
  return await<CreateResult>([&](auto cb) { c.create(std::move(op), std::move(cb)); });
}
inline StatResult setSync(Client& c, SetOp op) {
  return await<StatResult>([&](auto cb) { c.set(std::move(op), std::move(cb)); });
}
inline VoidResult removeSync(Client& c, DeleteOp op) {
  return await<VoidResult>([&](auto cb) { c.remove(std::move(op), std::move(cb)); });
}
inline VoidResult setAclSync(Client& c, const std::string& path, AclList acl, int32_t version = -1) {
  return await<VoidResult>([&](auto cb) { c.setAcl(path, std::move(acl), version, std::move(cb)); });
}
inline MultiResult multiSync(Client& c, std::vector<Op> ops) {
  return await<MultiResult>([&](auto cb) { c.multi(std::move(ops), std::move(cb)); });
}

// Creates `path` and any missing parents as empty persistent nodes.
// kNodeExists along the way is fine.
Code createRecursiveSync(Client& c, const std::string& path, const std::string& data = {});

}  // namespace zks::zk
