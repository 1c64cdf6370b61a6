// Status outbox bodies as JSON, the status body in base64 (it may be binary ciphertext).
#include "status_outbox.h"

#include "base64.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace chat {

std::string status_outbox_body(const std::vector<std::string>& audience, const std::string& body) {
    return nlohmann::json{{"audience", audience}, {"body64", to_base64(body)}}.dump();
}

StatusOutbox parse_status_outbox_body(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("audience") || !j["audience"].is_array() || !j.contains("body64") ||
        !j["body64"].is_string()) {
        throw std::invalid_argument("not a status outbox body");
    }
    auto body = from_base64(j["body64"].get<std::string>());
    if (!body) throw std::invalid_argument("status outbox body64 is not base64");
    return StatusOutbox{j["audience"].get<std::vector<std::string>>(), std::move(*body)};
}

}  // namespace chat
