// Group messages accepted by the broker and waiting for the bridge to fan them out.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <optional>
#include <vector>

namespace chat::storage {

class GroupOutbox {
public:
    explicit GroupOutbox(Database& db);
    // Stores a group message (id, gid, from, ts, kind, body, ref, expiry) for fan-out.
    void enqueue(const Entry& e);
    std::optional<Entry> find(const std::string& id);
    // Whether the message was fanned out; nullopt when there is no such message (yet).
    std::optional<bool> done(const std::string& id);
    // Oldest messages not yet fanned out.
    std::vector<Entry> pending(int limit);
    // How many messages are not yet fanned out.
    int64_t pending_count();
    void mark_done(const std::string& id);

private:
    Statement insert_, find_, is_done_, pending_, done_, pending_count_;
};

}  // namespace chat::storage
