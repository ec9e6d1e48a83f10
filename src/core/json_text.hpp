#pragma once
// Private to core: a strict JSON byte scanner that serves the body signature scheme
// (conomy/WEBHOOKS.md 2.2). signature.cpp owns the scheme logic; this file only reads JSON.
//  1. scan_object() validates a whole document whose top-level value is an object and returns,
//     for every top-level member, its byte offsets in the input and its compact form.
//  2. compact() re-serialises any document the way JavaScript's JSON.stringify would write it
//     after JSON.parse, except that numbers keep their received text.
//  3. parse() reads a document into Values: the one reader behind every field the receiver acts
//     on (envelope, projections), so what verifies and what is read are the same document.
//
// Accepted input: RFC 8259 JSON in UTF-8 (validated: no overlong forms, no encoded surrogates, no
// code point above U+10FFFF), no byte order mark, nesting at most kMaxDepth deep. Like JSON.parse,
// a lone \uD800-\uDFFF escape is accepted. Duplicate keys are kept as received.
//
// Compact form (JSON.stringify): no whitespace; strings escape only '"', '\' and U+0000-U+001F
// (short forms \b \t \n \f \r, otherwise \u00xx in lowercase hex); '/' and non-ASCII text are
// written raw (\uXXXX escapes decoded to UTF-8, surrogate pairs combined); a lone surrogate is
// written as \udxxx in lowercase hex. Numbers and the literals are copied verbatim.
// No function here throws on input; bad input gives nullopt.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webhook::core::json_text {

inline constexpr int kMaxDepth = 256;

struct Member {
  std::size_t key_begin = 0;  // offset of the key's opening quote
  std::size_t value_end = 0;  // offset one past the value's last byte
  std::string key;            // compact form of the key, quotes included: "\"signature\""
  std::string value;          // compact form of the value
};

struct ObjectLayout {
  std::size_t open = 0;         // offset of the top-level '{'
  std::size_t close = 0;        // offset of the matching '}'
  std::vector<Member> members;  // in received order
};

// A parsed JSON value. Strings are decoded to UTF-8; an unpaired surrogate escape (which JSON.parse
// accepts) is decoded as U+FFFD and marks the string `lossy`, so decoded text is always valid
// UTF-8. Numbers keep their source text (never a double: ids, amounts and 1e400 stay exact).
struct Value {
  enum class Kind : std::uint8_t { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  bool lossy = false;
  std::string text;               // string: decoded text; number: source text
  std::vector<std::string> keys;  // object: decoded member names in received order
  std::vector<Value> items;       // array: elements; object: items[i] is the value of keys[i]

  bool is_object() const { return kind == Kind::object; }
  bool is_string() const { return kind == Kind::string; }
  // Object: the value of the first member named `key`; nullptr when absent or not an object.
  const Value* find(std::string_view key) const;
  // find(), when that value is itself an object; nullptr otherwise.
  const Value* object(std::string_view key) const;
};

struct Document {
  Value root;
  bool duplicate_keys = false;  // some object, at any depth, names a member twice
};

// The document `text` when it is valid JSON as above (any top-level value); nullopt otherwise.
std::optional<Document> parse(std::string_view text);

// The layout of `text` when it is one valid JSON document whose top-level value is an object
// (surrounding whitespace allowed); nullopt otherwise.
std::optional<ObjectLayout> scan_object(std::string_view text);

// The compact form of the valid JSON document `text`; nullopt when `text` is not valid JSON.
std::optional<std::string> compact(std::string_view text);

// The compact form of a key, e.g. quoted("signature") == "\"signature\"" (ASCII names only).
std::string quoted(std::string_view ascii_name);

}  // namespace webhook::core::json_text
