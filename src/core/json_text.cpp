#include "core/json_text.hpp"

#include "webhook/core/text.hpp"

#include <algorithm>
#include <cstdint>

namespace webhook::core::json_text {
namespace {

constexpr std::string_view kLowerHex = "0123456789abcdef";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// \uxxxx with lowercase hex, as JSON.stringify writes control characters and lone surrogates.
void append_u_escape(std::string& out, std::uint32_t unit) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) {
    out.push_back(kLowerHex[(unit >> shift) & 0xF]);
  }
}

// One decoded code point (never a surrogate) in JSON.stringify's string form.
void append_js_char(std::string& out, std::uint32_t cp) {
  switch (cp) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      break;
  }
  if (cp < 0x20) {
    append_u_escape(out, cp);
  } else {
    append_utf8(out, cp);
  }
}

// Decodes a string in compact form (quotes included; escapes only as compact() writes them) into
// UTF-8; an unpaired surrogate becomes U+FFFD. Returns true when one did.
bool decode_compact_string(std::string_view compact, std::string& out) {
  bool lossy = false;
  out.clear();
  const std::string_view s = compact.substr(1, compact.size() - 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        std::uint32_t unit = 0;
        for (std::size_t k = 1; k <= 4; ++k) {
          unit = (unit << 4) | static_cast<std::uint32_t>(hex_value(s[i + k]));
        }
        i += 4;
        if (unit >= 0xD800 && unit <= 0xDFFF) {
          lossy = true;
          unit = 0xFFFD;
        }
        append_utf8(out, unit);
        break;
      }
      default:  // '"' and '\\'
        out.push_back(e);
        break;
    }
  }
  return lossy;
}

// Recursive-descent reader over the bytes of one document; every parse method appends the
// compact form of what it consumed to `out` and returns false on the first error.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_ws() {
    while (!at_end() && is_ws(text_[pos_])) ++pos_;
  }

  bool consume(char c) {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // Appends the compact form of one value to `out`; with `node`, also reads it into *node.
  bool value(std::string& out, int depth, Value* node = nullptr) {
    if (depth > kMaxDepth) return false;
    const std::size_t start = out.size();
    bool ok = false;
    Value::Kind kind = Value::Kind::null;
    switch (peek()) {
      case '{':
        return object(out, depth, node);
      case '[':
        return array(out, depth, node);
      case '"':
        ok = string(out);
        kind = Value::Kind::string;
        break;
      case 't':
        ok = literal("true", out);
        kind = Value::Kind::boolean;
        break;
      case 'f':
        ok = literal("false", out);
        kind = Value::Kind::boolean;
        break;
      case 'n':
        ok = literal("null", out);
        break;
      default:
        ok = number(out);
        kind = Value::Kind::number;
        break;
    }
    if (ok && node != nullptr) {
      node->kind = kind;
      const std::string_view compact = std::string_view(out).substr(start);
      if (kind == Value::Kind::string) {
        node->lossy = decode_compact_string(compact, node->text);
      } else if (kind == Value::Kind::number) {
        node->text.assign(compact);
      } else {
        node->boolean = compact == "true";
      }
    }
    return ok;
  }

  void note_duplicate_keys(const Value& object) {
    if (duplicate_keys_) return;
    std::vector<std::string_view> names(object.keys.begin(), object.keys.end());
    std::sort(names.begin(), names.end());
    duplicate_keys_ = std::adjacent_find(names.begin(), names.end()) != names.end();
  }

  bool duplicate_keys() const { return duplicate_keys_; }

  bool string(std::string& out) {
    if (!consume('"')) return false;
    out.push_back('"');
    while (!at_end()) {
      const char c = text_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        out.push_back('"');
        return true;
      }
      if (u < 0x20) return false;
      if (c == '\\') {
        if (!escape(out)) return false;
      } else if (u < 0x80) {
        out.push_back(c);
        ++pos_;
      } else {
        const std::size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) return false;
        out.append(text_.substr(pos_, n));
        pos_ += n;
      }
    }
    return false;
  }

 private:
  bool object(std::string& out, int depth, Value* node) {
    consume('{');
    out.push_back('{');
    if (node != nullptr) node->kind = Value::Kind::object;
    skip_ws();
    if (consume('}')) {
      out.push_back('}');
      return true;
    }
    for (;;) {
      skip_ws();
      const std::size_t key_start = out.size();
      if (!string(out)) return false;
      Value* member = nullptr;
      if (node != nullptr) {
        decode_compact_string(std::string_view(out).substr(key_start), node->keys.emplace_back());
        member = &node->items.emplace_back();
      }
      skip_ws();
      if (!consume(':')) return false;
      out.push_back(':');
      skip_ws();
      if (!value(out, depth + 1, member)) return false;
      skip_ws();
      if (consume('}')) break;
      if (!consume(',')) return false;
      out.push_back(',');
    }
    out.push_back('}');
    if (node != nullptr) note_duplicate_keys(*node);
    return true;
  }

  bool array(std::string& out, int depth, Value* node) {
    consume('[');
    out.push_back('[');
    if (node != nullptr) node->kind = Value::Kind::array;
    skip_ws();
    if (consume(']')) {
      out.push_back(']');
      return true;
    }
    for (;;) {
      skip_ws();
      if (!value(out, depth + 1, node != nullptr ? &node->items.emplace_back() : nullptr)) {
        return false;
      }
      skip_ws();
      if (consume(']')) break;
      if (!consume(',')) return false;
      out.push_back(',');
    }
    out.push_back(']');
    return true;
  }

  bool literal(std::string_view word, std::string& out) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    out.append(word);
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, copied verbatim.
  bool number(std::string& out) {
    const std::size_t begin = pos_;
    consume('-');
    if (consume('0')) {
      // a leading zero stands alone
    } else if (is_digit(peek())) {
      while (is_digit(peek())) ++pos_;
    } else {
      return false;
    }
    if (consume('.')) {
      if (!digits()) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digits()) return false;
    }
    out.append(text_.substr(begin, pos_ - begin));
    return true;
  }

  bool digits() {
    const std::size_t begin = pos_;
    while (is_digit(peek())) ++pos_;
    return pos_ > begin;
  }

  // Four hex digits at pos_; advances past them.
  std::optional<std::uint32_t> hex4() {
    if (text_.size() - pos_ < 4) return std::nullopt;
    std::uint32_t unit = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const int h = hex_value(text_[pos_ + i]);
      if (h < 0) return std::nullopt;
      unit = (unit << 4) | static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return unit;
  }

  // pos_ is at a backslash inside a string.
  bool escape(std::string& out) {
    ++pos_;
    if (at_end()) return false;
    const char e = text_[pos_++];
    switch (e) {
      case '"':
        out += "\\\"";
        return true;
      case '\\':
        out += "\\\\";
        return true;
      case '/':
        out.push_back('/');
        return true;
      case 'b':
        out += "\\b";
        return true;
      case 'f':
        out += "\\f";
        return true;
      case 'n':
        out += "\\n";
        return true;
      case 'r':
        out += "\\r";
        return true;
      case 't':
        out += "\\t";
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    const auto unit = hex4();
    if (!unit) return false;
    if (*unit >= 0xD800 && *unit <= 0xDBFF) {
      // A high surrogate pairs with an immediately following \uDC00-\uDFFF escape.
      const std::size_t save = pos_;
      if (consume('\\') && consume('u')) {
        const auto low = hex4();
        if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
          append_utf8(out, 0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00));
          return true;
        }
      }
      pos_ = save;
      append_u_escape(out, *unit);
      return true;
    }
    if (*unit >= 0xDC00 && *unit <= 0xDFFF) {
      append_u_escape(out, *unit);
      return true;
    }
    append_js_char(out, *unit);
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  bool duplicate_keys_ = false;
};

}  // namespace

std::optional<ObjectLayout> scan_object(std::string_view text) {
  Reader r(text);
  ObjectLayout layout;
  r.skip_ws();
  layout.open = r.pos();
  if (!r.consume('{')) return std::nullopt;
  r.skip_ws();
  if (!r.consume('}')) {
    for (;;) {
      r.skip_ws();
      Member m;
      m.key_begin = r.pos();
      if (!r.string(m.key)) return std::nullopt;
      r.skip_ws();
      if (!r.consume(':')) return std::nullopt;
      r.skip_ws();
      if (!r.value(m.value, 1)) return std::nullopt;
      m.value_end = r.pos();
      layout.members.push_back(std::move(m));
      r.skip_ws();
      if (r.consume('}')) break;
      if (!r.consume(',')) return std::nullopt;
    }
  }
  layout.close = r.pos() - 1;
  r.skip_ws();
  if (!r.at_end()) return std::nullopt;
  return layout;
}

std::optional<std::string> compact(std::string_view text) {
  Reader r(text);
  std::string out;
  out.reserve(text.size());
  r.skip_ws();
  if (!r.value(out, 0)) return std::nullopt;
  r.skip_ws();
  if (!r.at_end()) return std::nullopt;
  return out;
}

std::optional<Document> parse(std::string_view text) {
  Reader r(text);
  Document doc;
  std::string compact_form;
  compact_form.reserve(text.size());
  r.skip_ws();
  if (!r.value(compact_form, 0, &doc.root)) return std::nullopt;
  r.skip_ws();
  if (!r.at_end()) return std::nullopt;
  doc.duplicate_keys = r.duplicate_keys();
  return doc;
}

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::object) return nullptr;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

const Value* Value::object(std::string_view key) const {
  const Value* v = find(key);
  return v != nullptr && v->is_object() ? v : nullptr;
}

std::string quoted(std::string_view ascii_name) {
  std::string out;
  out.reserve(ascii_name.size() + 2);
  out.push_back('"');
  out.append(ascii_name);
  out.push_back('"');
  return out;
}

}  // namespace webhook::core::json_text
