// Typed access to request bodies and headers; every refusal is an ApiError(400).
#include "http_util.h"

#include "api_error.h"
#include "common/identity.h"

#include <charconv>

namespace chat::sidecar {

nlohmann::json json_object_body(const httplib::Request& req) {
    auto body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) throw ApiError(400, "malformed JSON");
    if (!body.is_object()) throw ApiError(400, "expected a JSON object");
    return body;
}

std::string string_field(const nlohmann::json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || !it->is_string()) throw ApiError(400, std::string("field '") + name + "' must be a string");
    return it->get<std::string>();
}

bool bool_field(const nlohmann::json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || !it->is_boolean()) throw ApiError(400, std::string("field '") + name + "' must be a boolean");
    return it->get<bool>();
}

std::vector<std::string> string_array_field(const nlohmann::json& body, const char* name) {
    auto it = body.find(name);
    std::string what = std::string("field '") + name + "' must be an array of strings";
    if (it == body.end() || !it->is_array()) throw ApiError(400, what);
    std::vector<std::string> out;
    for (const auto& v : *it) {
        if (!v.is_string()) throw ApiError(400, what);
        out.push_back(v.get<std::string>());
    }
    return out;
}

std::optional<int64_t> int_header(const httplib::Request& req, const char* name) {
    if (!req.has_header(name)) return std::nullopt;
    std::string v = req.get_header_value(name);
    int64_t out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size() || out < 0) {
        throw ApiError(400, std::string("header ") + name + " must be a non-negative integer");
    }
    return out;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

}  // namespace chat::sidecar

namespace chat::sidecar {

bool is_loopback(const std::string& address) { return address.rfind("127.", 0) == 0 || address == "::1"; }

void require_metrics_access(const std::string& remote_addr, const std::string& authorization,
                            const std::string& token_hash) {
    if (token_hash.empty()) {
        if (!is_loopback(remote_addr)) throw ApiError(403, "metrics are served to loopback peers only");
        return;
    }
    constexpr std::string_view prefix = "Bearer ";
    if (authorization.compare(0, prefix.size(), prefix) != 0 ||
        !token_matches(std::string_view(authorization).substr(prefix.size()), token_hash)) {
        throw ApiError(401, "metrics need Authorization: Bearer <metrics token>");
    }
}

}  // namespace chat::sidecar
