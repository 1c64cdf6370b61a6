// Batch payloads: entries as the same JSON objects a device receives (to_json), so the plugin
// only has to add seqs or pick the encoding.
#include "batch.h"

#include <nlohmann/json.hpp>

namespace chat::bridge {

std::string fanout_batch(const Entry& shared, const std::vector<std::string>& to, bool direct) {
    auto entry = nlohmann::json::parse(to_json(shared));
    entry.erase("seq");  // each user's own, allocated by the plugin
    if (!shared.device.empty()) entry["device"] = shared.device;  // for the plugin only (see batch.h)
    nlohmann::json batch = {{"entry", std::move(entry)}, {"to", to}};
    if (direct) batch["direct"] = true;
    return batch.dump();
}

std::string replay_batch(const std::string& user, const std::string& device, const std::vector<Entry>& entries) {
    auto list = nlohmann::json::array();
    for (const auto& e : entries) {
        auto entry = nlohmann::json::parse(to_json(e));
        if (!e.device.empty()) entry["device"] = e.device;  // for the plugin only (see batch.h)
        list.push_back(std::move(entry));
    }
    return nlohmann::json{{"user", user}, {"device", device}, {"entries", std::move(list)}}.dump();
}

std::string live_batch(const std::string& topic, const std::string& payload, int qos, bool retain) {
    return nlohmann::json{{"topic", topic}, {"payload", payload}, {"qos", qos}, {"retain", retain}}.dump();
}

}  // namespace chat::bridge
