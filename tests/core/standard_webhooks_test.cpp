// Tests include/webhook/core/standard_webhooks.hpp against the Standard Webhooks spec.
#include "webhook/core/standard_webhooks.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <string>

using namespace webhook::core;

namespace {

// The signing vector published with the spec's reference libraries.
const std::string kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kSpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kSpecTimestamp = 1614265330;
const std::string kSpecBody = R"({"test": 2432232314})";
const std::string kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

const std::string kSecret = "whsec_" + base64_encode("a test-only forward secret, 32b!");
const std::string kId = "evt_production_42";
constexpr std::int64_t kNow = 1'700'000'000;
const std::string kBody = R"({"event":"Transaction.Captured","data":{"id":"t1"}})";

}  // namespace

TEST_CASE("signs the spec's test vector", "[standard_webhooks]") {
  CHECK(standard_webhooks_signature(kSpecSecret, kSpecId, kSpecTimestamp, kSpecBody) ==
        kSpecSignature);
  CHECK(verify_standard_webhooks(kSpecSecret, kSpecId, kSpecTimestamp, kSpecBody, kSpecSignature,
                                 kSpecTimestamp));
}

TEST_CASE("verifies what it signs", "[standard_webhooks]") {
  const std::string sig = standard_webhooks_signature(kSecret, kId, kNow, kBody);
  REQUIRE(sig.starts_with("v1,"));
  CHECK(sig.size() == 3 + 44);  // 32 bytes in padded base64
  CHECK(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow));
}

TEST_CASE("rejects a tampered body, id or timestamp", "[standard_webhooks]") {
  const std::string sig = standard_webhooks_signature(kSecret, kId, kNow, kBody);
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody + " ", sig, kNow));
  CHECK_FALSE(verify_standard_webhooks(kSecret, "evt_production_43", kNow, kBody, sig, kNow));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow + 1, kBody, sig, kNow));
}

TEST_CASE("rejects a signature made with another secret", "[standard_webhooks]") {
  const std::string other = "whsec_" + base64_encode("another test-only secret........");
  const std::string sig = standard_webhooks_signature(other, kId, kNow, kBody);
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow));
}

TEST_CASE("rejects a timestamp outside the tolerance either way", "[standard_webhooks]") {
  const std::string sig = standard_webhooks_signature(kSecret, kId, kNow, kBody);
  CHECK(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow + 300));
  CHECK(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow - 300));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow + 301));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow - 301));
  CHECK(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow + 3600, 3600));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, sig, kNow, -1));
  const std::int64_t far = std::numeric_limits<std::int64_t>::min();
  const std::string far_sig = standard_webhooks_signature(kSecret, kId, far, kBody);
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, far, kBody, far_sig,
                                       std::numeric_limits<std::int64_t>::max()));
}

TEST_CASE("accepts any valid v1 signature among several", "[standard_webhooks]") {
  const std::string sig = standard_webhooks_signature(kSecret, kId, kNow, kBody);
  const std::string bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
  const std::string other_version = "v2," + sig.substr(3);
  CHECK(verify_standard_webhooks(kSecret, kId, kNow, kBody,
                                 bogus + " " + other_version + " " + sig + " " + bogus, kNow));
  CHECK_FALSE(
      verify_standard_webhooks(kSecret, kId, kNow, kBody, bogus + " " + other_version, kNow));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, "", kNow));
  CHECK_FALSE(verify_standard_webhooks(kSecret, kId, kNow, kBody, "v1,!!!! v1 ,", kNow));
}

TEST_CASE("uses a secret without the whsec_ prefix as raw key bytes", "[standard_webhooks]") {
  // The spec vector's base64 text used raw is a different key than its decoding.
  const std::string raw = kSpecSecret.substr(6);
  const std::string sig = standard_webhooks_signature(raw, kSpecId, kSpecTimestamp, kSpecBody);
  CHECK(sig != kSpecSignature);
  CHECK(verify_standard_webhooks(raw, kSpecId, kSpecTimestamp, kSpecBody, sig, kSpecTimestamp));
  CHECK(standard_webhooks_key("plain-shared-secret") == std::string("plain-shared-secret"));
  // Equivalent: the raw bytes base64-encoded behind whsec_.
  CHECK(standard_webhooks_signature("whsec_" + base64_encode(raw), kSpecId, kSpecTimestamp,
                                    kSpecBody) == sig);
}

TEST_CASE("a whsec_ secret that is not base64 signs nothing and verifies nothing",
          "[standard_webhooks]") {
  CHECK_FALSE(standard_webhooks_key("whsec_not base64!").has_value());
  CHECK_FALSE(standard_webhooks_key("whsec_").has_value());
  CHECK(standard_webhooks_signature("whsec_not base64!", kId, kNow, kBody).empty());
  CHECK_FALSE(verify_standard_webhooks("whsec_not base64!", kId, kNow, kBody, "v1,", kNow));
}

TEST_CASE("base64 round-trips every padding length and rejects bad input", "[standard_webhooks]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    CHECK(base64_decode(base64_encode(s)) == s);
  }
  CHECK_FALSE(base64_decode("Zg=").has_value());       // length
  CHECK_FALSE(base64_decode("Zh==").has_value());      // non-zero trailing bits
  CHECK_FALSE(base64_decode("Z===").has_value());      // too much padding
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value());  // padding in the middle
  CHECK_FALSE(base64_decode("Zm9v\n").has_value());
  CHECK_FALSE(base64_decode("Zm-_").has_value());  // URL-safe alphabet is not accepted
}
