// core/json_text: the strict scanner behind the body signature scheme. Beyond not crashing:
// scan_object() and compact() agree on what is JSON, member offsets lie inside the input and in
// order, and compact() is idempotent (a compact document is its own compact form).
#include "core/json_text.hpp"
#include "fuzz_support.hpp"

namespace jt = webhook::core::json_text;
using webhook::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhook::fuzz::as_text(data, size);
  const auto compacted = jt::compact(text);
  if (compacted) {
    const auto again = jt::compact(*compacted);
    check(again && *again == *compacted, "compact() is idempotent");
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
