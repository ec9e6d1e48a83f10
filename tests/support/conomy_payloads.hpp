#pragma once
// Conomy payloads for tests: the sample deliveries of tests/fixtures/conomy, and small
// transaction and customer events built to order. Shared by the projection tests of every folder.
#include <catch2/catch.hpp>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace webhook::testing {

// One of the sample payloads of tests/fixtures/conomy.
inline std::string conomy_example(const std::string& name) {
  std::ifstream in(std::string(WEBHOOK_EXAMPLES_DIR) + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A transaction event in the eventType shape; `timestamp` "" leaves it out, `extra` adds members
// to the transaction object (",\"k\":\"v\"...").
inline std::string tx_body(const std::string& type, const std::string& id,
                           const std::string& status, const std::string& timestamp,
                           const std::string& extra = "") {
  std::string body = R"({"eventType":")" + type + '"';
  if (!timestamp.empty()) body += R"(,"timestamp":")" + timestamp + '"';
  body += R"(,"transaction":{"id":")" + id + '"';
  if (!status.empty()) body += R"(,"status":")" + status + '"';
  return body + extra + "}}";
}

inline std::string customer_body(const std::string& id, const std::string& level,
                                 std::optional<int> documents, const std::string& timestamp) {
  std::string body = R"({"eventType":"customer.levelChanged")";
  if (!timestamp.empty()) body += R"(,"timestamp":")" + timestamp + '"';
  body += R"(,"customer":{"id":")" + id + R"(","clientId":"demo-client-ar","operationLevel":")" +
          level + '"';
  if (documents) body += R"(,"documentsCount":)" + std::to_string(*documents);
  return body + R"(,"autoCreated":true}})";
}

}  // namespace webhook::testing
