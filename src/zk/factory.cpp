#include "zk/c_client.h"
#include "zk/connect_options.h"

namespace zks::zk {

// TODO(native client): kNative builds the native client once it exists.
std::unique_ptr<Client> makeClient(ConnectOptions options) { return makeCClient(std::move(options)); }

}  // namespace zks::zk
