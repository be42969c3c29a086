#pragma once

// Throwaway certificate authorities and certificates for TLS tests, made
// with the openssl command (EC P-256 keys, valid for a day).

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace zks::testing {

struct IssuedCert {
  std::string cert_file;  // PEM certificate
  std::string key_file;   // PEM private key (PKCS#8, unencrypted)
  // Key then certificate in one file: ZooKeeper's PEM keystore.
  std::string key_store;
};

class TestCa {
 public:
  // A new CA in `dir` (created if missing), named `name`.
  static Result<TestCa> create(const std::filesystem::path& dir, const std::string& name);

  const std::string& caFile() const { return ca_file_; }
  // A leaf certificate. `san` is an openssl subjectAltName value such as
  // "DNS:localhost,IP:127.0.0.1" (empty: none); `server` picks serverAuth
  // or clientAuth as extended key usage.
  Result<IssuedCert> issue(const std::string& name, const std::string& san, bool server) const;

 private:
  std::filesystem::path dir_;
  std::string ca_file_;
  std::string ca_key_;
};

}  // namespace zks::testing
