#pragma once
// The signature test vectors of conomy/WEBHOOKS.md section 2.4 (a fictitious key), shared by
// every test that checks signing or verification against them.
#include <string>

namespace webhook::testing::vectors {

// The documented, fictitious test key.
inline const std::string kKey = "whsec_test_only_4f9a2c";
inline const std::string kOtherKey = "whsec_test_only_other_7d1e";

// Scheme B: the compact unsigned message of examples/01 and its signature; the 2-space pretty
// form's signature (candidate B4, off by default).
inline const std::string kMessageB =
    R"({"event":"Transaction.Captured","data":{"transaction":{"id":"65f1a0c2b7e4d9a1c3e5f701",)"
    R"("purchaseAmount":"125000","totalAmount":"125000","externalId":"order-20260501-0001",)"
    R"("currency":"COP","status":"CAPTURED"}}})";
inline const std::string kSigB = "afd69160cccd08c364a5d9a57e685568f39c276f5e76acf88df0e4d06b5f5fcf";
inline const std::string kSigB4Pretty =
    "3a1d83d318d2c76eff1986e034bbb817f0863d934614083479fd9885f6e771dc";

// Scheme H: the compact body of examples/10 and its X-Webhook-Signature value.
inline const std::string kBodyH =
    R"({"eventType":"customer.levelChanged","timestamp":"2026-05-03T13:58:02Z","customer":{)"
    R"("id":"66a2b3c4d5e6f70899990002","clientId":"demo-client-ar","firstName":"Lucia",)"
    R"("lastName":"Ferreyra","email":"lucia.ferreyra@mail.example","documentNumber":)"
    R"("27333444559","operationLevel":"BASIC","autoCreated":true,"documentsCount":1}})";
inline const std::string kSigH = "c37864cf5a08a98e9d2e727ff54aa9dbe26006e14b93da91b57395b9641595ad";

}  // namespace webhook::testing::vectors
