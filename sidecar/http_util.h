// Request helpers shared by the route handlers: JSON bodies, typed fields, integer headers, /metrics access.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace chat::sidecar {

// The body as a JSON object; ApiError 400 when malformed or not an object.
nlohmann::json json_object_body(const httplib::Request& req);
// ApiError 400 when the field is missing or not of the expected type.
std::string string_field(const nlohmann::json& body, const char* name);
bool bool_field(const nlohmann::json& body, const char* name);
std::vector<std::string> string_array_field(const nlohmann::json& body, const char* name);
// A non-negative integer header; nullopt when absent, ApiError 400 when malformed.
std::optional<int64_t> int_header(const httplib::Request& req, const char* name);

void send_json(httplib::Response& res, int status, const nlohmann::json& body);

bool is_loopback(const std::string& address);  // 127.0.0.0/8 or ::1
// Who may read /metrics: with no token configured (`token_hash` empty) loopback peers only
// (ApiError 403 otherwise); with one, whoever sends "Bearer <token>" (ApiError 401 otherwise).
void require_metrics_access(const std::string& remote_addr, const std::string& authorization,
                            const std::string& token_hash);

}  // namespace chat::sidecar
