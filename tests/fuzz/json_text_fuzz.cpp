// core/json_text: the strict scanner behind the body signature scheme and the reader behind the
// envelope and projections. Beyond not crashing: scan_object(), compact() and parse() agree on
// what is JSON (one accept set, so no body verifies that the envelope cannot read), member offsets
// lie inside the input and in order, compact() is idempotent (a compact document is its own
// compact form), and parse() reads a document and its compact form alike.
#include "core/json_text.hpp"
#include "fuzz_support.hpp"

namespace jt = webhook::core::json_text;
using webhook::fuzz::check;

namespace {

bool same_value(const jt::Value& a, const jt::Value& b) {
  if (a.kind != b.kind || a.boolean != b.boolean || a.lossy != b.lossy || a.text != b.text ||
      a.keys != b.keys || a.items.size() != b.items.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    if (!same_value(a.items[i], b.items[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhook::fuzz::as_text(data, size);
  const auto compacted = jt::compact(text);
  const auto parsed = jt::parse(text);
  check(compacted.has_value() == parsed.has_value(), "compact() and parse() accept the same text");
  if (compacted) {
    const auto again = jt::compact(*compacted);
    check(again && *again == *compacted, "compact() is idempotent");
    const auto reparsed = jt::parse(*compacted);
    check(reparsed && same_value(reparsed->root, parsed->root) &&
              reparsed->duplicate_keys == parsed->duplicate_keys,
          "parse() reads the compact form as the document");
  }
  const auto layout = jt::scan_object(text);
  if (!layout) return 0;
  check(compacted.has_value(), "a document scan_object() accepts is valid for compact()");
  check(layout->open < layout->close && layout->close < text.size(), "object bounds in range");
  check(text[layout->open] == '{' && text[layout->close] == '}', "object bounds on braces");
  std::size_t previous_end = layout->open;
  for (const auto& member : layout->members) {
    check(member.key_begin > previous_end && member.key_begin < member.value_end &&
              member.value_end <= layout->close,
          "member offsets in order and inside the object");
    check(text[member.key_begin] == '"', "a member starts at its key's quote");
    check(jt::compact(member.value).value_or("") == member.value, "a member value is compact");
    previous_end = member.value_end;
  }
  return 0;
}
