#pragma once

// TLS to ZooKeeper's secureClientPort with OpenSSL: mutual TLS (a client
// certificate and key), the server certificate verified against the CA
// file, and optionally the server's name or address checked against it.
// TLS 1.2 at least (Debian's 3.8 server speaks 1.2).
//
// Errors are one line for an operator: a file that is missing, unreadable
// or holds no usable PEM is named; a refused handshake or an untrusted
// server certificate says so with OpenSSL's reason.

#include <memory>
#include <string>

#include "common/error.h"
#include "zk/connect_options.h"
#include "zk/native/transport.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace zks::zk::native {

class TlsContext {
 public:
  // Reads the CA, certificate and key files (each time a session starts,
  // so renewed files are picked up on the next reopen()).
  static Result<std::shared_ptr<TlsContext>> load(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Runs the client side of the handshake over `tcp` before `deadline`.
  Result<std::unique_ptr<Transport>> handshake(std::unique_ptr<Transport> tcp, const HostPort& server,
                                               Clock::time_point deadline, Waker& waker) const;

 private:
  TlsContext(SSL_CTX* ctx, bool verify_hostname, bool has_client_cert)
      : ctx_(ctx), verify_hostname_(verify_hostname), has_client_cert_(has_client_cert) {}
  SSL_CTX* ctx_;
  bool verify_hostname_;
  bool has_client_cert_;
};

}  // namespace zks::zk::native
