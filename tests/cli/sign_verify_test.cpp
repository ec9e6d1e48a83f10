// Tests `webhook-receiver sign` and `verify` (src/cli/sign_verify.cpp) through cmd_sign/cmd_verify.
#include <catch2/catch.hpp>

#include "support/cli_run.hpp"

#include "support/conomy_vectors.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

using webhook::cli::ArgList;
using webhook::cli::cmd_sign;
using webhook::cli::cmd_verify;
using webhook::cli::Io;

namespace {

using namespace webhook::testing::vectors;  // WEBHOOKS.md 2.4 key, bodies and signatures

using Run = webhook::testing::CliRun;

Run run(int (*command)(const ArgList&, Io), const ArgList& args, const std::string& input = "") {
  return webhook::testing::run_cli([&](Io io) { return command(args, io); }, input);
}

std::string example(const std::string& name) {
  return std::string(WEBHOOK_EXAMPLES_DIR) + "/" + name;
}

std::vector<std::string> example_files() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(WEBHOOK_EXAMPLES_DIR)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A file in the temp directory, removed when the object goes away.
struct TempFile {
  explicit TempFile(const std::string& content)
      : path_(std::filesystem::temp_directory_path() /
              ("sign_verify_test_" + std::to_string(::getpid()) + "_" +
               std::to_string(reinterpret_cast<std::uintptr_t>(this)))) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("sign and verify print their usage for --help and exit 0", "[cli][sign][verify]") {
  const auto s = run(cmd_sign, {"--help"});
  CHECK(s.code == 0);
  CHECK(s.out.find("usage: webhook-receiver sign") == 0);
  const auto v = run(cmd_verify, {"--help"});
  CHECK(v.code == 0);
  CHECK(v.out.find("usage: webhook-receiver verify") == 0);
}

TEST_CASE("sign writes a curl config for the header scheme", "[cli][sign]") {
  const auto r = run(cmd_sign, {"--secret", kKey, "--scheme", "header", "-"}, kBodyH);
  CHECK(r.code == 0);
  std::string quoted_body = kBodyH;
  for (std::size_t at = quoted_body.find('"'); at != std::string::npos;
       at = quoted_body.find('"', at + 2)) {
    quoted_body.insert(at, 1, '\\');
  }
  CHECK(r.out ==
        "request = \"POST\"\n"
        "header = \"Content-Type: application/json\"\n"
        "header = \"X-Webhook-Signature: " +
            kSigH +
            "\"\n"
            "data-binary = \"" +
            quoted_body + "\"\n");
  CHECK(r.err.empty());
}

TEST_CASE("sign reproduces the documented body-scheme vector from the pretty example",
          "[cli][sign]") {
  const std::string file = example("01-legacy-transaction-captured.json");
  const auto body =
      run(cmd_sign, {"--secret", kKey, "--scheme", "body", "--compact", "--output", "body", file});
  CHECK(body.code == 0);
  CHECK(body.out.ends_with(R"("status":"CAPTURED"}},"signature":")" + kSigB + "\"}"));
  const auto sig =
      run(cmd_sign, {"--secret=" + kKey, "--scheme=body", "--compact", "--output=signature", file});
  CHECK(sig.code == 0);
  CHECK(sig.out == kSigB + "\n");
  const auto header =
      run(cmd_sign, {"--secret", kKey, "--scheme", "header", "--output", "signature", "-"}, kBodyH);
  CHECK(header.out == kSigH + "\n");
}

TEST_CASE("a signed body piped into verify is authentic for both schemes and every example",
          "[cli][sign][verify][fixtures]") {
  const auto files = example_files();
  REQUIRE(files.size() >= 12);
  for (const auto& file : files) {
    for (const bool compact : {false, true}) {
      INFO(file << (compact ? " --compact" : ""));
      ArgList body_args = {"--secret", kKey, "--scheme", "body", "--output", "body", file};
      ArgList header_args = {"--secret", kKey, "--scheme", "header", "--output", "body", file};
      if (compact) {
        body_args.push_back("--compact");
        header_args.push_back("--compact");
      }
      const auto signed_body = run(cmd_sign, body_args);
      REQUIRE(signed_body.code == 0);
      const auto b = run(cmd_verify, {"--secret", kKey, "-"}, signed_body.out);
      CHECK(b.code == 0);
      CHECK(b.out == "authentic: scheme=body candidate=raw_strip key_slot=0\n");

      const auto sent = run(cmd_sign, header_args);
      REQUIRE(sent.code == 0);
      CHECK((compact || sent.out == read_file(file)));
      header_args[5] = "signature";
      const auto sig = run(cmd_sign, header_args);
      REQUIRE(sig.code == 0);
      const std::string hex = sig.out.substr(0, sig.out.size() - 1);
      const auto h = run(cmd_verify, {"--secret", kKey, "--header", hex, "-"}, sent.out);
      CHECK(h.code == 0);
      CHECK(h.out == "authentic: scheme=header candidate=none key_slot=0\n");
    }
  }
}

TEST_CASE("verify reports not authentic with the status and exit code 1", "[cli][verify]") {
  const auto tampered = run(cmd_verify, {"--secret", kKey, "--header", kSigH, "-"}, kBodyH + " ");
  CHECK(tampered.code == 1);
  CHECK(tampered.out == "not authentic: bad_signature\n");

  const auto other = run(cmd_verify, {"--secret", kOtherKey, "--header", kSigH, "-"}, kBodyH);
  CHECK(other.code == 1);

  const auto missing = run(cmd_verify, {"--secret", kKey, "-"}, kBodyH);
  CHECK(missing.code == 1);
  CHECK(missing.out == "not authentic: missing_signature\n");

  const auto twice =
      run(cmd_verify, {"--secret", kKey, "--header", kSigH, "--header", kSigH, "-"}, kBodyH);
  CHECK(twice.code == 1);
  CHECK(twice.out == "not authentic: duplicate_header\n");

  const auto malformed = run(cmd_verify, {"--secret", kKey, "--scheme", "body", "-"}, "nope");
  CHECK(malformed.code == 1);
  CHECK(malformed.out == "not authentic: malformed_json\n");
}

TEST_CASE("verify counts key slots in command-line order across the secret flags",
          "[cli][verify]") {
  const TempFile key_file(kKey + "\n");
  const auto from_file = run(
      cmd_verify, {"--secret", kOtherKey, "--secret-file", key_file.path(), "--header", kSigH, "-"},
      kBodyH);
  CHECK(from_file.code == 0);
  CHECK(from_file.out == "authentic: scheme=header candidate=none key_slot=1\n");

  ::setenv("SIGN_VERIFY_TEST_ROTATED_KEY", kKey.c_str(), 1);
  const auto from_env = run(cmd_verify,
                            {"--secret-env", "SIGN_VERIFY_TEST_ROTATED_KEY", "--secret", kOtherKey,
                             "--header", kSigH, "-"},
                            kBodyH);
  ::unsetenv("SIGN_VERIFY_TEST_ROTATED_KEY");
  CHECK(from_env.code == 0);
  CHECK(from_env.out == "authentic: scheme=header candidate=none key_slot=0\n");
}

TEST_CASE("verify honours --scheme and --allow-sha256-prefix", "[cli][verify]") {
  const std::string prefixed = "sha256=" + kSigH;
  CHECK(run(cmd_verify, {"--secret", kKey, "--header", prefixed, "-"}, kBodyH).code == 1);
  CHECK(run(cmd_verify, {"--secret", kKey, "--header", prefixed, "--allow-sha256-prefix", "-"},
            kBodyH)
            .code == 0);
  CHECK(
      run(cmd_verify, {"--secret", kKey, "--header", kSigH, "--scheme", "body", "-"}, kBodyH).out ==
      "not authentic: missing_signature\n");
}

TEST_CASE("sign and verify reject bad usage with exit 2 naming the flag or file",
          "[cli][sign][verify]") {
  const std::string file = example("01-legacy-transaction-captured.json");
  struct Case {
    ArgList args;
    std::string mentions;
  };
  const std::vector<Case> sign_cases = {
      {{"--secret", kKey, "--scheme", "query", file}, "--scheme"},
      {{"--secret", kKey, file}, "--scheme"},
      {{"--secret", kKey, "--scheme", "body", "--output", "xml", file}, "--output"},
      {{"--scheme", "body", file}, "--secret"},
      {{"--secret", kKey, "--secret", kOtherKey, "--scheme", "body", file}, "exactly one"},
      {{"--secret", kKey, "--scheme", "body", "/nonexistent/payload.json"},
       "/nonexistent/payload.json"},
      {{"--secret", kKey, "--scheme", "body"}, "FILE"},
      {{"--secret", kKey, "--scheme", "body", file, file}, "one payload FILE"},
      {{"--secret-file", "/nonexistent/key", "--scheme", "body", file}, "/nonexistent/key"},
      {{"--secret-env", "SIGN_VERIFY_TEST_UNSET_VARIABLE", "--scheme", "body", file},
       "SIGN_VERIFY_TEST_UNSET_VARIABLE"},
      {{"--secret", kKey, "--scheme", "body", "--bogus", file}, "--bogus"},
      {{"--secret", kKey, "--scheme"}, "--scheme"},
  };
  for (const auto& c : sign_cases) {
    const auto r = run(cmd_sign, c.args);
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.rfind("webhook-receiver sign: ", 0) == 0);
    CHECK(r.err.find(c.mentions) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
  }
  const auto v = run(cmd_verify, {"--secret", kKey, "--scheme", "either", file});
  CHECK(v.code == 2);
  CHECK(v.err.rfind("webhook-receiver verify: --scheme", 0) == 0);
  CHECK(run(cmd_verify, {file}).code == 2);
}

TEST_CASE("sign refuses payloads it cannot sign with exit 1", "[cli][sign]") {
  CHECK(run(cmd_sign, {"--secret", kKey, "--scheme", "header", "--compact", "-"}, "{nope").code ==
        1);
  CHECK(run(cmd_sign, {"--secret", kKey, "--scheme", "body", "-"}, "[1,2]").code == 1);
  CHECK(run(cmd_sign, {"--secret", kKey, "--scheme", "header", "-"}, std::string("a\0b", 3)).code ==
        1);
  // The header scheme signs any bytes as they are.
  CHECK(run(cmd_sign, {"--secret", kKey, "--scheme", "header", "-"}, "plain text").code == 0);
}

TEST_CASE("the curl config escapes what curl's quoted strings need", "[cli][sign]") {
  const std::string body = "{\"a\":\"x\"}\n\t\r\v\\ end";
  const auto r = run(cmd_sign, {"--secret", kKey, "--scheme", "header", "-"}, body);
  CHECK(r.code == 0);
  CHECK(r.out.find("\ndata-binary = \"{\\\"a\\\":\\\"x\\\"}\\n\\t\\r\\v\\\\ end\"\n") !=
        std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 4);

  const auto at = run(cmd_sign, {"--secret", kKey, "--scheme", "header", "-"}, "@/etc/passwd");
  CHECK(at.out.find("\ndata-raw = \"@/etc/passwd\"\n") != std::string::npos);
  CHECK(at.out.find("data-binary") == std::string::npos);
}

TEST_CASE("the secret never appears in any output", "[cli][sign][verify]") {
  const std::string secret = "whsec_test_only_never_printed_91c3";
  const std::string file = example("01-legacy-transaction-captured.json");
  const TempFile secret_file(secret);
  std::vector<Run> runs;
  for (const std::string output : {"curl", "body", "signature"}) {
    for (const std::string scheme : {"header", "body"}) {
      runs.push_back(
          run(cmd_sign, {"--secret", secret, "--scheme", scheme, "--output", output, file}));
    }
  }
  runs.push_back(run(cmd_sign, {"--secret", secret, "--scheme", "nope", file}));
  runs.push_back(run(cmd_sign, {"--secret", secret, "--scheme", "body", "-"}, "not json"));
  runs.push_back(run(cmd_sign, {"--secret-file", secret_file.path(), "--secret", secret, "--scheme",
                                "body", file}));
  runs.push_back(run(cmd_verify, {"--secret", secret, file}));
  runs.push_back(run(cmd_verify, {"--secret", secret, "--header", secret, file}));
  runs.push_back(run(cmd_verify, {"--secret", secret, "--scheme", "x", file}));
  runs.push_back(run(cmd_verify, {"--secret-file", secret_file.path(), file}));
  for (const auto& r : runs) {
    CHECK(r.out.find("never_printed") == std::string::npos);
    CHECK(r.err.find("never_printed") == std::string::npos);
  }
}

TEST_CASE("a secret file loses exactly one trailing line ending", "[cli][sign]") {
  const TempFile crlf(kKey + "\r\n");
  const auto r = run(
      cmd_sign, {"--secret-file", crlf.path(), "--scheme", "header", "--output", "signature", "-"},
      kBodyH);
  CHECK(r.out == kSigH + "\n");
  const TempFile two_lines(kKey + "\n\n");
  const auto kept =
      run(cmd_sign,
          {"--secret-file", two_lines.path(), "--scheme", "header", "--output", "signature", "-"},
          kBodyH);
  CHECK(kept.code == 0);
  CHECK(kept.out != kSigH + "\n");
}
