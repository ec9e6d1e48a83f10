#pragma once
// Private to core: the fields a projection keeps, read from one transaction or customer object.
// The webhook path (projection.cpp, the object a payload's shape chooses) and the API client
// (conomy_api.cpp, the object GET /payments/{id} answers) read through the same two functions,
// so a reconciled record holds exactly the fields a webhook would have given it.

#include "core/json_text.hpp"
#include "webhook/core/projection.hpp"

namespace webhook::core {

// The facts of a transaction object; occurred_at_ms is left nullopt (the caller's to set).
// transaction_id is "" when the object has no usable id.
PaymentFacts payment_object_facts(const json_text::Value& transaction);
// The facts of a customer object, likewise.
CustomerFacts customer_object_facts(const json_text::Value& customer);

}  // namespace webhook::core
