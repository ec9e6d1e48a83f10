// app/config: any config text either loads or fails with a ConfigError, a one-line message
// naming the origin and never containing the signing key; never a crash (issue 10, defect 12:
// deep nesting overflowed the stack of the recursive parser).
#include <string>

#include "fuzz_support.hpp"
#include "webhook/app/config.hpp"

namespace app = webhook::app;
using webhook::fuzz::check;

namespace {
const std::string kKey = "whsec_test_only_fuzz_config_01";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = webhook::fuzz::as_text(data, size);
  const auto env = app::map_environment({{"WEBHOOK_RECEIVER_SECRET_KEYS", kKey},
                                         {"WEBHOOK_RECEIVER_SANDBOX_SECRET_KEYS", kKey},
                                         {"FORWARD_SECRET", kKey}});
  try {
    (void)app::parse_config(text, "fuzz.json", env, true);
  } catch (const app::ConfigError& e) {
    const std::string_view message = e.what();
    check(message.starts_with("fuzz.json") || message.starts_with("WEBHOOK_RECEIVER_"),
          "a config error names where the value came from");
    check(message.find('\n') == std::string_view::npos, "a config error is one line");
    check(message.find(kKey) == std::string_view::npos || text.find(kKey) != std::string_view::npos,
          "a config error never shows a key from the environment");
  }
  return 0;
}
