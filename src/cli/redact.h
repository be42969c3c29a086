#pragma once

// What `diff` (and `sync`'s change lines) may print of secrets. Pure.
//
// By default:
//  - digest ACL ids lose their hash: `digest:user:<redacted>` (the hash is an
//    unsalted SHA-1 of "user:password", so it can be brute-forced);
//  - a node whose primary or backup path matches `secret_paths` (config
//    diff.secret_paths; default /**/config/users/*, where Kafka keeps SCRAM
//    salts and keys) shows only its size, and its field changes only their
//    names;
//  - in any other properties or JSON payload, the value of a field whose
//    name looks secret (kSecretWords) is shown as <redacted>.
// `show_secrets` (--show-secrets) prints everything as it is.

#include <string>
#include <vector>

#include "mapping/glob.h"
#include "plan/change.h"
#include "zk/types.h"

namespace zks::cli {

inline constexpr const char* kRedacted = "<redacted>";

// Parts of a field name (case-insensitive) that mark its value as secret.
inline const std::vector<std::string> kSecretWords = {"password", "passwd", "secret", "token",   "credential",
                                                      "scram",    "private", "jaas",  "apikey", "api_key"};

class Redactor {
 public:
  Redactor() = default;  // shows everything
  Redactor(bool show_secrets, mapping::GlobSet secret_paths)
      : show_(show_secrets), secret_paths_(std::move(secret_paths)) {}

  bool showsSecrets() const { return show_; }
  // An ACL entry's id as printed: digest hashes removed.
  std::string aclId(const zk::Acl& acl) const;
  // Whether the whole payload of this change is secret.
  bool secretNode(const plan::Change& change) const;
  // Whether a field (a properties key or a JSON pointer) holds a secret.
  bool secretField(std::string_view field) const;
  // A payload with the values of secret fields replaced (properties or JSON;
  // other payloads are returned as they are).
  std::string payload(const std::string& data) const;

 private:
  bool show_ = true;
  mapping::GlobSet secret_paths_;
};

}  // namespace zks::cli
