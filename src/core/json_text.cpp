#include "core/json_text.hpp"

#include <algorithm>
#include <cstdint>

#include "webhook/core/text.hpp"

namespace webhook::core::json_text {
namespace {

constexpr std::string_view kLowerHex = "0123456789abcdef";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

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

// Where a string's content goes as it is read: raw bytes as they stand in the input (already
// valid: no control characters, quotes or backslashes), and each escape as its UTF-16 unit or
// code point (a surrogate pair arrives combined; a lone surrogate arrives as itself).
// CompactSink writes JSON.stringify's form; DecodeSink writes the decoded text.
struct CompactSink {
  std::string& out;
  void raw(std::string_view bytes) { out.append(bytes); }
  void unit(std::uint32_t u) {
    if (u >= 0xD800 && u <= 0xDFFF) {
      append_u_escape(out, u);
    } else {
      append_js_char(out, u);
    }
  }
};

struct DecodeSink {
  std::string& out;
  bool lossy = false;
  void raw(std::string_view bytes) { out.append(bytes); }
  void unit(std::uint32_t u) {
    if (u >= 0xD800 && u <= 0xDFFF) {
      lossy = true;
      u = 0xFFFD;
    }
    append_utf8(out, u);
  }
};

// Recursive-descent reader over the bytes of one document. The compact methods append the
// compact form of what they consumed to `out`; the node methods read it into a Value. Both
// return false on the first error, and both accept exactly the same documents.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool duplicate_keys() const { return duplicate_keys_; }

  void skip_ws() {
    while (!at_end() && is_ws(text_[pos_])) ++pos_;
  }

  bool consume(char c) {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // ---- compact form ----------------------------------------------------------------------

  bool value(std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '{':
        return container(out, depth, '{', '}', true);
      case '[':
        return container(out, depth, '[', ']', false);
      case '"':
        return string(out);
      default: {
        const auto token = scalar();
        if (!token) return false;
        out.append(token->text);
        return true;
      }
    }
  }

  bool string(std::string& out) {
    out.push_back('"');
    CompactSink sink{out};
    if (!read_string(sink)) return false;
    out.push_back('"');
    return true;
  }

  // ---- values ----------------------------------------------------------------------------

  bool node(Value& v, int depth) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '{':
        v.kind = Value::Kind::object;
        if (!node_members(v, depth, '}', true)) return false;
        note_duplicate_keys(v);
        return true;
      case '[':
        v.kind = Value::Kind::array;
        return node_members(v, depth, ']', false);
      case '"': {
        v.kind = Value::Kind::string;
        DecodeSink sink{v.text};
        if (!read_string(sink)) return false;
        v.lossy = sink.lossy;
        return true;
      }
      default: {
        const auto token = scalar();
        if (!token) return false;
        v.kind = token->kind;
        v.boolean = token->text == "true";
        if (token->kind == Value::Kind::number) v.text.assign(token->text);
        return true;
      }
    }
  }

 private:
  struct Scalar {
    Value::Kind kind;
    std::string_view text;
  };

  // An object ('{' ... '}', members with keys) or array ('[' ... ']') in compact form.
  bool container(std::string& out, int depth, char open, char close, bool keyed) {
    consume(open);
    out.push_back(open);
    skip_ws();
    if (!consume(close)) {
      for (;;) {
        skip_ws();
        if (keyed) {
          if (!string(out) || !colon()) return false;
          out.push_back(':');
        }
        if (!value(out, depth + 1)) return false;
        skip_ws();
        if (consume(close)) break;
        if (!consume(',')) return false;
        out.push_back(',');
      }
    }
    out.push_back(close);
    return true;
  }

  // The members of an object or the elements of an array, read into v.items (and v.keys).
  bool node_members(Value& v, int depth, char close, bool keyed) {
    ++pos_;  // the opening bracket
    skip_ws();
    if (consume(close)) return true;
    for (;;) {
      skip_ws();
      if (keyed) {
        DecodeSink key{v.keys.emplace_back()};
        if (!read_string(key) || !colon()) return false;
      }
      if (!node(v.items.emplace_back(), depth + 1)) return false;
      skip_ws();
      if (consume(close)) return true;
      if (!consume(',')) return false;
    }
  }

  // Whitespace, ':' and whitespace between a key and its value.
  bool colon() {
    skip_ws();
    if (!consume(':')) return false;
    skip_ws();
    return true;
  }

  // Small objects (every object of a Conomy payload) compare pairwise, with no allocation; large
  // ones sort, so a body of many members stays O(n log n).
  void note_duplicate_keys(const Value& object) {
    constexpr std::size_t kPairwise = 16;
    const auto& keys = object.keys;
    if (duplicate_keys_ || keys.size() < 2) return;
    if (keys.size() <= kPairwise) {
      for (std::size_t i = 1; i < keys.size(); ++i) {
        if (std::find(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(i), keys[i]) !=
            keys.begin() + static_cast<std::ptrdiff_t>(i)) {
          duplicate_keys_ = true;
          return;
        }
      }
      return;
    }
    std::vector<std::string_view> names(keys.begin(), keys.end());
    std::sort(names.begin(), names.end());
    duplicate_keys_ = std::adjacent_find(names.begin(), names.end()) != names.end();
  }

  // A literal or a number at pos_, verbatim.
  std::optional<Scalar> scalar() {
    for (const auto& [word, kind] : {std::pair{std::string_view("true"), Value::Kind::boolean},
                                     std::pair{std::string_view("false"), Value::Kind::boolean},
                                     std::pair{std::string_view("null"), Value::Kind::null}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return Scalar{kind, word};
      }
    }
    const std::size_t begin = pos_;
    if (!number()) return std::nullopt;
    return Scalar{Value::Kind::number, text_.substr(begin, pos_ - begin)};
  }

  // The string at pos_ (opening quote included), its content sent to `sink`.
  template <typename Sink>
  bool read_string(Sink& sink) {
    if (!consume('"')) return false;
    std::size_t run = pos_;  // start of the current run of raw bytes
    while (!at_end()) {
      const char c = text_[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        sink.raw(text_.substr(run, pos_ - run));
        if (c == '"') {
          ++pos_;
          return true;
        }
        const auto unit = escape();
        if (!unit) return false;
        sink.unit(*unit);
        run = pos_;
      } else if (u < 0x20) {
        return false;
      } else if (u < 0x80) {
        ++pos_;
      } else {
        const std::size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) return false;
        pos_ += n;
      }
    }
    return false;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
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
      const int h = hex_digit_value(text_[pos_ + i]);
      if (h < 0) return std::nullopt;
      unit = (unit << 4) | static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return unit;
  }

  // pos_ is at a backslash inside a string: the escaped code point, a surrogate pair combined,
  // or a lone surrogate's unit (JSON.parse accepts those).
  std::optional<std::uint32_t> escape() {
    ++pos_;
    if (at_end()) return std::nullopt;
    switch (text_[pos_++]) {
      case '"':
        return '"';
      case '\\':
        return '\\';
      case '/':
        return '/';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u':
        break;
      default:
        return std::nullopt;
    }
    const auto unit = hex4();
    if (!unit) return std::nullopt;
    if (*unit >= 0xD800 && *unit <= 0xDBFF) {
      // A high surrogate pairs with an immediately following \uDC00-\uDFFF escape.
      const std::size_t save = pos_;
      if (consume('\\') && consume('u')) {
        const auto low = hex4();
        if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
          return 0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00);
        }
      }
      pos_ = save;
    }
    return unit;
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
  r.skip_ws();
  if (!r.node(doc.root, 0)) return std::nullopt;
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
