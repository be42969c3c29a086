#include "zk/native/tls.h"

#include <arpa/inet.h>
#include <algorithm>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace zks::zk::native {
namespace {

// The reason of OpenSSL's most recent error, and the queue cleared.
std::string opensslReason() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return "unknown reason";
  const char* reason = ERR_reason_error_string(last);
  if (reason != nullptr) return reason;
  char buffer[256];
  ERR_error_string_n(last, buffer, sizeof(buffer));
  return buffer;
}

// Why OpenSSL could not use a PEM file, in an operator's words.
std::string pemReason() {
  const unsigned long last = ERR_peek_last_error();
  std::string reason = opensslReason();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM || reason == "PEM lib" || reason == "no start line") {
    return "it is not PEM, or not the expected kind of PEM block";
  }
  return reason;
}

// A file OpenSSL is about to read: a clear errno message first.
Status readable(const std::string& what, const std::string& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return fail(ErrorCode::kInvalidArgument, "cannot read " + what + ": " + std::strerror(errno), file);
  std::fclose(f);
  return {};
}

// OpenSSL's socket BIO writes with write(2): a peer that went away would
// raise SIGPIPE. This BIO sends with MSG_NOSIGNAL instead.
int bioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  for (;;) {
    const ssize_t n = ::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int bioRead(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  for (;;) {
    const ssize_t n = ::recv(fd, data, static_cast<size_t>(size), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long bioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* socketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "zks socket");
    BIO_meth_set_write(m, &bioWrite);
    BIO_meth_set_read(m, &bioRead);
    BIO_meth_set_ctrl(m, &bioCtrl);
    BIO_meth_set_create(m, &bioCreate);
    return m;
  }();
  return method;
}

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::unique_ptr<Transport> tcp, SSL* ssl) : tcp_(std::move(tcp)), ssl_(ssl) {}
  ~TlsTransport() override { SSL_free(ssl_); }
  int fd() const override { return tcp_->fd(); }

  IoResult read(char* data, size_t size) override {
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl_, data, size, &n) == 1) return {IoResult::kOk, n, {}};
    return failure(SSL_get_error(ssl_, 0), read_waits_);
  }

  IoResult write(const char* data, size_t size) override {
    // A write that had to wait is repeated with the same length (OpenSSL's
    // rule); the buffer may have moved and grown behind it.
    if (pending_write_ > 0) size = std::min(size, pending_write_);
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, data, size, &n) == 1) {
      pending_write_ = 0;
      return {IoResult::kOk, n, {}};
    }
    auto r = failure(SSL_get_error(ssl_, 0), write_waits_);
    if (r.status == IoResult::kWouldBlock) pending_write_ = size;
    return r;
  }

  short readWaitsFor() const override { return read_waits_; }
  short writeWaitsFor() const override { return write_waits_; }

 private:
  IoResult failure(int error, short& waits) {
    switch (error) {
      case SSL_ERROR_WANT_READ:
        waits = POLLIN;
        return {IoResult::kWouldBlock, 0, {}};
      case SSL_ERROR_WANT_WRITE:
        waits = POLLOUT;
        return {IoResult::kWouldBlock, 0, {}};
      case SSL_ERROR_ZERO_RETURN:
        return {IoResult::kClosed, 0, "the server closed the TLS connection"};
      case SSL_ERROR_SYSCALL:
        if (errno == 0 || ERR_peek_error() != 0) {
          return {IoResult::kClosed, 0, "the server closed the connection (" + opensslReason() + ")"};
        }
        return {IoResult::kError, 0, std::string("TLS: ") + std::strerror(errno)};
      default:
        return {IoResult::kError, 0, "TLS: " + opensslReason()};
    }
  }

  std::unique_ptr<Transport> tcp_;  // owns the socket
  SSL* ssl_;
  short read_waits_ = POLLIN;
  short write_waits_ = POLLOUT;
  size_t pending_write_ = 0;
};

bool isAddressLiteral(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::load(const TlsOptions& options) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return fail(ErrorCode::kInvalidArgument, "tls needs both cert_file and key_file, or neither");
  }
  if (auto st = readable("tls ca_file", options.ca_file); !st) return std::unexpected(st.error());
  if (!options.cert_file.empty()) {
    if (auto st = readable("tls cert_file", options.cert_file); !st) return std::unexpected(st.error());
    if (auto st = readable("tls key_file", options.key_file); !st) return std::unexpected(st.error());
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return fail(ErrorCode::kInternal, "cannot set up TLS: " + opensslReason());
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, options.verify_hostname, !options.cert_file.empty()));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // An encrypted key would make OpenSSL prompt on the terminal; refuse it.
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return fail(ErrorCode::kInvalidArgument, "tls ca_file holds no usable PEM certificate: " + pemReason(),
                options.ca_file);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return fail(ErrorCode::kInvalidArgument, "tls cert_file holds no usable PEM certificate: " + pemReason(),
                  options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return fail(ErrorCode::kInvalidArgument, "tls key_file is not the key of cert_file " + options.cert_file,
                    options.key_file);
      }
      return fail(ErrorCode::kInvalidArgument,
                  "tls key_file holds no usable PEM private key (encrypted keys are not supported): " + pemReason(),
                  options.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return fail(ErrorCode::kInvalidArgument, "tls key_file is not the key of cert_file " + options.cert_file,
                  options.key_file);
    }
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<Transport>> TlsContext::handshake(std::unique_ptr<Transport> tcp, const HostPort& server,
                                                         Clock::time_point deadline, Waker& waker) const {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return fail(ErrorCode::kInternal, "cannot set up TLS: " + opensslReason());
  BIO* bio = BIO_new(socketMethod());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(tcp->fd())));
  SSL_set_bio(ssl, bio, bio);
  SSL_set_connect_state(ssl);
  auto transport = std::make_unique<TlsTransport>(std::move(tcp), ssl);
  const bool literal = isAddressLiteral(server.host);
  if (!literal) SSL_set_tlsext_host_name(ssl, server.host.c_str());
  if (verify_hostname_) {
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server.host.c_str());
    } else {
      SSL_set1_host(ssl, server.host.c_str());
    }
  }
  const std::string where = "TLS handshake with " + server.describe() + " failed: ";
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl);
    if (rc == 1) return std::unique_ptr<Transport>(std::move(transport));
    const int error = SSL_get_error(ssl, rc);
    short events = 0;
    if (error == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      // kInvalidArgument marks what retrying will not fix: a certificate
      // refused by either side.
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return fail(ErrorCode::kInvalidArgument, where + "the server certificate is not trusted: " +
                                                     X509_verify_cert_error_string(verify));
      }
      if (error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN) {
        const int err = errno;
        const std::string reason =
            ERR_peek_error() != 0 ? opensslReason() : err != 0 ? std::string(std::strerror(err)) : "end of stream";
        return fail(ErrorCode::kIo, where + "the server closed the connection (" + reason +
                                        "; is this ZooKeeper's secureClientPort?)");
      }
      const unsigned long last = ERR_peek_last_error();
      const bool alert = ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) >= SSL_AD_REASON_OFFSET;
      if (alert) {
        return fail(ErrorCode::kInvalidArgument,
                    where + "the server refused it (" + opensslReason() +
                        (has_client_cert_ ? "; does the server trust this client's certificate?)"
                                          : "; this client has no certificate: set tls cert_file and key_file)"));
      }
      return fail(ErrorCode::kIo, where + opensslReason());
    }
    const auto waited = waitFd(transport->fd(), events, deadline, waker);
    if (waited == WaitResult::kStopped) return fail(ErrorCode::kInternal, "stopped");
    if (waited == WaitResult::kTimeout) return fail(ErrorCode::kTimeout, where + "no answer within the connect timeout");
  }
}

}  // namespace zks::zk::native
