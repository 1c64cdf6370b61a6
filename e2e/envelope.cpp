// Envelope to and from MessagePack through nlohmann::json (no hand framing).
#include "envelope.h"

#include <nlohmann/json.hpp>

namespace chat::e2e {

std::string pack(const Envelope& e) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : e.recipients) {
        list.push_back({c.user, c.device, static_cast<int>(c.type),
                        nlohmann::json::binary(std::vector<uint8_t>(c.bytes.begin(), c.bytes.end()))});
    }
    auto bytes = nlohmann::json::to_msgpack({{"v", Envelope::version}, {"d", e.sender_device}, {"c", list}});
    return {bytes.begin(), bytes.end()};
}

std::optional<Envelope> unpack(const std::string& body) {
    auto j = nlohmann::json::from_msgpack(body, true, false);
    if (!j.is_object() || j.value("v", 0) != Envelope::version) return std::nullopt;
    auto d = j.find("d");
    auto c = j.find("c");
    if (d == j.end() || !d->is_string() || c == j.end() || !c->is_array()) return std::nullopt;
    Envelope e;
    e.sender_device = d->get<std::string>();
    for (const auto& item : *c) {
        if (!item.is_array() || item.size() != 4 || !item[0].is_string() || !item[1].is_string() ||
            !item[2].is_number_integer() || !item[3].is_binary()) {
            return std::nullopt;
        }
        int type = item[2].get<int>();
        if (type != static_cast<int>(CipherType::normal) && type != static_cast<int>(CipherType::prekey)) return std::nullopt;
        const auto& bin = item[3].get_binary();
        e.recipients.push_back({item[0].get<std::string>(), item[1].get<std::string>(), static_cast<CipherType>(type),
                                std::string(bin.begin(), bin.end())});
    }
    return e;
}

const Ciphertext* find(const Envelope& e, const std::string& user, const std::string& device) {
    for (const auto& c : e.recipients) {
        if (c.user == user && c.device == device) return &c;
    }
    return nullptr;
}

}  // namespace chat::e2e
