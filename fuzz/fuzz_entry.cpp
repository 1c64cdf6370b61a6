// Fuzz target: inbox entry encoding of arbitrary bodies (JSON writer, MessagePack, lean), parsing
// of arbitrary JSON entries (entry_from_json), lean pages and base64, each checked by a round trip.
#include "common/base64.h"
#include "common/entry.h"
#include "common/lean.h"

#include <fuzzer/FuzzedDataProvider.h>
#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

// Header fields come from topics, user properties and storage: MQTT guarantees UTF-8 there,
// checked as the broker checks it. Bodies are arbitrary bytes.
std::string text(FuzzedDataProvider& in, size_t max) {
    std::string s = in.ConsumeRandomLengthString(max);
    return mosquitto_validate_utf8(s.data(), static_cast<int>(s.size())) == MOSQ_ERR_SUCCESS ? s : std::string("x");
}

chat::Entry entry(FuzzedDataProvider& in) {
    static const char* const kinds[] = {"msg", "edit", "delete", "media", "receipt", "notice", "sent"};
    chat::Entry e;
    e.id = text(in, 24);
    e.seq = in.ConsumeIntegral<int64_t>();
    e.kind = in.ConsumeBool() ? kinds[in.ConsumeIntegralInRange(0, 6)] : text(in, 8);
    e.from = text(in, 16);
    e.to = text(in, 16);
    e.gid = text(in, 16);
    e.ts = in.ConsumeIntegral<int64_t>();
    e.ref = text(in, 24);
    e.cid = text(in, 64);
    e.expires_ms = in.ConsumeIntegral<int64_t>();
    e.body = in.ConsumeRandomLengthString(4096);
    return e;
}

bool same_header(const chat::Entry& a, const chat::Entry& b) {
    return a.id == b.id && a.seq == b.seq && a.kind == b.kind && a.from == b.from && a.to == b.to && a.gid == b.gid &&
           a.ts == b.ts && a.ref == b.ref && a.cid == b.cid && a.expires_ms == b.expires_ms;
}

bool inline_kind(const chat::Entry& e) { return e.kind == "receipt" || e.kind == "notice"; }

// Written as JSON and MessagePack, the entry reads back the same; the reused writer writes what
// a fresh one would, whatever it wrote before.
void encode(FuzzedDataProvider& in) {
    static chat::EntryJsonWriter writer;
    chat::Entry first = entry(in);
    chat::Entry e = entry(in);
    (void)writer.write(first);
    std::string json = writer.write(e);
    require(json == chat::to_json(e));
    chat::Entry back = chat::entry_from_json(json);
    require(same_header(back, e));
    if (!inline_kind(e)) require(back.body == e.body);

    auto packed = nlohmann::json::from_msgpack(chat::to_msgpack(e));
    require(packed.at("id") == e.id && packed.at("seq") == e.seq && packed.at("ts") == e.ts);
    if (!inline_kind(e)) {
        const auto& body = packed.at("body").get_binary();
        require(std::string(body.begin(), body.end()) == e.body);
    }
}

// Whatever JSON arrives (the plugin parses the bridge's batches with this), parsing either
// refuses it with an exception or yields an entry that survives its own round trip.
void parse(FuzzedDataProvider& in) {
    std::string text = in.ConsumeRemainingBytesAsString();
    chat::Entry e;
    try {
        e = chat::entry_from_json(text);
    } catch (const std::exception&) {
        return;
    }
    std::string json = chat::to_json(e);  // JSON text is UTF-8, so every field writes back
    chat::Entry back = chat::entry_from_json(json);
    require(same_header(back, e));
    if (!inline_kind(e)) require(back.body == e.body);
    (void)chat::to_msgpack(e);
}

// The lean form of an entry reads back with the same fields (a `sent` entry's sender is the
// owner, an entry to no one else is to the owner); a receipt or notice whose body is not an
// object is refused. Any bytes given to the decoders are decoded or refused, never a crash.
void lean(FuzzedDataProvider& in) {
    chat::Entry e = entry(in);
    std::string owner = e.to.empty() ? std::string("15550002") : e.to;
    std::string bytes;
    try {
        bytes = chat::lean::entry(e, owner);
    } catch (const std::invalid_argument&) {
        require(inline_kind(e));
        return;
    }
    chat::Entry back = chat::lean::decode_entry(bytes, owner);
    require(back.id == e.id && back.seq == e.seq && back.ts == e.ts && back.gid == e.gid && back.ref == e.ref &&
            back.cid == e.cid && back.expires_ms == e.expires_ms);
    require(back.from == (e.kind == "sent" ? owner : e.from));
    if (!inline_kind(e)) require(back.body == e.body && back.kind == e.kind);
    std::string noise = in.ConsumeRemainingBytesAsString();
    try {
        (void)chat::lean::decode_page(noise, owner);
    } catch (const std::exception&) {
    }
}

// Decoding accepts only canonical padded base64, so what it accepts encodes back to itself.
void base64(FuzzedDataProvider& in) {
    std::string text = in.ConsumeRemainingBytesAsString();
    require(chat::from_base64(chat::to_base64(text)) == text);
    if (auto bytes = chat::from_base64(text)) require(chat::to_base64(*bytes) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange(0, 3)) {
        case 0: encode(in); break;
        case 1: parse(in); break;
        case 2: lean(in); break;
        default: base64(in); break;
    }
    return 0;
}
