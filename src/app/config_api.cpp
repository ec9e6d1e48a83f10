// conomy_api_options(): a source's "api" settings as the Conomy API client takes them
// (include/webhook/app/config.hpp).

#include <chrono>

#include "webhook/app/config.hpp"
#include "webhook/http/conomy_client.hpp"

namespace webhook::app {

http::ConomyApiOptions conomy_api_options(const SourceConfig& source) {
  const ConomyApiConfig& api = source.api.value();
  http::ConomyApiOptions o;
  o.source = source.name;
  o.base_url = api.base_url;
  o.client_id = api.client_id;
  o.client_secret = {api.client_secret, api.client_secret_file};
  o.api_key = {api.api_key, api.api_key_file};
  o.timeout = std::chrono::milliseconds{api.timeout_ms};
  o.retry.initial = std::chrono::milliseconds{api.retry_initial_ms};
  o.retry.multiplier = 2.0;
  o.retry.max = std::chrono::milliseconds{api.retry_max_ms};
  o.retry.max_attempts = api.retry_max_attempts;
  return o;
}

}  // namespace webhook::app
