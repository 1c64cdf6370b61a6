// An inbox entry: what a recipient receives, and how it is encoded on the wire.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

struct Entry {
    std::string id;
    int64_t seq = 0;
    std::string kind = "msg";  // msg, edit, delete, media, receipt, notice, sent
    std::string from;
    std::string to;   // empty for group entries to members
    std::string gid;  // only for group messages
    int64_t ts = 0;   // server time, milliseconds
    std::string body; // opaque bytes; for receipts/notices a JSON object
    std::string ref;  // message id an edit/delete refers to
    std::string cid;  // client message id (sender's own entry only)
    int64_t expires_ms = 0;  // 0 = no per-message expiry
    // A `sent` entry's sending device: storage and the bridge's replay batches only, never
    // in an entry on the wire (a lean device gets its own sends back as confirmations).
    std::string device;
};

// JSON text as in PROTOCOL.md: body as a string when UTF-8, otherwise body64.
// Receipt and notice entries carry their body's fields inline instead of a body.
std::string to_json(const Entry& e);
// to_json for a hot path: serialises through one object kept between calls, so an entry costs
// no tree of allocations, only the dump; what it writes never depends on earlier calls (the
// fields an entry lacks are removed). One thread at a time.
class EntryJsonWriter {
public:
    EntryJsonWriter();
    ~EntryJsonWriter();
    EntryJsonWriter(const EntryJsonWriter&) = delete;
    EntryJsonWriter& operator=(const EntryJsonWriter&) = delete;
    std::string write(const Entry& e);

private:
    std::unique_ptr<nlohmann::json> object_;
};
// MessagePack of the same object with a binary body (the compact encoding).
std::vector<uint8_t> to_msgpack(const Entry& e);
// Parses what to_json produced (used by clients, tools, tests and the plugin's batches);
// seq may be missing, and a receipt's or notice's inline fields become its body again.
Entry entry_from_json(const std::string& text);
// The same for an object already parsed (the plugin's batches), with no text in between.
Entry entry_from_object(const nlohmann::json& j);

// Whether `bytes` is UTF-8 (RFC 3629); no copy, no exception.
bool is_valid_utf8(std::string_view bytes) noexcept;

// How a device receives its entries (stored per device, 0 to 2): JSON objects (the default),
// the same objects as MessagePack (compact), or the lean arrays of common/lean.h.
enum class Encoding : uint8_t { json = 0, compact = 1, lean = 2 };
// The encoding a stored number names; JSON for anything unknown.
inline Encoding encoding_of(int64_t stored) {
    return stored == 1 ? Encoding::compact : stored == 2 ? Encoding::lean : Encoding::json;
}

}  // namespace chat
