#pragma once
// parse_exposition(): the Prometheus text of /metrics as "name{labels}" -> value, checked strictly.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <sstream>
#include <string>

namespace webhook::testing {

// Parses the exposition strictly: every line is a comment (# HELP/# TYPE) or a sample; returns
// samples keyed by "name{labels}". FAILs on anything else.
inline std::map<std::string, double> parse_exposition(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? ([-+0-9.eE]+|\+Inf|NaN)$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, sample)) {
      out[m[1].str() + m[2].str()] = m[3] == "+Inf" ? 1e300 : std::stod(m[3].str());
    } else {
      INFO(line);
      CHECK(std::regex_match(line, comment));
    }
  }
  return out;
}

}  // namespace webhook::testing
