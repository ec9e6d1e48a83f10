#pragma once
// ISO-8601 timestamps as epoch milliseconds (UTC). Pure; never throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhook::core {

// "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", the
// fraction 1-9 digits (cut to milliseconds). nullopt for anything else, including impossible
// dates ("2026-02-30") and times ("24:00:00").
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text);

// A duration in its largest whole unit, as configured bounds are named in metric labels, /readyz
// keys and the CLI: "4h", "24h", "90m", "45s", else "1500ms".
std::string duration_label(std::int64_t ms);

}  // namespace webhook::core
