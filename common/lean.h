// The lean encoding (docs/PROTOCOL.md, "Lean encoding"): inbox entries as short MessagePack
// arrays that leave out what the receiving device knows or can derive, the sending device's
// confirmation of its own publish, and replay pages. Encoders for the plugin, decoders for
// clients, tools and tests.
#pragma once

#include "entry.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chat::lean {

// Topics the server publishes lean devices' traffic on, straight to their connection.
inline constexpr const char* entry_topic = "i";
inline constexpr const char* confirmation_topic = "c";
inline constexpr const char* page_topic = "r";

// What the sending device learns of its own m/ or g/ publish: where its `sent` copy landed.
struct Confirmation {
    int64_t seq = 0;
    std::string id;
    std::string cid;  // the publish's cid, when it had one
};

// `e` as stored in `owner`'s inbox: [seq, id, from, body] plus a map of what differs from the
// defaults. Throws std::invalid_argument for a receipt or notice whose body is not an object.
std::string entry(const Entry& e, std::string_view owner);
// [seq, id] or [seq, id, cid] for the sender's own `sent` entry.
std::string confirmation(const Entry& sent);

// One replay page: entries, and confirmations in place of the device's own sends, as one array.
class PageWriter {
public:
    explicit PageWriter(std::string owner);
    ~PageWriter();
    PageWriter(const PageWriter&) = delete;
    PageWriter& operator=(const PageWriter&) = delete;
    void add_entry(const Entry& e);
    void add_confirmation(const Entry& sent);
    bool empty() const;
    std::string finish() const;

private:
    std::string owner_;
    std::unique_ptr<nlohmann::json> elements_;
};

// Decoders; each throws std::invalid_argument (or nlohmann's parse_error) on malformed input.
Entry decode_entry(std::string_view bytes, std::string_view owner);
Confirmation decode_confirmation(std::string_view bytes);
// A page's elements: entries, and confirmations (2 or 3 items) of the device's own sends.
struct PageElement {
    bool confirmation = false;
    Entry entry;               // when !confirmation
    Confirmation confirmed;    // when confirmation
};
std::vector<PageElement> decode_page(std::string_view bytes, std::string_view owner);

// The ms time at the head of a message id (its first 11 hex digits); -1 when it has none.
int64_t id_time(std::string_view id);

}  // namespace chat::lean
