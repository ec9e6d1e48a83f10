#pragma once
// JsonOut: a RapidJSON Writer with the value shapes every JSON document of the receiver shares
// (the CLI's --json output and the admin API, app/documents.hpp). Strings pass through
// core::replace_invalid_utf8(), so a document is always valid UTF-8 whatever a payload held;
// times are written twice, as "<name>_ms" (epoch ms) and "<name>" (ISO-8601 UTC).

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhook::app {

class JsonOut {
 public:
  JsonOut() : w_(buffer_) {}
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;

  void start_object() { w_.StartObject(); }
  void end_object() { w_.EndObject(); }
  void start_array() { w_.StartArray(); }
  void end_array() { w_.EndArray(); }
  void key(std::string_view name);

  void string(std::string_view text);
  void integer(std::int64_t value) { w_.Int64(value); }
  void boolean(bool value) { w_.Bool(value); }
  void null() { w_.Null(); }

  // name: value. The optional forms write null for "" / nullopt.
  void field(std::string_view name, std::string_view text);
  void field(std::string_view name, const char* text) { field(name, std::string_view(text)); }
  void field(std::string_view name, std::int64_t value);
  void field(std::string_view name, bool value);
  // name: a JSON number with a fraction (a duration in seconds, a ratio).
  void decimal(std::string_view name, double value) {
    key(name);
    w_.Double(value);
  }
  void field_or_null(std::string_view name, std::string_view text);
  void field_or_null(std::string_view name, std::optional<std::int64_t> value);
  // name: value, or null for nullopt (an empty string stays "").
  void nullable(std::string_view name, const std::optional<std::string>& text);
  void nullable(std::string_view name, std::optional<bool> value);
  // "<base>_ms": epoch ms and "<base>": ISO-8601, both null for nullopt.
  void time_fields(std::string_view base, std::optional<std::int64_t> epoch_ms);

  // The document, with a final newline.
  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()) + "\n"; }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

}  // namespace webhook::app
