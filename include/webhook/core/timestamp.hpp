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

// What parse_duration_ms() and parse_time_ms() take, for messages.
inline constexpr std::string_view kDurationForms =
    "a whole number and a unit: s, m, h, d or w (15m, 2h, 7d)";
inline constexpr std::string_view kTimeForms =
    "ISO-8601 UTC like 2026-05-03T10:00:00Z or 2026-05-03, or an age like 15m, 2h, 7d";

// An operator's duration: a whole number and a unit s, m, h, d or w ("15m", "7d"), at most 100
// years. nullopt for anything else.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

// An operator's point in time: parse_iso8601_ms(), or a duration meaning now_ms minus it.
std::optional<std::int64_t> parse_time_ms(std::string_view text, std::int64_t now_ms);

// A duration in its largest whole unit, as configured bounds are named in metric labels, /readyz
// keys and the CLI: "4h", "24h", "90m", "45s", else "1500ms".
std::string duration_label(std::int64_t ms);

}  // namespace webhook::core
