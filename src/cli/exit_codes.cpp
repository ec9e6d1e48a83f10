// The error -> exit code mapping (see exit_codes.hpp).

#include "cli/exit_codes.hpp"

#include <ostream>

#include "cli/args.hpp"
#include "webhook/app/config.hpp"

namespace webhook::cli {
namespace {

constexpr std::string_view kProgram = "webhook-receiver ";

}  // namespace

int exit_code_for(const std::exception& e) {
  if (dynamic_cast<const UsageError*>(&e) != nullptr) return kExitUsage;
  if (dynamic_cast<const app::ConfigError*>(&e) != nullptr) return kExitUsage;
  return kExitFailure;
}

int report_error(std::ostream& err, std::string_view command, const std::exception& e) {
  err << kProgram << command << ": ";
  if (dynamic_cast<const app::ConfigError*>(&e) != nullptr) err << "configuration: ";
  err << e.what();
  if (dynamic_cast<const UsageError*>(&e) != nullptr) err << " (see --help)";
  err << "\n";
  return exit_code_for(e);
}

int report_failure(std::ostream& err, std::string_view command, std::string_view message) {
  err << kProgram << command << ": " << message << "\n";
  return kExitFailure;
}

int guarded(std::ostream& err, std::string_view command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return report_error(err, command, e);
  }
}

}  // namespace webhook::cli
