#pragma once
// What integration tests send and read back: the X-Webhook-Signature header for a body, and a
// member of the receiver's JSON answer.
#include <rapidjson/document.h>

#include <string>

#include "integration/http_client.hpp"
#include "webhook/core/signature.hpp"

namespace webhook::testing {

inline HeaderList signed_with(const std::string& key, const std::string& body) {
  return {{"X-Webhook-Signature", core::sign_header(key, body)}};
}

// A top-level member of a JSON answer as text (a string, or an integer's digits); "" if absent.
inline std::string json_field(const std::string& body, const char* name) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(name)) return {};
  const auto& v = d[name];
  return v.IsString() ? v.GetString() : std::to_string(v.GetInt64());
}

}  // namespace webhook::testing
