#include "support/test_pki.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace zks::testing {
namespace {

namespace fs = std::filesystem;

std::string quote(const std::string& s) { return "'" + s + "'"; }

Status run(const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) return fail(ErrorCode::kIo, "command failed: " + command);
  return {};
}

Status newKey(const std::string& file) {
  return run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + quote(file));
}

std::string slurp(const std::string& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<TestCa> TestCa::create(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  TestCa ca;
  ca.dir_ = dir;
  ca.ca_key_ = (dir / (name + "-ca.key")).string();
  ca.ca_file_ = (dir / (name + "-ca.crt")).string();
  if (auto st = newKey(ca.ca_key_); !st) return std::unexpected(st.error());
  if (auto st = run("openssl req -x509 -new -key " + quote(ca.ca_key_) + " -sha256 -days 1 -subj " +
                    quote("/O=zk-standby tests/CN=" + name + " CA") +
                    " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out " +
                    quote(ca.ca_file_));
      !st) {
    return std::unexpected(st.error());
  }
  return ca;
}

Result<IssuedCert> TestCa::issue(const std::string& name, const std::string& san, bool server) const {
  IssuedCert out;
  out.key_file = (dir_ / (name + ".key")).string();
  out.cert_file = (dir_ / (name + ".crt")).string();
  out.key_store = (dir_ / (name + ".pem")).string();
  const std::string csr = (dir_ / (name + ".csr")).string();
  const std::string ext = (dir_ / (name + ".ext")).string();
  if (auto st = newKey(out.key_file); !st) return std::unexpected(st.error());
  if (auto st = run("openssl req -new -key " + quote(out.key_file) + " -subj " + quote("/O=zk-standby tests/CN=" + name) +
                    " -out " + quote(csr));
      !st) {
    return std::unexpected(st.error());
  }
  {
    std::ofstream e(ext);
    e << "basicConstraints=critical,CA:FALSE\n"
      << "keyUsage=critical,digitalSignature,keyEncipherment\n"
      << "extendedKeyUsage=" << (server ? "serverAuth" : "clientAuth") << "\n";
    if (!san.empty()) e << "subjectAltName=" << san << "\n";
  }
  if (auto st = run("openssl x509 -req -in " + quote(csr) + " -CA " + quote(ca_file_) + " -CAkey " + quote(ca_key_) +
                    " -CAcreateserial -CAserial " + quote((dir_ / (name + ".srl")).string()) +
                    " -sha256 -days 1 -extfile " + quote(ext) + " -out " + quote(out.cert_file));
      !st) {
    return std::unexpected(st.error());
  }
  std::ofstream(out.key_store) << slurp(out.key_file) << slurp(out.cert_file);
  return out;
}

}  // namespace zks::testing
