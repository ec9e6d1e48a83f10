#include "webhook/http/probe.hpp"

#include "http/asio.hpp"

namespace webhook::http {

std::optional<ProbeTarget> parse_probe_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return std::nullopt;
  const std::string rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  ProbeTarget t;
  t.target = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos || authority.empty()) return std::nullopt;
  t.host = authority.substr(0, colon);
  t.port = authority.substr(colon + 1);
  if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  if (t.host.empty() || t.port.empty()) return std::nullopt;
  return t;
}

std::optional<unsigned> probe_get(const ProbeTarget& target, std::chrono::milliseconds timeout,
                                  std::string& error) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  std::optional<unsigned> status;
  tcp::resolver resolver(ioc);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target.target, 11};
  req.set(bhttp::field::host, target.host);
  req.set(bhttp::field::user_agent, "webhook-receiver-healthcheck");
  bhttp::response<bhttp::string_body> res;
  beast::flat_buffer buffer;

  // A callback chain on a private io_context, bounded by the stream's timeout.
  resolver.async_resolve(target.host, target.port, [&](beast::error_code ec, auto results) {
    if (ec) return void(error = ec.message());
    stream.expires_after(timeout);
    stream.async_connect(results, [&](beast::error_code ec2, const auto&) {
      if (ec2) return void(error = ec2.message());
      bhttp::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
        if (ec3) return void(error = ec3.message());
        bhttp::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) {
          if (ec4) return void(error = ec4.message());
          status = res.result_int();
        });
      });
    });
  });
  ioc.run_for(timeout + std::chrono::milliseconds(500));
  if (!status && error.empty()) error = "timed out";
  return status;
}

}  // namespace webhook::http
