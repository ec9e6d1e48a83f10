#include "cli/args.hpp"

#include <charconv>

namespace webhook::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
           const std::set<std::string>& booleans) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    if (valued.count(name) != 0) {
      if (inline_value) {
        values_[name].push_back(*inline_value);
      } else if (i + 1 < argv.size()) {
        values_[name].push_back(argv[++i]);
      } else {
        throw UsageError(name + " needs a value");
      }
    } else if (booleans.count(name) != 0 || name == "--help") {
      if (inline_value) throw UsageError(name + " takes no value");
      flags_.insert(name);
    } else {
      throw UsageError("unknown option " + name);
    }
  }
}

bool Args::has(const std::string& flag) const {
  return flags_.count(flag) != 0 || values_.count(flag) != 0;
}

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& flag) const {
  auto v = get(flag);
  if (!v) throw UsageError(flag + " is required");
  return *v;
}

std::optional<long long> Args::get_int(const std::string& flag, long long lo, long long hi) const {
  auto v = get(flag);
  if (!v) return std::nullopt;
  long long n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || end != v->data() + v->size() || n < lo || n > hi) {
    throw UsageError(flag + " must be a whole number from " + std::to_string(lo) + " to " +
                     std::to_string(hi));
  }
  return n;
}

}  // namespace webhook::cli
