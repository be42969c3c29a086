#pragma once

// Who is acting, for the records on the backup. Reads the host name, process
// id and user; nothing else.

#include <string>

namespace zks::state {

// "host:pid": identifies one daemon or one-shot sync in the leader and fence nodes.
std::string processIdentity();
// "user@host": the operator behind a failover or resume (SUDO_USER wins over
// the effective user, so `sudo zkstandby failover` names the person).
std::string operatorIdentity();
// 16 random hex digits: marks one write so a retry can recognise it.
std::string randomId();

}  // namespace zks::state
