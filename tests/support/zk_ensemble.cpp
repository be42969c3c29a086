#include "support/zk_ensemble.h"

#include <cstdio>

namespace zks::testing {

ZkEnsemble::ZkEnsemble(int size, ZkServerOptions base) : base_(std::move(base)) {
  struct Ports {
    int client = 0, quorum = 0, election = 0;
  };
  std::vector<Ports> ports(static_cast<size_t>(size));
  for (auto& p : ports) {
    // Left at 0 on failure: start() then reports the members' own errors.
    p.client = pickFreePort().value_or(0);
    p.quorum = pickFreePort().value_or(0);
    p.election = pickFreePort().value_or(0);
  }
  std::vector<std::string> servers;
  for (int i = 0; i < size; ++i) {
    const auto& p = ports[static_cast<size_t>(i)];
    servers.push_back("server." + std::to_string(i + 1) + "=127.0.0.1:" + std::to_string(p.quorum) + ":" +
                      std::to_string(p.election));
  }
  for (int i = 0; i < size; ++i) {
    ZkServerOptions options = base_;
    options.server_id = i + 1;
    options.client_port = ports[static_cast<size_t>(i)].client;
    // A short tick elsewhere: these limits are in ticks.
    options.extra_config.push_back("initLimit=25");
    options.extra_config.push_back("syncLimit=10");
    options.extra_config.push_back("standaloneEnabled=false");
    options.extra_config.push_back("reconfigEnabled=false");
    for (const auto& line : servers) options.extra_config.push_back(line);
    members_.push_back(std::make_unique<ZkServer>(options));
  }
}

Status ZkEnsemble::start() {
  for (auto& m : members_) {
    if (auto st = m->launch(); !st) return st;
  }
  for (auto& m : members_) {
    const auto deadline = std::chrono::steady_clock::now() + base_.start_timeout * 2;
    if (auto st = m->waitServing(deadline); !st) return st;
  }
  return {};
}

std::string ZkEnsemble::connectString() const {
  std::string out;
  for (const auto& m : members_) out += (out.empty() ? "" : ",") + m->connectString();
  return out;
}

int ZkEnsemble::memberServing(int64_t session_id) const {
  char id[32];
  std::snprintf(id, sizeof(id), "sid=0x%llx", static_cast<unsigned long long>(session_id));
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!members_[i]->running()) continue;
    auto cons = members_[i]->fourLetterWord("cons");
    if (cons && cons->find(id) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace zks::testing
