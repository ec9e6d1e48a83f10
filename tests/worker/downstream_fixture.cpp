// Downstream (see the header). Test code: a failure to set up throws.

#include "worker/downstream_fixture.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/asio.hpp"

namespace webhook::testing {
namespace {

using namespace webhook::http;  // net, beast, bhttp, tcp
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what);
}

// A P-256 key and a self-signed certificate (CN=localhost, the given SAN) valid for a day.
std::pair<PkeyPtr, X509Ptr> self_signed_certificate(const std::string& san) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "key generation");
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), 2) == 1, "version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr, "notAfter");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "public key");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = "localhost";
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                   0) == 1,
        "subject");
  check(X509_set_issuer_name(cert.get(), name) == 1, "issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, san},
        std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    check(ext != nullptr && X509_add_ext(cert.get(), ext.get(), -1) == 1, "extension");
  }
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "signing");
  return {std::move(key), std::move(cert)};
}

}  // namespace

struct Downstream::Impl {
  explicit Impl(Downstream& owner) : owner_(owner) {}

  Downstream& owner_;
  std::optional<net::ssl::context> ssl_ctx;  // before ioc: sessions reference it
  net::io_context ioc{1};
  std::thread thread;

  net::awaitable<void> accept_loop(tcp::acceptor acceptor) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
      if (ec) co_return;
      const std::size_t number = ++owner_.accepts_;
      if (ssl_ctx) {
        net::co_spawn(ioc, tls_session(std::move(socket), number), net::detached);
      } else {
        net::co_spawn(ioc, session(beast::tcp_stream(std::move(socket)), number, ""),
                      net::detached);
      }
    }
  }

  net::awaitable<void> tls_session(tcp::socket socket, std::size_t number) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *ssl_ctx);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kUseTuple);
    if (ec) co_return;  // e.g. the client refused our certificate
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    co_await session(std::move(stream), number, sni ? sni : "");
  }

  template <class Stream>
  net::awaitable<void> session(Stream stream, std::size_t number, std::string sni) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, kUseTuple);
      if (ec) co_return;
      RecordedRequest rec{
          std::string(req.method_string()), std::string(req.target()), req.body(), {}, number, sni};
      for (const auto& field : req) {
        std::string lower(field.name_string());
        for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        rec.headers[lower] = std::string(field.value());
      }
      owner_.record(std::move(rec));
      const ScriptedResponse step = owner_.next_response();
      if (step.hang) {
        net::steady_timer forever(ioc, net::steady_timer::time_point::max());
        co_await forever.async_wait(kUseTuple);
        co_return;
      }
      if (step.early_hints) {
        bhttp::response<bhttp::empty_body> hints{static_cast<bhttp::status>(103), 11};
        hints.set(bhttp::field::link, "</style.css>; rel=preload");
        auto [hec, hn] = co_await bhttp::async_write(stream, hints, kUseTuple);
        if (hec) co_return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(step.status), 11};
      for (const auto& [name, value] : step.headers) res.set(name, value);
      const bool bodiless = step.status < 200 || step.status == 204 || step.status == 304;
      if (!bodiless) res.body() = step.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kUseTuple);
      if (wec || step.close_after || !req.keep_alive()) co_return;  // closes the connection
    }
  }
};

Downstream::Downstream(std::vector<ScriptedResponse> script, DownstreamTls tls)
    : tls_(tls.enabled), script_(std::move(script)), impl_(std::make_unique<Impl>(*this)) {
  if (tls_) {
    auto [key, cert] = self_signed_certificate(tls.subject_alt_name);
    std::FILE* f = std::fopen(cert_file().c_str(), "w");
    check(f != nullptr, "opening the PEM file");
    const bool written = PEM_write_X509(f, cert.get()) == 1;
    std::fclose(f);
    check(written, "writing the PEM file");
    auto& ctx = impl_->ssl_ctx.emplace(net::ssl::context::tls_server);
    check(SSL_CTX_use_certificate(ctx.native_handle(), cert.get()) == 1, "server certificate");
    check(SSL_CTX_use_PrivateKey(ctx.native_handle(), key.get()) == 1, "server key");
  }
  tcp::acceptor acceptor(impl_->ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  port_ = acceptor.local_endpoint().port();
  net::co_spawn(impl_->ioc, impl_->accept_loop(std::move(acceptor)), net::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

Downstream::~Downstream() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string Downstream::url(const std::string& path, const std::string& host) const {
  return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + path;
}

std::vector<RecordedRequest> Downstream::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

ScriptedResponse Downstream::next_response() {
  std::lock_guard lock(mutex_);
  if (next_ < script_.size()) return script_[next_++];
  return {};
}

void Downstream::record(RecordedRequest request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(request));
}

}  // namespace webhook::testing
