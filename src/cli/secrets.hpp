#pragma once
// Secrets on the command line: --secret S, --secret-env NAME, --secret-file F (sign, verify,
// replay). Values are never written to any stream: errors name the flag, the variable or the
// path, never the value.

#include <iosfwd>
#include <set>
#include <string>
#include <vector>

namespace webhook::cli {

// The three flags that give a secret; each may repeat.
extern const std::set<std::string> kSecretFlags;

// Everything left in `in`.
std::string read_all(std::istream& in);

// The value of a secret flag as key bytes (--secret-file: the file minus one trailing line
// ending). Throws UsageError naming the flag (never the value).
std::string load_secret(const std::string& flag, const std::string& value);

// Every secret in command-line order (the key slots), walking `argv` the way Args does so a
// flag's value is never mistaken for a flag. `valued` is the command's set of valued flags.
// find_secrets() may return none; collect_secrets() throws UsageError when there is none.
std::vector<std::string> find_secrets(const std::vector<std::string>& argv,
                                      const std::set<std::string>& valued);
std::vector<std::string> collect_secrets(const std::vector<std::string>& argv,
                                         const std::set<std::string>& valued);

}  // namespace webhook::cli
