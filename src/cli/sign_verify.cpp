// `sign` and `verify`: the offline side of the signature schemes (conomy/WEBHOOKS.md section 2).
//  sign:   secret + payload -> a signed delivery (curl config, signed body, or the signature).
//  verify: secrets (rotation order) + captured body [+ header] -> authentic or not.
// Secrets are read from the flag, an environment variable or a file, and are never written to
// any stream: error messages name the flag, the variable or the path, never the value.

#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/secrets.hpp"
#include "webhook/core/signature.hpp"

namespace webhook::cli {
namespace {

constexpr const char* kSignUsage =
    "usage: webhook-receiver sign (--secret S | --secret-env NAME | --secret-file F)\n"
    "                             --scheme header|body [--compact]\n"
    "                             [--output curl|body|signature] FILE|-\n"
    "\n"
    "Signs the payload in FILE (or stdin for -) as the platform would.\n"
    "  --scheme header   HMAC-SHA256 of the exact bytes, sent as X-Webhook-Signature\n"
    "  --scheme body     a top-level \"signature\" member over the body without it\n"
    "  --compact         first rewrite the payload as compact JSON (key order kept)\n"
    "  --output curl     (default) a config for `curl -K -`, e.g.\n"
    "                      webhook-receiver sign ... FILE | curl -K - http://127.0.0.1:8080/PATH\n"
    "  --output body     the body to send, byte-exact (header scheme: unchanged)\n"
    "  --output signature  only the hex signature\n"
    "--secret-file reads the file minus one trailing line ending. Prefer --secret-env or\n"
    "--secret-file: a --secret value is visible in the process list.\n"
    "Exit codes: 0 signed, 1 payload unusable (not JSON where JSON is needed), 2 usage.\n";

constexpr const char* kVerifyUsage =
    "usage: webhook-receiver verify (--secret S | --secret-env NAME | --secret-file F)...\n"
    "                               [--header SIG]... [--scheme auto|header|body]\n"
    "                               [--require-all] [--allow-sha256-prefix] FILE|-\n"
    "\n"
    "Checks a captured delivery body (FILE, or stdin for -) and X-Webhook-Signature value(s).\n"
    "Repeat the secret flags to try several keys; key_slot counts them in command-line order.\n"
    "  --require-all          when header and body signatures are both present, need both\n"
    "  --allow-sha256-prefix  accept a \"sha256=\" prefix on the header value\n"
    "Prints `authentic: scheme=... candidate=... key_slot=N` and exits 0, or\n"
    "`not authentic: <status>` and exits 1. Usage errors exit 2.\n";

// The payload named by the single positional argument ("-" = `in`).
std::string read_payload(const Args& args, std::istream& in) {
  const auto& files = args.positionals();
  if (files.empty()) throw UsageError("needs a payload FILE (or - for stdin)");
  if (files.size() > 1) {
    throw UsageError("takes one payload FILE, got " + std::to_string(files.size()));
  }
  if (files[0] == "-") return read_all(in);
  std::ifstream file(files[0], std::ios::binary);
  if (!file) throw UsageError("cannot read payload file " + files[0]);
  return read_all(file);
}

// `text` as a double-quoted curl config parameter. Inside quotes curl knows only the escapes
// \\ \" \t \n \r \v (a backslash before anything else is dropped); other bytes pass unchanged.
std::string curl_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// A `curl -K -` config that POSTs `body` byte-exact with `signature_header` (if any).
std::string curl_config(std::string_view body, std::string_view signature_header) {
  std::string config = "request = \"POST\"\nheader = \"Content-Type: application/json\"\n";
  if (!signature_header.empty()) {
    config += "header = \"";
    config += core::kSignatureHeader;
    config += ": ";
    config += signature_header;
    config += "\"\n";
  }
  // --data-binary would read a file for a body starting with '@'; --data-raw never does.
  config += body.starts_with('@') ? "data-raw = " : "data-binary = ";
  config += curl_quote(body);
  config += '\n';
  return config;
}

int sign(const ArgList& argv, Io io) {
  const std::set<std::string> valued = {"--secret", "--secret-env", "--secret-file", "--scheme",
                                        "--output"};
  const Args args(argv, valued, {"--compact"});
  if (args.has("--help")) {
    io.out << kSignUsage;
    return 0;
  }
  const std::string scheme = args.require("--scheme");
  if (scheme != "header" && scheme != "body") throw UsageError("--scheme must be header or body");
  const std::string output = args.get("--output").value_or("curl");
  if (output != "curl" && output != "body" && output != "signature") {
    throw UsageError("--output must be curl, body or signature");
  }
  const auto secrets = collect_secrets(argv, valued);
  if (secrets.size() != 1) {
    throw UsageError("takes exactly one of --secret, --secret-env, --secret-file");
  }
  std::string body = read_payload(args, io.in);

  if (args.has("--compact")) {
    auto compact = core::compact_json(body, false);
    if (!compact) {
      return report_failure(io.err, "sign", "the payload is not valid JSON (--compact)");
    }
    body = std::move(*compact);
  }

  std::string signature;
  if (scheme == "header") {
    signature = core::sign_header(secrets[0], body);
  } else {
    auto signed_body = core::sign_body(secrets[0], body);
    if (!signed_body) {
      return report_failure(io.err, "sign",
                            "the body scheme needs a JSON object with at most one top-level "
                            "\"signature\"");
    }
    body = std::move(*signed_body);
    signature = core::sign_header(secrets[0], core::raw_strip(body).value_or(std::string()));
  }

  if (output == "signature") {
    io.out << signature << '\n';
  } else if (output == "body") {
    io.out.write(body.data(), static_cast<std::streamsize>(body.size()));
  } else {
    if (body.find('\0') != std::string::npos) {
      return report_failure(io.err, "sign",
                            "a curl config cannot carry a NUL byte; use --output body and curl "
                            "--data-binary @FILE");
    }
    io.out << curl_config(body, scheme == "header" ? signature : std::string());
  }
  io.out.flush();
  return 0;
}

int verify(const ArgList& argv, Io io) {
  const std::set<std::string> valued = {"--secret", "--secret-env", "--secret-file", "--header",
                                        "--scheme"};
  const Args args(argv, valued, {"--require-all", "--allow-sha256-prefix"});
  if (args.has("--help")) {
    io.out << kVerifyUsage;
    return 0;
  }
  core::VerifyPolicy policy;
  if (const auto scheme = args.get("--scheme")) {
    const auto setting = core::parse_scheme_setting(*scheme);
    if (!setting) throw UsageError("--scheme must be auto, header or body");
    policy.scheme = *setting;
  }
  policy.require_all_when_both = args.has("--require-all");
  policy.allow_sha256_prefix = args.has("--allow-sha256-prefix");
  const auto secrets = collect_secrets(argv, valued);
  const std::string body = read_payload(args, io.in);
  const auto header_values = args.all("--header");
  const std::vector<std::string_view> headers(header_values.begin(), header_values.end());

  const auto result = core::verify_signature(secrets, core::SignedDelivery{body, headers}, policy);
  if (!result.ok()) {
    io.out << "not authentic: " << core::to_string(result.status) << '\n';
    if (result.partial_match) io.out << "  (only one of the header and body signatures matched)\n";
    return kExitFailure;
  }
  io.out << "authentic: scheme=" << core::to_string(result.scheme)
         << " candidate=" << core::to_string(result.candidate) << " key_slot=" << result.key_slot
         << '\n';
  if (result.partial_match) {
    io.err << "warning: header and body signatures were both present and only one matched\n";
  }
  return 0;
}

}  // namespace

int cmd_sign(const ArgList& argv, Io io) {
  return guarded(io.err, "sign", [&] { return sign(argv, io); });
}

int cmd_verify(const ArgList& argv, Io io) {
  return guarded(io.err, "verify", [&] { return verify(argv, io); });
}

}  // namespace webhook::cli
