// Per-user inboxes: append with a gap-free per-user seq, replay, per-device cursors.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct AckResult {
    int64_t previous_delivered = 0;  // user's delivered high-water mark before this ack
    int64_t delivered = 0;           // and after it
};

class Inbox {
public:
    explicit Inbox(Database& db);

    // Appends `e` to `user`'s inbox with the next seq (written into e.seq).
    // Returns false, storing nothing, when the user does not exist.
    // Call inside a Transaction so the seq bump and the row commit together.
    bool append(const std::string& user, Entry& e);
    std::vector<Entry> entries_after(const std::string& user, int64_t after, int limit);
    std::optional<Entry> find_by_id(const std::string& user, const std::string& id);
    std::optional<Entry> find_by_cid(const std::string& user, const std::string& cid);
    int64_t last_seq(const std::string& user);
    // Moves a device's cursor forward (never back, never past last_seq).
    AckResult ack(const std::string& user, const std::string& device, int64_t seq);

private:
    Database& db_;
    Statement bump_seq_, insert_, after_, by_id_, by_cid_, last_seq_, set_cursor_, read_delivered_, set_delivered_;
};

}  // namespace chat::storage
