#pragma once
// Private to core: where a Conomy payload keeps its parts (WEBHOOKS.md sections 3-4). The envelope
// (routing, dedup) and the projections both read through here, so they always read the same
// objects of the same document.
//  1. A string "eventType" wins: the eventType shape, with top-level "transaction"/"customer".
//  2. Otherwise a string "event" is the legacy shape, with "data"."transaction".
//  3. Anything else (including a number where a name should be) is the unknown shape, which is
//     never an event (ingest quarantines it); its parts are read leniently for the tools.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_text.hpp"
#include "webhook/core/envelope.hpp"

namespace webhook::core {

struct PayloadParts {
  PayloadShape shape = PayloadShape::unknown;
  const json_text::Value* event_name = nullptr;   // a string; nullptr for the unknown shape
  const json_text::Value* transaction = nullptr;  // the transaction object of this shape
  const json_text::Value* customer = nullptr;     // the customer object (eventType shape only)
};

// Never null members it cannot find; `root` must outlive the result.
PayloadParts payload_parts(const json_text::Value& root);

// The text of `name` in `object` when it is a string; with `numbers`, also a number's source text.
// nullopt when absent, null or of another type.
std::optional<std::string> text_of(const json_text::Value* object, std::string_view name,
                                   bool numbers = false);

// A whole base-10 integer ("1", "-3"); nullopt for "1.0", "1e0", "", overflow and the like.
std::optional<std::int64_t> whole_number(std::string_view text);

}  // namespace webhook::core
