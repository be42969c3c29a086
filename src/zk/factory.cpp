#include "zk/c_client.h"
#include "zk/connect_options.h"
#include "zk/native/native_client.h"

namespace zks::zk {

std::unique_ptr<Client> makeClient(ConnectOptions options) {
  if (options.backend == Backend::kLibzookeeper) return makeCClient(std::move(options));
  return makeNativeClient(std::move(options));
}

}  // namespace zks::zk
