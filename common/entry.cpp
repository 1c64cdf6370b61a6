// Encoding of inbox entries to JSON and MessagePack with nlohmann_json.
#include "entry.h"

#include "base64.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace chat {
namespace {

bool carries_inline_fields(const Entry& e) { return e.kind == "receipt" || e.kind == "notice"; }

nlohmann::json header(const Entry& e) {
    nlohmann::json j = {{"id", e.id}, {"seq", e.seq}, {"kind", e.kind}, {"from", e.from}};
    if (!e.to.empty()) j["to"] = e.to;
    if (!e.gid.empty()) j["gid"] = e.gid;
    j["ts"] = e.ts;
    if (!e.ref.empty()) j["ref"] = e.ref;
    if (!e.cid.empty()) j["cid"] = e.cid;
    if (e.expires_ms) j["exp"] = e.expires_ms;
    return j;
}

void merge_inline_fields(nlohmann::json& j, const Entry& e) {
    auto fields = nlohmann::json::parse(e.body, nullptr, false);
    if (!fields.is_object()) return;
    for (auto& [key, value] : fields.items()) {
        if (!j.contains(key)) j[key] = value;
    }
}

}  // namespace

bool is_valid_utf8(const std::string& bytes) {
    try {
        (void)nlohmann::json(bytes).dump();
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

std::string to_json(const Entry& e) {
    nlohmann::json j = header(e);
    if (carries_inline_fields(e)) {
        merge_inline_fields(j, e);
    } else if (is_valid_utf8(e.body)) {
        j["body"] = e.body;
    } else {
        j["body64"] = to_base64(e.body);
    }
    return j.dump();
}

std::vector<uint8_t> to_msgpack(const Entry& e) {
    nlohmann::json j = header(e);
    if (carries_inline_fields(e)) {
        merge_inline_fields(j, e);
    } else {
        j["body"] = nlohmann::json::binary(std::vector<uint8_t>(e.body.begin(), e.body.end()));
    }
    return nlohmann::json::to_msgpack(j);
}

Entry entry_from_json(const std::string& text) {
    auto j = nlohmann::json::parse(text);
    Entry e;
    e.id = j.at("id").get<std::string>();
    e.seq = j.at("seq").get<int64_t>();
    e.kind = j.value("kind", "msg");
    e.from = j.value("from", "");
    e.to = j.value("to", "");
    e.gid = j.value("gid", "");
    e.ts = j.value("ts", int64_t{0});
    e.ref = j.value("ref", "");
    e.cid = j.value("cid", "");
    e.expires_ms = j.value("exp", int64_t{0});
    if (j.contains("body")) {
        e.body = j["body"].get<std::string>();
    } else if (j.contains("body64")) {
        auto body = from_base64(j["body64"].get<std::string>());
        if (!body) throw std::invalid_argument("body64 is not base64");
        e.body = *body;
    }
    return e;
}

}  // namespace chat
