#include "cli/secrets.hpp"

#include <array>
#include <cstdlib>
#include <fstream>
#include <istream>

#include "cli/args.hpp"

namespace webhook::cli {

const std::set<std::string> kSecretFlags = {"--secret", "--secret-env", "--secret-file"};

// (Chunked reads: istreambuf_iterator trips GCC 12's -Wnull-dereference at -O2.)
std::string read_all(std::istream& in) {
  std::string data;
  std::array<char, 64 * 1024> chunk{};
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    data.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  return data;
}

std::string load_secret(const std::string& flag, const std::string& value) {
  std::string secret;
  if (flag == "--secret") {
    secret = value;
  } else if (flag == "--secret-env") {
    const char* env = std::getenv(value.c_str());
    if (env == nullptr) throw UsageError("--secret-env: variable " + value + " is not set");
    secret = env;
  } else {
    std::ifstream in(value, std::ios::binary);
    if (!in) throw UsageError("--secret-file: cannot read " + value);
    secret = read_all(in);
    if (secret.ends_with("\r\n")) {
      secret.resize(secret.size() - 2);
    } else if (secret.ends_with('\n')) {
      secret.pop_back();
    }
  }
  if (secret.empty()) throw UsageError(flag + " gives an empty secret");
  return secret;
}

std::vector<std::string> find_secrets(const std::vector<std::string>& argv,
                                      const std::set<std::string>& valued) {
  std::vector<std::string> secrets;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) continue;
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (valued.count(name) == 0) continue;
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    }
    if (kSecretFlags.count(name) != 0) secrets.push_back(load_secret(name, value));
  }
  return secrets;
}

std::vector<std::string> collect_secrets(const std::vector<std::string>& argv,
                                         const std::set<std::string>& valued) {
  auto secrets = find_secrets(argv, valued);
  if (secrets.empty()) throw UsageError("needs --secret, --secret-env or --secret-file");
  return secrets;
}

}  // namespace webhook::cli
