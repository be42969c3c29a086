// connectOptions: turns a SiteConfig into what the ZooKeeper client needs,
// reading the digest credentials it names. Secrets stay out of every message:
// an error names the file or variable and says what is wrong with its shape.

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"

namespace zks::config {
namespace {

// A credentials file usually ends with a newline (echo, editors); "\r\n" from
// a Windows editor too. Neither belongs to the password.
void trimTrailingNewlines(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
}

// Digest credentials are "user:password"; the user cannot be empty and the
// whole must be one line (a second line means the wrong file).
bool isUserPassword(const std::string& text) {
  size_t colon = text.find(':');
  return colon != std::string::npos && colon > 0 && text.find_first_of("\r\n") == std::string::npos;
}

// As ssh does with private keys: a secret that group or others may access
// is refused, so a mistaken mode is fixed before the password leaks rather
// than after. Checked on the opened path (after symlinks), like ssh.
Status checkPrivate(const std::string& file, const std::string& source) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return fail(ErrorCode::kIo, "cannot read " + source + ": " + std::strerror(errno), file);
  }
  const unsigned mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return {};
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  return fail(ErrorCode::kInvalidArgument,
              "permissions " + std::string(octal) + " for " + source +
                  " are too open: it must not be accessible by group or others (chmod 600)",
              file);
}

Result<std::string> readCredentials(const AuthConfig& auth, const std::string& name) {
  std::string credentials;
  std::string source;
  if (!auth.credentials_file.empty()) {
    source = name + " credentials file";
    std::error_code ec;
    if (std::filesystem::is_directory(auth.credentials_file, ec)) {
      return fail(ErrorCode::kIo, "cannot read " + source + ": it is a directory", auth.credentials_file);
    }
    std::ifstream in(auth.credentials_file, std::ios::binary);
    if (!in) {
      return fail(ErrorCode::kIo, "cannot read " + source + ": " + std::strerror(errno), auth.credentials_file);
    }
    if (auto s = checkPrivate(auth.credentials_file, source); !s) return std::unexpected(s.error());
    std::ostringstream text;
    text << in.rdbuf();
    credentials = text.str();
    trimTrailingNewlines(credentials);
    if (!isUserPassword(credentials)) {
      return fail(ErrorCode::kInvalidArgument, source + " must hold one line \"user:password\"", auth.credentials_file);
    }
    return credentials;
  }
  if (!auth.credentials_env.empty()) {
    source = "environment variable " + auth.credentials_env + " (" + name + " credentials)";
    const char* value = std::getenv(auth.credentials_env.c_str());
    if (value == nullptr) return fail(ErrorCode::kInvalidArgument, source + " is not set");
    credentials = value;
    trimTrailingNewlines(credentials);
    if (!isUserPassword(credentials)) {
      return fail(ErrorCode::kInvalidArgument, source + " must hold \"user:password\"");
    }
    return credentials;
  }
  return fail(ErrorCode::kInvalidArgument, name + " auth entry names neither credentials_file nor credentials_env");
}

}  // namespace

bool hasIdentity(const SiteConfig& site) {
  return !site.auth.empty() || (site.tls && !site.tls->cert_file.empty());
}

Result<zk::ConnectOptions> connectOptions(const SiteConfig& site, const std::string& name) {
  zk::ConnectOptions options;
  options.connect = site.connect;
  options.session_timeout = std::chrono::milliseconds(site.session_timeout_ms);
  options.connect_timeout = std::chrono::milliseconds(site.connect_timeout_ms);
  options.max_in_flight = site.max_in_flight;
  options.name = name;
  options.backend = site.client;
  if (site.tls) {
    options.tls = zk::TlsOptions{site.tls->ca_file, site.tls->cert_file, site.tls->key_file, site.tls->verify_hostname};
  }
  options.multi_read = site.multi_read;
  options.persistent_watches = site.persistent_watches;
  options.max_packet_bytes = site.max_packet_bytes;
  for (const AuthConfig& auth : site.auth) {
    if (auth.scheme != "digest") {
      return fail(ErrorCode::kInvalidArgument, name + " auth scheme '" + auth.scheme + "' is not supported: only 'digest' is");
    }
    auto credentials = readCredentials(auth, name);
    if (!credentials) return std::unexpected(credentials.error());
    options.auth.push_back(zk::AuthEntry{auth.scheme, std::move(*credentials)});
  }
  return options;
}

}  // namespace zks::config
