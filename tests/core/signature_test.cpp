// Tests include/webhook/core/signature.hpp against conomy/WEBHOOKS.md section 2.
#include "webhook/core/signature.hpp"

#include <catch2/catch.hpp>

#include "support/conomy_vectors.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace webhook::core;

namespace {

using namespace webhook::testing::vectors;

// `compact` (ending in '}') with `,"signature":"<sig>"` added before its last brace.
std::string with_signature(const std::string& compact, const std::string& sig) {
  return compact.substr(0, compact.size() - 1) + R"(,"signature":")" + sig + "\"}";
}

const std::string kSignedB = with_signature(kMessageB, kSigB);

VerifyResult verify(const std::string& body, std::vector<std::string_view> headers = {},
                    VerifyPolicy policy = {}, std::vector<std::string> keys = {kKey}) {
  return verify_signature(keys, SignedDelivery{body, headers}, policy);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::filesystem::path> fixture_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(WEBHOOK_EXAMPLES_DIR)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 32) : c; });
  return s;
}

std::string flip_last_hex(std::string sig) {
  sig.back() = sig.back() == '0' ? '1' : '0';
  return sig;
}

}  // namespace

// ---- primitives ----------------------------------------------------------------------------

TEST_CASE("computes the documented HMAC-SHA256 test vectors", "[signature][primitives]") {
  CHECK(sign_header(kKey, kMessageB) == kSigB);
  CHECK(sign_header(kKey, kBodyH) == kSigH);
  CHECK(to_hex(hmac_sha256(kKey, kBodyH)) == kSigH);
}

TEST_CASE("computes SHA-256 of a known message", "[signature][primitives]") {
  CHECK(to_hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("reads exactly 64 hex digits of either case into a digest", "[signature][primitives]") {
  const auto lower = parse_hex_digest(kSigH);
  REQUIRE(lower);
  CHECK(to_hex(*lower) == kSigH);
  const auto upper_case = parse_hex_digest(upper(kSigH));
  REQUIRE(upper_case);
  CHECK(*upper_case == *lower);

  CHECK_FALSE(parse_hex_digest(""));
  CHECK_FALSE(parse_hex_digest(kSigH.substr(0, 63)));
  CHECK_FALSE(parse_hex_digest(kSigH + "0"));
  CHECK_FALSE(parse_hex_digest(" " + kSigH.substr(1)));
  CHECK_FALSE(parse_hex_digest("g" + kSigH.substr(1)));
}

TEST_CASE("compares digests in constant time and lengths first", "[signature][primitives]") {
  const Digest a = sha256("a");
  const Digest b = sha256("b");
  CHECK(constant_time_equal(a, a));
  CHECK_FALSE(constant_time_equal(a, b));
  CHECK_FALSE(constant_time_equal(std::span<const std::uint8_t>(a).first(31), a));
  CHECK(constant_time_equal(std::span<const std::uint8_t>(), std::span<const std::uint8_t>()));
}

TEST_CASE("names every enum value and parses the scheme setting", "[signature][primitives]") {
  CHECK(to_string(SchemeSetting::automatic) == "auto");
  CHECK(to_string(Scheme::body) == "body");
  CHECK(to_string(BodyCandidate::compact_event_data) == "compact_event_data");
  CHECK(to_string(VerifyStatus::duplicate_header) == "duplicate_header");
  CHECK(to_string(VerifyStatus::unsigned_members) == "unsigned_members");
  CHECK(parse_scheme_setting("auto") == SchemeSetting::automatic);
  CHECK(parse_scheme_setting("header") == SchemeSetting::header);
  CHECK(parse_scheme_setting("body") == SchemeSetting::body);
  CHECK_FALSE(parse_scheme_setting("both"));
}

// ---- the documented vectors --------------------------------------------------------------------

TEST_CASE("verifies the documented body-scheme vector by raw strip", "[signature][body]") {
  CHECK(raw_strip(kSignedB) == kMessageB);
  const auto r = verify(kSignedB);
  CHECK(r.ok());
  CHECK(r.scheme == Scheme::body);
  CHECK(r.candidate == BodyCandidate::raw_strip);
  CHECK(r.key_slot == 0);
  CHECK_FALSE(r.both_present);
}

TEST_CASE("does not accept the pretty-printed (B4) signature by default", "[signature][body]") {
  const auto r = verify(with_signature(kMessageB, kSigB4Pretty));
  CHECK(r.status == VerifyStatus::bad_signature);
  CHECK(r.key_slot == -1);
}

TEST_CASE("verifies the documented header-scheme vector", "[signature][header]") {
  const auto r = verify(kBodyH, {kSigH});
  CHECK(r.ok());
  CHECK(r.scheme == Scheme::header);
  CHECK(r.candidate == BodyCandidate::none);
  CHECK(r.key_slot == 0);
}

// ---- tampering, keys and header format ---------------------------------------------------------

TEST_CASE("rejects a body with one changed byte", "[signature][header][body]") {
  std::string header_body = kBodyH;
  header_body[header_body.find("BASIC")] = 'b';
  CHECK(verify(header_body, {kSigH}).status == VerifyStatus::bad_signature);
  CHECK(verify(kBodyH + " ", {kSigH}).status == VerifyStatus::bad_signature);

  std::string body = kSignedB;
  body[body.find("125000")] = '2';
  CHECK(verify(body).status == VerifyStatus::bad_signature);
}

TEST_CASE("rejects a signature with one changed hex digit", "[signature][header][body]") {
  CHECK(verify(kBodyH, {flip_last_hex(kSigH)}).status == VerifyStatus::bad_signature);
  CHECK(verify(with_signature(kMessageB, flip_last_hex(kSigB))).status ==
        VerifyStatus::bad_signature);
}

TEST_CASE("rejects a signature computed with another secret", "[signature][header][body]") {
  CHECK(verify(kBodyH, {kSigH}, {}, {kOtherKey}).status == VerifyStatus::bad_signature);
  CHECK(verify(kSignedB, {}, {}, {kOtherKey}).status == VerifyStatus::bad_signature);
  CHECK(verify(kSignedB, {}, {}, {}).status == VerifyStatus::bad_signature);
}

TEST_CASE("reports the slot of a rotated key", "[signature][header][body]") {
  const std::vector<std::string> keys = {kOtherKey, kKey};
  const auto h = verify(kBodyH, {kSigH}, {}, keys);
  CHECK(h.ok());
  CHECK(h.key_slot == 1);
  const auto b = verify(kSignedB, {}, {}, keys);
  CHECK(b.ok());
  CHECK(b.key_slot == 1);
}

TEST_CASE("accepts upper-case hex signatures", "[signature][header][body]") {
  CHECK(verify(kBodyH, {upper(kSigH)}).ok());
  CHECK(verify(with_signature(kMessageB, upper(kSigB))).ok());
}

TEST_CASE("trims ASCII whitespace around the header value", "[signature][header]") {
  const std::string padded = " \t" + kSigH + " \r\n";
  CHECK(verify(kBodyH, {padded}).ok());
  const std::string inner = kSigH.substr(0, 10) + " " + kSigH.substr(10);
  CHECK(verify(kBodyH, {inner}).status == VerifyStatus::bad_signature);
}

TEST_CASE("accepts a sha256= prefix only when the policy allows it", "[signature][header]") {
  const std::string prefixed = "sha256=" + kSigH;
  CHECK(verify(kBodyH, {prefixed}).status == VerifyStatus::bad_signature);
  VerifyPolicy policy;
  policy.allow_sha256_prefix = true;
  CHECK(verify(kBodyH, {prefixed}, policy).ok());
  CHECK(verify(kBodyH, {kSigH}, policy).ok());
}

TEST_CASE("reports a missing signature when neither scheme carries one", "[signature]") {
  CHECK(verify(kBodyH).status == VerifyStatus::missing_signature);
  CHECK(verify(kMessageB).status == VerifyStatus::missing_signature);
  VerifyPolicy header_only;
  header_only.scheme = SchemeSetting::header;
  CHECK(verify(kSignedB, {}, header_only).status == VerifyStatus::missing_signature);
  VerifyPolicy body_only;
  body_only.scheme = SchemeSetting::body;
  CHECK(verify(kBodyH, {kSigH}, body_only).status == VerifyStatus::missing_signature);
}

TEST_CASE("rejects a duplicated signature header even when both values are valid",
          "[signature][header]") {
  CHECK(verify(kBodyH, {kSigH, kSigH}).status == VerifyStatus::duplicate_header);
  CHECK(verify(kSignedB, {kSigH, kSigH}).status == VerifyStatus::duplicate_header);
}

// ---- scheme choice ----------------------------------------------------------------------------

TEST_CASE("accepts either scheme when both are present and flags a partial match",
          "[signature][both]") {
  const std::string header_sig = sign_header(kKey, kSignedB);

  const auto both = verify(kSignedB, {header_sig});
  CHECK(both.ok());
  CHECK(both.both_present);
  CHECK_FALSE(both.partial_match);
  CHECK(both.scheme == Scheme::header);

  const auto body_only = verify(kSignedB, {flip_last_hex(header_sig)});
  CHECK(body_only.ok());
  CHECK(body_only.partial_match);
  CHECK(body_only.scheme == Scheme::body);
  CHECK(body_only.candidate == BodyCandidate::raw_strip);

  const std::string bad_body = with_signature(kMessageB, flip_last_hex(kSigB));
  const auto header_only = verify(bad_body, {sign_header(kKey, bad_body)});
  CHECK(header_only.ok());
  CHECK(header_only.partial_match);
  CHECK(header_only.scheme == Scheme::header);
}

TEST_CASE("requires every present scheme to verify under require_all", "[signature][both]") {
  VerifyPolicy policy;
  policy.require_all_when_both = true;
  const std::string header_sig = sign_header(kKey, kSignedB);
  CHECK(verify(kSignedB, {header_sig}, policy).ok());

  const auto r = verify(kSignedB, {flip_last_hex(header_sig)}, policy);
  CHECK(r.status == VerifyStatus::bad_signature);
  CHECK(r.both_present);
  CHECK(r.partial_match);
  CHECK(r.scheme == Scheme::none);
  // With only one scheme present, require_all has nothing more to demand.
  CHECK(verify(kSignedB, {}, policy).ok());
}

TEST_CASE("a header-only policy ignores the body signature and a body-only policy the header",
          "[signature][both]") {
  VerifyPolicy header_only;
  header_only.scheme = SchemeSetting::header;
  const std::string bad_body = with_signature(kMessageB, flip_last_hex(kSigB));
  const auto h = verify(bad_body, {sign_header(kKey, bad_body)}, header_only);
  CHECK(h.ok());
  CHECK_FALSE(h.both_present);

  VerifyPolicy body_only;
  body_only.scheme = SchemeSetting::body;
  const auto b = verify(kSignedB, {"not-a-signature", "twice"}, body_only);
  CHECK(b.ok());
  CHECK(b.scheme == Scheme::body);
  CHECK_FALSE(b.both_present);
}

// ---- body scheme rules ------------------------------------------------------------------------

TEST_CASE("a nested signature member is payload data", "[signature][body]") {
  const std::string nested = R"({"event":"X","data":{"provider":{"signature":"abc"}}})";
  CHECK(verify(nested).status == VerifyStatus::missing_signature);
  CHECK_FALSE(raw_strip(nested));

  const std::string hex = sign_header(kKey, nested);
  const std::string signed_body = with_signature(nested, hex);
  CHECK(raw_strip(signed_body) == nested);
  CHECK(compact_json(signed_body, true) == nested);
  const auto r = verify(signed_body);
  CHECK(r.ok());
  CHECK(r.candidate == BodyCandidate::raw_strip);
}

TEST_CASE("verifies a pretty-printed body that was signed compact (B2)", "[signature][body]") {
  const std::string pretty =
      "{\n  \"event\": \"Transaction.Captured\",\n  \"signature\": \"" + kSigB +
      "\",\n  \"data\": {\n    \"transaction\": {\n      \"id\": \"65f1a0c2b7e4d9a1c3e5f701\",\n"
      "      \"purchaseAmount\": \"125000\",\n      \"totalAmount\": \"125000\",\n"
      "      \"externalId\": \"order-20260501-0001\",\n      \"currency\": \"COP\",\n"
      "      \"status\": \"CAPTURED\"\n    }\n  }\n}\n";
  CHECK(compact_json(pretty, true) == kMessageB);
  const auto r = verify(pretty);
  CHECK(r.ok());
  CHECK(r.candidate == BodyCandidate::compact_ordered);
}

TEST_CASE("an extra top-level member verifies by B2 when signed and never by B3",
          "[signature][body]") {
  const std::string pretty_extra =
      "{\n  \"event\": \"E\",\n  \"data\": {\"n\": 1},\n  \"meta\": {\"v\": 2},\n"
      "  \"signature\": \"%\"\n}";
  auto body_with = [&](const std::string& sig) {
    std::string b = pretty_extra;
    b.replace(b.find('%'), 1, sig);
    return b;
  };
  const std::string b2 = R"({"event":"E","data":{"n":1},"meta":{"v":2}})";
  const std::string b3 = R"({"event":"E","data":{"n":1}})";
  CHECK(compact_event_data(body_with(kSigB)) == b3);

  const auto signed_all = verify(body_with(sign_header(kKey, b2)));
  CHECK(signed_all.ok());
  CHECK(signed_all.candidate == BodyCandidate::compact_ordered);

  // B3 signs only "event" and "data": "meta" would be believed without being signed.
  const auto signed_event_data = verify(body_with(sign_header(kKey, b3)));
  CHECK_FALSE(signed_event_data.ok());
  CHECK(signed_event_data.status == VerifyStatus::unsigned_members);
  CHECK(signed_event_data.candidate == BodyCandidate::none);
}

TEST_CASE("B3 verifies a body of event, data and signature alone, in any order",
          "[signature][body]") {
  const std::string b3 = R"({"event":"E","data":{"n":1}})";
  const std::string reordered =
      R"({ "data" : {"n": 1}, "signature": ")" + sign_header(kKey, b3) + R"(", "event": "E" })";
  const auto r = verify(reordered);
  CHECK(r.ok());
  CHECK(r.candidate == BodyCandidate::compact_event_data);
}

TEST_CASE("issue 10: a captured body-signed delivery plus unsigned members does not verify",
          "[signature][body][forgery]") {
  // The attack of issue 10 defect 1, on the documented vector: append members before the
  // signature. B1 and B2 now cover them and fail; B3 matches but covers only event and data.
  for (const std::string& extra :
       {std::string(R"(,"eventType":"transaction.status_changed","timestamp":)"
                    R"("2099-01-01T00:00:00Z","transaction":{"id":"VICTIM","status":"SETTLED"})"),
        std::string(R"(,"customer":{"id":"VICTIM","operationLevel":"FULL"})"),
        std::string(R"(,"event":"Transaction.Failed")"), std::string(R"(,"x":null)")}) {
    INFO(extra);
    std::string forged = kSignedB;
    forged.insert(forged.find(R"(,"signature")"), extra);
    const auto r = verify(forged);
    CHECK_FALSE(r.ok());
    CHECK((r.status == VerifyStatus::unsigned_members || r.status == VerifyStatus::bad_signature));
  }
  CHECK(verify(kSignedB).ok());
}

TEST_CASE("B3 needs exactly one event and one data member", "[signature][body]") {
  CHECK_FALSE(compact_event_data(R"({"eventType":"x","data":{}})"));
  CHECK_FALSE(compact_event_data(R"({"event":"x"})"));
  CHECK_FALSE(compact_event_data(R"({"event":"x","data":1,"data":2})"));
  CHECK_FALSE(compact_event_data("[]"));
  CHECK(compact_event_data(R"({ "data" : [1, 2], "x": 0, "event" : "e" })") ==
        R"({"event":"e","data":[1,2]})");
}

TEST_CASE("rejects a body with two top-level signature members", "[signature][body]") {
  const std::string twice = with_signature(kSignedB, kSigB);
  CHECK(verify(twice).status == VerifyStatus::bad_signature);
  CHECK_FALSE(raw_strip(twice));
  CHECK_FALSE(sign_body(kKey, twice));
  // An escaped spelling of the key is still the same key.
  const std::string escaped = kMessageB.substr(0, kMessageB.size() - 1) + R"(,"sign\u0061ture":")" +
                              kSigB + R"(","signature":")" + kSigB + "\"}";
  CHECK(verify(escaped).status == VerifyStatus::bad_signature);
}

TEST_CASE("rejects a signature member that is not a 64-hex-digit string", "[signature][body]") {
  const std::string prefix = kMessageB.substr(0, kMessageB.size() - 1) + R"(,"signature":)";
  for (const std::string& value :
       {std::string("123"), std::string("null"), std::string("[\"" + kSigB + "\"]"),
        "\"" + kSigB.substr(1) + "\"", "\"" + kSigB + "0\"", "\"sha256=" + kSigB + "\"",
        "\" " + kSigB.substr(1) + "\""}) {
    INFO(value);
    CHECK(verify(prefix + value + "}").status == VerifyStatus::bad_signature);
  }
}

TEST_CASE("reports malformed JSON when the body scheme cannot read the body", "[signature][body]") {
  VerifyPolicy body_only;
  body_only.scheme = SchemeSetting::body;
  for (const std::string& body :
       {std::string("not json"), std::string(""), std::string("[1,2]"), std::string("\"s\""),
        kSignedB + "x", kSignedB.substr(0, kSignedB.size() - 1), std::string("{\"a\":1,}")}) {
    INFO(body);
    CHECK(verify(body, {}, body_only).status == VerifyStatus::malformed_json);
    CHECK(verify(body).status == VerifyStatus::malformed_json);
  }
  // A header still verifies a body that is not JSON at all.
  const std::string raw = "plain text";
  CHECK(verify(raw, {sign_header(kKey, raw)}).ok());
  CHECK(verify(raw, {sign_header(kKey, raw)}, body_only).status == VerifyStatus::malformed_json);
}

TEST_CASE("never throws on truncated or corrupted deliveries", "[signature][robustness]") {
  const std::string header_sig = sign_header(kKey, kSignedB);
  for (std::size_t n = 0; n <= kSignedB.size(); ++n) {
    const std::string cut = kSignedB.substr(0, n);
    CHECK_NOTHROW(verify(cut));
    CHECK_NOTHROW(verify(cut, {header_sig}));
    std::string corrupted = kSignedB;
    if (n < corrupted.size()) corrupted[n] = '\x80';
    CHECK_NOTHROW(verify(corrupted));
    CHECK_NOTHROW(sign_body(kKey, corrupted));
  }
  CHECK_FALSE(compact_json(std::string(5000, '['), false));
}

// ---- compact re-serialisation (JSON.stringify rules) -----------------------------------------

TEST_CASE("compact JSON escapes only quote, backslash and control characters as JS does",
          "[signature][compact]") {
  CHECK(compact_json(R"({ "a" : "q\"b\\s\/" , "c" : [ 1 , true , false , null ] })", false) ==
        R"({"a":"q\"b\\s/","c":[1,true,false,null]})");
  CHECK(compact_json(R"(["\b\f\n\r\t", "\u0000\u0001\u001F\u007f", "\u0022\u005C\u002F"])",
                     false) == "[\"\\b\\f\\n\\r\\t\",\"\\u0000\\u0001\\u001f\x7f\",\"\\\"\\\\/\"]");
  CHECK(compact_json(R"(["\u0008\u0009\u000A\u000c\u000D", "\u000b"])", false) ==
        R"(["\b\t\n\f\r","\u000b"])");
}

TEST_CASE("compact JSON writes non-ASCII text as raw UTF-8", "[signature][compact]") {
  // \u00e9 and a raw é give the same bytes; a surrogate pair becomes one 4-byte character.
  CHECK(compact_json(R"({"n":"Jos\u00e9","m":"José"})", false) ==
        "{\"n\":\"Jos\xC3\xA9\",\"m\":\"Jos\xC3\xA9\"}");
  CHECK(compact_json(R"(["\ud83d\ude00", "\uD83D\uDE00"])", false) ==
        "[\"\xF0\x9F\x98\x80\",\"\xF0\x9F\x98\x80\"]");
  CHECK(compact_json(R"(["\u20ac", "\u2028"])", false) == "[\"\xE2\x82\xAC\",\"\xE2\x80\xA8\"]");
}

TEST_CASE("compact JSON writes lone surrogates as lowercase escapes", "[signature][compact]") {
  CHECK(compact_json(R"(["\uD800", "a\uDFFFb", "\uD83Dx", "\uD83D\u0041"])", false) ==
        R"(["\ud800","a\udfffb","\ud83dx","\ud83dA"])");
}

TEST_CASE("compact JSON keeps numbers as received", "[signature][compact]") {
  const std::string received =
      R"({"a": 1.50, "b": -0, "c": 1E+21, "d": 12345678901234567890123, "e": 0.1e-7})";
  CHECK(compact_json(received, false) ==
        R"({"a":1.50,"b":-0,"c":1E+21,"d":12345678901234567890123,"e":0.1e-7})");
}

TEST_CASE("verifies escaped unicode in a body signed as JS would", "[signature][body]") {
  const std::string as_js =
      "{\"event\":\"E\",\"data\":{\"name\":\"Jos\xC3\xA9 \xF0\x9F\x98\x80\","
      "\"url\":\"a/b\",\"amount\":1.50}}";
  const std::string received =
      R"({"event": "E", "data": {"name": "Jos\u00e9 \ud83d\ude00", "url": "a\/b", "amount": 1.50},)"
      R"( "signature": ")" +
      sign_header(kKey, as_js) + "\"}";
  CHECK(compact_json(received, true) == as_js);
  const auto r = verify(received);
  CHECK(r.ok());
  CHECK(r.candidate == BodyCandidate::compact_ordered);
}

TEST_CASE("rejects invalid JSON instead of re-serialising it", "[signature][compact]") {
  for (const std::string& bad : {std::string("{\"a\":01}"),
                                 std::string("{\"a\":1.}"),
                                 std::string("{\"a\":.5}"),
                                 std::string("{\"a\":+1}"),
                                 std::string("{\"a\":-}"),
                                 std::string("{\"a\":1e}"),
                                 std::string("{\"a\":\"\x01\"}"),
                                 std::string("{\"a\":\"\\x\"}"),
                                 std::string("{\"a\":\"\\u12\"}"),
                                 std::string("{\"a\":tru}"),
                                 std::string("{'a':1}"),
                                 std::string("{\"a\":1}}"),
                                 std::string("{\"a\" 1}"),
                                 std::string("[1,]"),
                                 std::string("\xEF\xBB\xBF{}"),
                                 std::string("{\"a\":\"\xC0\x80\"}"),
                                 std::string("{\"a\":\"\xED\xA0\x80\"}"),
                                 std::string("{\"a\":\"\xF5\x80\x80\x80\"}"),
                                 std::string("{\"a\":\"\xE2\x82\"}"),
                                 std::string("{\"a\":\"\xC3\"}")}) {
    INFO(bad);
    CHECK_FALSE(compact_json(bad, false));
    CHECK_FALSE(compact_json(bad, true));
    CHECK_FALSE(sign_body(kKey, bad));
  }
  CHECK(compact_json(std::string(200, '[') + std::string(200, ']'), false));
  CHECK_FALSE(compact_json(std::string(300, '[') + std::string(300, ']'), false));
}

// ---- raw strip and signing ---------------------------------------------------------------------

TEST_CASE("raw strip removes the member, one comma and the whitespace toward its neighbour",
          "[signature][raw_strip]") {
  CHECK(raw_strip("{\n  \"a\": 1,\n  \"signature\": \"x\"\n}") == "{\n  \"a\": 1\n}");
  CHECK(raw_strip("{\n  \"signature\": \"x\" ,\n  \"a\": 1\n}") == "{\n  \"a\": 1\n}");
  CHECK(raw_strip("{\"a\":1 , \"signature\" : \"x\" , \"b\":2}") == "{\"a\":1 , \"b\":2}");
  CHECK(raw_strip(" { \"signature\":\"x\" } ") == " {  } ");
  CHECK(raw_strip("{\"a\":{\"signature\":\"n\"},\"signature\":[1]}") ==
        "{\"a\":{\"signature\":\"n\"}}");
  CHECK_FALSE(raw_strip("{\"a\":1}"));
  CHECK_FALSE(raw_strip("[{\"signature\":\"x\"}]"));
}

TEST_CASE("sign_body inserts the signature after the last member", "[signature][sign]") {
  const auto signed_b = sign_body(kKey, kMessageB);
  REQUIRE(signed_b);
  CHECK(*signed_b == kSignedB);

  const auto pretty = sign_body(kKey, "{\n  \"a\": 1\n}\n");
  REQUIRE(pretty);
  CHECK(*pretty ==
        "{\n  \"a\": 1,\"signature\":\"" + sign_header(kKey, "{\n  \"a\": 1\n}\n") + "\"\n}\n");

  const auto empty = sign_body(kKey, "{}");
  REQUIRE(empty);
  CHECK(*empty == "{\"signature\":\"" + sign_header(kKey, "{}") + "\"}");
  CHECK(raw_strip(*empty) == "{}");
  CHECK(verify(*empty).ok());

  CHECK_FALSE(sign_body(kKey, "[]"));
  CHECK_FALSE(sign_body(kKey, "nope"));
}

TEST_CASE("sign_body replaces an existing signature wherever it stands", "[signature][sign]") {
  const std::string first = "{\"signature\":\"old\",\"event\":\"E\",\"data\":{}}";
  const auto resigned = sign_body(kKey, first);
  REQUIRE(resigned);
  CHECK(raw_strip(*resigned) == "{\"event\":\"E\",\"data\":{}}");
  CHECK(verify(*resigned).ok());
  CHECK(sign_body(kKey, *resigned) == resigned);
}

TEST_CASE("sign_body and raw_strip round-trip on every example payload",
          "[signature][sign][fixtures]") {
  const auto files = fixture_files();
  REQUIRE(files.size() >= 12);
  for (const auto& path : files) {
    INFO(path.filename().string());
    const std::string raw = read_file(path);
    const auto compact = compact_json(raw, false);
    REQUIRE(compact);
    for (const std::string& body : {raw, *compact}) {
      const auto signed_body = sign_body(kKey, body);
      REQUIRE(signed_body);
      CHECK(raw_strip(*signed_body) == body);
      CHECK(sign_body(kKey, *signed_body) == signed_body);
      const auto r = verify(*signed_body);
      CHECK(r.ok());
      CHECK(r.candidate == BodyCandidate::raw_strip);
      CHECK_FALSE(verify(*signed_body, {}, {}, {kOtherKey}).ok());
      CHECK(verify(body, {sign_header(kKey, body)}).ok());
    }
  }
}
