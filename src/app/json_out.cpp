#include "webhook/app/json_out.hpp"

#include "webhook/core/text.hpp"
#include "webhook/log/log.hpp"

namespace webhook::app {

void JsonOut::key(std::string_view name) {
  w_.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()), true);
}

void JsonOut::string(std::string_view text) {
  const std::string safe = core::replace_invalid_utf8(text);
  w_.String(safe.data(), static_cast<rapidjson::SizeType>(safe.size()), true);
}

void JsonOut::field(std::string_view name, std::string_view text) {
  key(name);
  string(text);
}

void JsonOut::field(std::string_view name, std::int64_t value) {
  key(name);
  w_.Int64(value);
}

void JsonOut::field(std::string_view name, bool value) {
  key(name);
  w_.Bool(value);
}

void JsonOut::field_or_null(std::string_view name, std::string_view text) {
  key(name);
  if (text.empty()) {
    w_.Null();
  } else {
    string(text);
  }
}

void JsonOut::field_or_null(std::string_view name, std::optional<std::int64_t> value) {
  key(name);
  if (value) {
    w_.Int64(*value);
  } else {
    w_.Null();
  }
}

void JsonOut::nullable(std::string_view name, const std::optional<std::string>& text) {
  key(name);
  if (text) {
    string(*text);
  } else {
    w_.Null();
  }
}

void JsonOut::nullable(std::string_view name, std::optional<bool> value) {
  key(name);
  if (value) {
    w_.Bool(*value);
  } else {
    w_.Null();
  }
}

void JsonOut::time_fields(std::string_view base, std::optional<std::int64_t> epoch_ms) {
  field_or_null(std::string(base) + "_ms", epoch_ms);
  field_or_null(base, epoch_ms ? log::format_timestamp(*epoch_ms) : std::string());
}

}  // namespace webhook::app
