#pragma once
// Args: the small command-line parser every subcommand shares.
//  "--name value", "--name=value", boolean "--flag", positionals; "--help" is a flag.
//  Unknown flags and missing values throw UsageError, which the dispatcher turns into one line
//  on stderr and exit code 2.

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace webhook::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  // `valued`: flags that take a value (may repeat); `booleans`: flags without one.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
       const std::set<std::string>& booleans);

  bool has(const std::string& flag) const;
  std::optional<std::string> get(const std::string& flag) const;  // last occurrence
  std::vector<std::string> all(const std::string& flag) const;    // every occurrence
  std::string require(const std::string& flag) const;             // throws UsageError
  const std::vector<std::string>& positionals() const { return positionals_; }

  // Parses the value of `flag` as an integer in [lo, hi]; throws UsageError naming the flag.
  std::optional<long long> get_int(const std::string& flag, long long lo, long long hi) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

}  // namespace webhook::cli
