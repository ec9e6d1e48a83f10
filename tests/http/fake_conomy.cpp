// FakeConomy (see the header). Test code: a failure to set up throws.

#include "http/fake_conomy.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <thread>

#include "http/asio.hpp"

namespace webhook::testing {
namespace {

using namespace webhook::http;  // net, beast, bhttp, tcp
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr int kThreads = 4;

std::string error_body(unsigned status, std::string_view code, std::string_view type,
                       std::string_view detail, const std::string& trace) {
  return R"({"status":)" + std::to_string(status) + R"(,"code":")" + std::string(code) +
         R"(","type":")" + std::string(type) + R"(","detail":")" + std::string(detail) +
         R"(","traceId":")" + trace + R"("})";
}

}  // namespace

struct FakeConomy::Impl {
  explicit Impl(FakeConomy& owner) : owner_(owner) {}

  FakeConomy& owner_;
  net::io_context ioc{kThreads};
  std::vector<std::thread> threads;

  net::awaitable<void> accept_loop(tcp::acceptor acceptor) {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
      if (ec) co_return;
      net::co_spawn(acceptor.get_executor(), session(beast::tcp_stream(std::move(socket))),
                    net::detached);
    }
  }

  net::awaitable<void> session(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, kUseTuple);
      if (ec) co_return;
      const bool is_auth = req.method() == bhttp::verb::post &&
                           std::string(req.target()) == owner_.options_.base_path + "/auth";
      if (is_auth && owner_.options_.auth_delay.count() > 0) {
        net::steady_timer delay(stream.get_executor(), owner_.options_.auth_delay);
        co_await delay.async_wait(kUseTuple);
      }
      const std::string trace = "fake-trace-" + std::to_string(++owner_.trace_counter_);
      const FakeAnswer answer = is_auth ? answer_auth(req, trace) : answer_get(req, trace);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(answer.status), 11};
      res.set(bhttp::field::content_type, "application/json");
      res.set("x-trace-id", trace);
      for (const auto& [name, value] : answer.headers) res.set(name, value);
      res.body() = answer.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kUseTuple);
      if (wec || !req.keep_alive()) co_return;
    }
  }

  // An error answer: the scripted body, or the documented shape with this traceId.
  static FakeAnswer error(unsigned status, std::string_view code, std::string_view type,
                          std::string_view detail, const std::string& trace) {
    return {status, error_body(status, code, type, detail, trace), {}};
  }

  static FakeAnswer completed(FakeAnswer a, const std::string& trace) {
    if (a.body.empty() && a.status >= 400) {
      a.body = error_body(a.status, "01", "scripted", "scripted failure", trace);
    }
    return a;
  }

  FakeAnswer answer_auth(const bhttp::request<bhttp::string_body>& req, const std::string& trace) {
    ++owner_.auth_requests_;
    std::lock_guard lock(owner_.mutex_);
    const std::string key(req["x-api-key"]);
    owner_.secrets_seen_.push_back(key);
    if (!owner_.auth_script_.empty()) {
      FakeAnswer a = std::move(owner_.auth_script_.front());
      owner_.auth_script_.pop_front();
      return completed(std::move(a), trace);
    }
    if (key != owner_.options_.api_key) return error(401, "41", "unauthorized", "api key", trace);
    rapidjson::Document doc;
    doc.Parse(req.body().c_str(), req.body().size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("clientId") ||
        !doc.HasMember("clientSecret") || !doc["clientId"].IsString() ||
        !doc["clientSecret"].IsString()) {
      return error(400, "14", "parsingResource", "body", trace);
    }
    const std::string secret = doc["clientSecret"].GetString();
    owner_.secrets_seen_.push_back(secret);
    if (doc["clientId"].GetString() != owner_.options_.client_id ||
        owner_.options_.secrets.count(secret) == 0) {
      return error(401, "41", "unauthorized", "invalid client credentials", trace);
    }
    const std::string token =
        "fake-token-" + std::to_string(owner_.tokens_.size() + 1) + "-eyJhbGciOiJIUzI1NiJ9";
    owner_.tokens_[token] = owner_.clock_.now_ms() + owner_.options_.token_lifetime_s * 1000;
    ++owner_.auth_accepted_;
    return {200,
            R"({"accessToken":")" + token + R"(","tokenType":"Bearer","expiresIn":)" +
                std::to_string(owner_.options_.token_lifetime_s) + "}",
            {}};
  }

  FakeAnswer answer_get(const bhttp::request<bhttp::string_body>& req, const std::string& trace) {
    ++owner_.api_requests_;
    std::lock_guard lock(owner_.mutex_);
    const std::string key(req["x-api-key"]);
    owner_.secrets_seen_.push_back(key);
    const std::string authorization(req[bhttp::field::authorization]);
    const std::string token =
        authorization.starts_with("Bearer ") ? authorization.substr(7) : std::string();
    const auto issued = owner_.tokens_.find(token);
    if (key != owner_.options_.api_key || issued == owner_.tokens_.end() ||
        owner_.clock_.now_ms() >= issued->second) {
      ++owner_.refused_tokens_;
      return error(401, "41", "unauthorized", "token refused", trace);
    }
    if (req.method() != bhttp::verb::get) return error(405, "42", "unimplemented", "method", trace);
    if (!owner_.script_.empty()) {
      FakeAnswer a = std::move(owner_.script_.front());
      owner_.script_.pop_front();
      return completed(std::move(a), trace);
    }
    const std::string target(req.target());
    const std::string payments = owner_.options_.base_path + "/payments/";
    const std::string customers = owner_.options_.base_path + "/customers/";
    const std::map<std::string, std::string>* objects = nullptr;
    std::string id;
    if (target.starts_with(payments)) {
      objects = &owner_.payments_;
      id = target.substr(payments.size());
    } else if (target.starts_with(customers)) {
      objects = &owner_.customers_;
      id = target.substr(customers.size());
    }
    if (objects == nullptr) return error(404, "31", "notFound", "no such route", trace);
    const auto found = objects->find(id);
    if (found == objects->end()) return error(404, "31", "notFound", "not found", trace);
    return {200, found->second, {}};
  }
};

FakeConomy::FakeConomy(FakeConomyOptions options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock), impl_(std::make_unique<Impl>(*this)) {
  tcp::acceptor acceptor(impl_->ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  port_ = acceptor.local_endpoint().port();
  net::co_spawn(impl_->ioc, impl_->accept_loop(std::move(acceptor)), net::detached);
  for (int i = 0; i < kThreads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

FakeConomy::~FakeConomy() {
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

std::string FakeConomy::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + options_.base_path;
}

void FakeConomy::put_payment(const std::string& id, std::string object_json) {
  std::lock_guard lock(mutex_);
  payments_[id] = std::move(object_json);
}

void FakeConomy::put_customer(const std::string& id, std::string object_json) {
  std::lock_guard lock(mutex_);
  customers_[id] = std::move(object_json);
}

void FakeConomy::script(std::vector<FakeAnswer> answers) {
  std::lock_guard lock(mutex_);
  for (auto& a : answers) script_.push_back(std::move(a));
}

void FakeConomy::script_auth(std::vector<FakeAnswer> answers) {
  std::lock_guard lock(mutex_);
  for (auto& a : answers) auth_script_.push_back(std::move(a));
}

void FakeConomy::set_secrets(std::set<std::string> secrets) {
  std::lock_guard lock(mutex_);
  options_.secrets = std::move(secrets);
}

void FakeConomy::revoke_tokens() {
  std::lock_guard lock(mutex_);
  for (auto& [token, expiry] : tokens_) expiry = 0;
}

std::vector<std::string> FakeConomy::secrets_seen() const {
  std::lock_guard lock(mutex_);
  return secrets_seen_;
}

}  // namespace webhook::testing
