#include "zk/blocking.h"

namespace zks::zk {

Code createRecursiveSync(Client& c, const std::string& path, const std::string& data) {
  if (path.empty() || path == "/") return Code::kOk;
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    auto r = createSync(c, CreateOp{.path = path.substr(0, pos)});
    if (r.code != Code::kOk && r.code != Code::kNodeExists) return r.code;
  }
  auto r = createSync(c, CreateOp{.path = path, .data = data});
  return r.code == Code::kNodeExists ? Code::kOk : r.code;
}

}  // namespace zks::zk
