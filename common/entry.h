// An inbox entry: what a recipient receives, and how it is encoded on the wire.
#pragma once

#include <cstdint>
#include <string>
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
};

// JSON text as in PROTOCOL.md: body as a string when UTF-8, otherwise body64.
// Receipt and notice entries carry their body's fields inline instead of a body.
std::string to_json(const Entry& e);
// MessagePack of the same object with a binary body (the compact encoding).
std::vector<uint8_t> to_msgpack(const Entry& e);
// Parses what to_json produced (used by clients, tools, tests and the plugin's batches);
// seq may be missing, and a receipt's or notice's inline fields become its body again.
Entry entry_from_json(const std::string& text);

bool is_valid_utf8(const std::string& bytes);

}  // namespace chat
