// The lean encoding with nlohmann_json's MessagePack writer and reader.
#include "lean.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace chat::lean {
namespace {

using nlohmann::json;

// Receipt lists travel under one-letter keys: {"d":[ids]} delivered, {"r":[ids]} read.
constexpr std::pair<const char*, const char*> receipt_keys[] = {{"delivered", "d"}, {"read", "r"}};

json object_body(const Entry& e) {
    auto body = json::parse(e.body, nullptr, false);
    if (!body.is_object()) throw std::invalid_argument("a " + e.kind + " entry's body is not a JSON object");
    return body;
}

// A receipt of exactly one list gets the short form; anything else keeps its object and kind.
bool short_receipt(const json& body, json& out) {
    if (body.size() != 1) return false;
    for (const auto& [name, letter] : receipt_keys) {
        if (body.contains(name)) {
            out = json{{letter, body[name]}};
            return true;
        }
    }
    return false;
}

json element(const Entry& e, std::string_view owner) {
    bool own = e.kind == "sent";
    json extra = json::object();
    json body;
    if (e.kind == "receipt") {
        auto stored = object_body(e);
        if (!short_receipt(stored, body)) {
            body = std::move(stored);
            extra["k"] = e.kind;
        }
    } else if (e.kind == "notice") {
        body = object_body(e);
        extra["k"] = e.kind;
    } else {
        body = json::binary(std::vector<uint8_t>(e.body.begin(), e.body.end()));
        if (!own && e.kind != "msg") extra["k"] = e.kind;
    }
    if (!e.to.empty() && e.to != owner) extra["t"] = e.to;
    if (!e.gid.empty()) extra["g"] = e.gid;
    if (!e.ref.empty()) extra["r"] = e.ref;
    if (!e.cid.empty()) extra["c"] = e.cid;
    if (e.expires_ms) extra["x"] = e.expires_ms;
    if (e.ts != id_time(e.id)) extra["ts"] = e.ts;
    json a = json::array({e.seq, e.id, own ? json(nullptr) : json(e.from), std::move(body)});
    if (!extra.empty()) a.push_back(std::move(extra));
    return a;
}

json confirmation_element(const Entry& sent) {
    json a = json::array({sent.seq, sent.id});
    if (!sent.cid.empty()) a.push_back(sent.cid);
    return a;
}

std::string packed(const json& j) {
    auto bytes = json::to_msgpack(j);
    return std::string(bytes.begin(), bytes.end());
}

json unpacked(std::string_view bytes) {
    return json::from_msgpack(reinterpret_cast<const uint8_t*>(bytes.data()),
                              reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size());
}

const std::string& text(const json& j, const char* what) {
    if (!j.is_string()) throw std::invalid_argument(std::string("lean: ") + what + " is not a string");
    return j.get_ref<const std::string&>();
}

int64_t integer(const json& j, const char* what) {
    if (!j.is_number_integer()) throw std::invalid_argument(std::string("lean: ") + what + " is not an integer");
    return j.get<int64_t>();
}

std::string optional_text(const json& extra, const char* key) {
    auto it = extra.find(key);
    return it == extra.end() ? std::string() : text(*it, key);
}

// The receipt object as stored ({"delivered":[..]}) from its short form, if `body` is one.
bool long_receipt(const json& body, json& out) {
    if (body.size() != 1) return false;
    for (const auto& [name, letter] : receipt_keys) {
        if (body.contains(letter)) {
            out = json{{name, body[letter]}};
            return true;
        }
    }
    return false;
}

Entry entry_of(const json& a, std::string_view owner) {
    if (!a.is_array() || a.size() < 4 || a.size() > 5) throw std::invalid_argument("lean: an entry is an array of 4 or 5 items");
    const json extra = a.size() == 5 ? a[4] : json::object();
    if (!extra.is_object()) throw std::invalid_argument("lean: an entry's fifth item is not a map");
    Entry e;
    e.seq = integer(a[0], "seq");
    e.id = text(a[1], "id");
    bool own = a[2].is_null();
    e.from = own ? std::string(owner) : text(a[2], "from");
    const json& body = a[3];
    bool has_kind = extra.contains("k");
    std::string kind = optional_text(extra, "k");
    if (body.is_binary()) {
        e.body.assign(body.get_binary().begin(), body.get_binary().end());
        e.kind = has_kind ? kind : own ? "sent" : "msg";
    } else if (body.is_object()) {
        json stored;
        if (!has_kind && long_receipt(body, stored)) {
            e.kind = "receipt";
            e.body = stored.dump();
        } else {
            if (!has_kind) throw std::invalid_argument("lean: an object body needs a kind");
            e.kind = kind;
            e.body = body.dump();
        }
    } else {
        throw std::invalid_argument("lean: a body is binary or a map");
    }
    e.gid = optional_text(extra, "g");
    e.to = optional_text(extra, "t");
    if (e.to.empty() && e.gid.empty()) e.to = std::string(owner);
    e.ref = optional_text(extra, "r");
    e.cid = optional_text(extra, "c");
    e.expires_ms = extra.contains("x") ? integer(extra["x"], "x") : 0;
    e.ts = extra.contains("ts") ? integer(extra["ts"], "ts") : id_time(e.id);
    return e;
}

Confirmation confirmation_of(const json& a) {
    if (!a.is_array() || a.size() < 2 || a.size() > 3) throw std::invalid_argument("lean: a confirmation is an array of 2 or 3 items");
    Confirmation c;
    c.seq = integer(a[0], "seq");
    c.id = text(a[1], "id");
    if (a.size() == 3) c.cid = text(a[2], "cid");
    return c;
}

}  // namespace

int64_t id_time(std::string_view id) {
    if (id.size() < 11) return -1;
    int64_t ms = 0;
    for (char c : id.substr(0, 11)) {
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return -1;
        ms = ms * 16 + digit;
    }
    return ms;
}

std::string entry(const Entry& e, std::string_view owner) { return packed(element(e, owner)); }

std::string confirmation(const Entry& sent) { return packed(confirmation_element(sent)); }

PageWriter::PageWriter(std::string owner) : owner_(std::move(owner)), elements_(std::make_unique<json>(json::array())) {}
PageWriter::~PageWriter() = default;

void PageWriter::add_entry(const Entry& e) { elements_->push_back(element(e, owner_)); }
void PageWriter::add_confirmation(const Entry& sent) { elements_->push_back(confirmation_element(sent)); }
bool PageWriter::empty() const { return elements_->empty(); }
std::string PageWriter::finish() const { return packed(*elements_); }

Entry decode_entry(std::string_view bytes, std::string_view owner) { return entry_of(unpacked(bytes), owner); }

Confirmation decode_confirmation(std::string_view bytes) { return confirmation_of(unpacked(bytes)); }

std::vector<PageElement> decode_page(std::string_view bytes, std::string_view owner) {
    auto list = unpacked(bytes);
    if (!list.is_array()) throw std::invalid_argument("lean: a page is an array");
    std::vector<PageElement> out;
    out.reserve(list.size());
    for (const auto& item : list) {
        PageElement el;
        if (item.is_array() && item.size() <= 3) {
            el.confirmation = true;
            el.confirmed = confirmation_of(item);
        } else {
            el.entry = entry_of(item, owner);
        }
        out.push_back(std::move(el));
    }
    return out;
}

}  // namespace chat::lean
