#pragma once
// Binding a listener, shared by the webhook and admin listeners.
#include <cstdint>
#include <string>

#include "http/asio.hpp"

namespace webhook::http {

// Opens, binds and listens `acceptor` on host:port. An IP address binds as is; a host name
// ("localhost") is resolved once, here. Throws std::runtime_error "cannot listen on host:port:
// <reason>".
void open_listener(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port);

}  // namespace webhook::http
