// Waiting on a test client's subscription for the next inbox entry or receipt.
#pragma once

#include "common/entry.h"
#include "mqtt_client.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>

namespace chat::testing {

// Next entry of one of `kinds` arriving on `client` (other kinds, e.g. notices, are skipped).
inline std::optional<chat::Entry> next_entry(MqttClient& client, const std::set<std::string>& kinds = {"msg"},
                                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto m = client.next(left);
        if (!m) return std::nullopt;
        auto e = chat::entry_from_json(m->payload);
        if (kinds.contains(e.kind)) return e;
    }
    return std::nullopt;
}

// Next receipt arriving on `client`, as the JSON object (receipt fields are inline, not a body).
inline nlohmann::json next_receipt(MqttClient& client, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto m = client.next(left);
        if (!m) break;
        auto j = nlohmann::json::parse(m->payload);
        if (j.value("kind", "") == "receipt") return j;
    }
    return {};
}

}  // namespace chat::testing
