// Encoding of inbox entries to JSON and MessagePack with nlohmann_json.
#include "entry.h"

#include "base64.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace chat {
namespace {

bool carries_inline_fields(const Entry& e) { return e.kind == "receipt" || e.kind == "notice"; }

// Assigns into the string the object already holds for `key`, keeping its allocation.
void set_string(nlohmann::json& j, const char* key, const std::string& value) {
    auto& slot = j[key];
    if (slot.is_string()) {
        slot.get_ref<std::string&>() = value;
    } else {
        slot = value;
    }
}

void set_optional(nlohmann::json& j, const char* key, const std::string& value) {
    if (value.empty()) {
        j.erase(key);
    } else {
        set_string(j, key, value);
    }
}

// The fields every entry has, and the optional ones `e` carries; removes those it lacks.
void set_header(nlohmann::json& j, const Entry& e) {
    set_string(j, "id", e.id);
    j["seq"] = e.seq;
    set_string(j, "kind", e.kind);
    set_string(j, "from", e.from);
    set_optional(j, "to", e.to);
    set_optional(j, "gid", e.gid);
    j["ts"] = e.ts;
    set_optional(j, "ref", e.ref);
    set_optional(j, "cid", e.cid);
    if (e.expires_ms) {
        j["exp"] = e.expires_ms;
    } else {
        j.erase("exp");
    }
}

nlohmann::json header(const Entry& e) {
    nlohmann::json j = nlohmann::json::object();
    set_header(j, e);
    return j;
}

void merge_inline_fields(nlohmann::json& j, const Entry& e) {
    auto fields = nlohmann::json::parse(e.body, nullptr, false);
    if (!fields.is_object()) return;
    for (auto& [key, value] : fields.items()) {
        if (!j.contains(key)) j[key] = value;
    }
}

// The fields of a receipt or notice beyond the header: its stored body.
nlohmann::json inline_fields(const nlohmann::json& j) {
    static const char* const header_keys[] = {"id", "seq", "kind", "from", "to", "gid", "ts", "ref", "cid", "exp"};
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& [key, value] : j.items()) {
        if (std::find(std::begin(header_keys), std::end(header_keys), key) == std::end(header_keys)) fields[key] = value;
    }
    return fields;
}

// An integer field, 0 when absent. A float is refused: converting one out of int64's range is
// undefined behaviour (found by fuzz_plugin_message: a b/fanout entry with "ts":1.7e24).
int64_t integer_field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) return 0;
    if (!it->is_number_integer()) throw std::invalid_argument(std::string("entry field ") + key + " must be an integer");
    return it->get<int64_t>();
}

}  // namespace

// Checks the bytes in place, without a copy and without throwing: ciphertext bodies make
// non-UTF-8 the common case on the broker thread. Accepts exactly what nlohmann's dump() accepts
// (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto* end = p + bytes.size();
    auto continuation = [](unsigned char c) { return (c & 0xC0) == 0x80; };
    while (p != end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        const auto left = end - p;
        if (c >= 0xC2 && c <= 0xDF) {
            if (left < 2 || !continuation(p[1])) return false;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (left < 3 || !continuation(p[1]) || !continuation(p[2])) return false;
            if (c == 0xE0 && p[1] < 0xA0) return false;   // overlong
            if (c == 0xED && p[1] >= 0xA0) return false;  // UTF-16 surrogate
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (left < 4 || !continuation(p[1]) || !continuation(p[2]) || !continuation(p[3])) return false;
            if (c == 0xF0 && p[1] < 0x90) return false;   // overlong
            if (c == 0xF4 && p[1] >= 0x90) return false;  // past U+10FFFF
            p += 4;
        } else {
            return false;  // a continuation byte first, C0/C1 (overlong) or F5..FF
        }
    }
    return true;
}

std::string to_json(const Entry& e) { return EntryJsonWriter().write(e); }

EntryJsonWriter::EntryJsonWriter() : object_(std::make_unique<nlohmann::json>(nlohmann::json::object())) {}
EntryJsonWriter::~EntryJsonWriter() = default;

std::string EntryJsonWriter::write(const Entry& e) {
    if (carries_inline_fields(e)) {  // receipts and notices: their own fields, no body
        nlohmann::json j = header(e);
        merge_inline_fields(j, e);
        return j.dump();
    }
    nlohmann::json& j = *object_;
    set_header(j, e);
    if (is_valid_utf8(e.body)) {
        j.erase("body64");
        set_string(j, "body", e.body);
    } else {
        j.erase("body");
        set_string(j, "body64", to_base64(e.body));
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

Entry entry_from_json(const std::string& text) { return entry_from_object(nlohmann::json::parse(text)); }

Entry entry_from_object(const nlohmann::json& j) {
    Entry e;
    e.id = j.at("id").get<std::string>();
    e.seq = integer_field(j, "seq");
    e.kind = j.value("kind", "msg");
    e.from = j.value("from", "");
    e.to = j.value("to", "");
    e.gid = j.value("gid", "");
    e.ts = integer_field(j, "ts");
    e.ref = j.value("ref", "");
    e.cid = j.value("cid", "");
    e.expires_ms = integer_field(j, "exp");
    if (carries_inline_fields(e)) {
        e.body = inline_fields(j).dump();
    } else if (j.contains("body")) {
        e.body = j["body"].get<std::string>();
    } else if (j.contains("body64")) {
        auto body = from_base64(j["body64"].get<std::string>());
        if (!body) throw std::invalid_argument("body64 is not base64");
        e.body = *body;
    }
    return e;
}

}  // namespace chat
