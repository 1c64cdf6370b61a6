// Delivery rules that both the plugin and the bridge apply: per-device entry encoding,
// per-user queue caps, and redaction of deleted messages. One instance per thread's Database.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <cstdint>
#include <string>
#include <vector>

namespace chat::storage {

class Policy {
public:
    explicit Policy(Database& db);

    // The encoding a device asked for (JSON unless it asked).
    Encoding encoding(const std::string& user, const std::string& device);
    void set_encoding(const std::string& user, const std::string& device, Encoding encoding);
    // True when some member of `gid` other than `except` has `cap` or more pending entries.
    bool member_at_cap(const std::string& gid, const std::string& except, int64_t cap);
    // The same for the members of `owner`'s broadcast list `list` who would get a copy (not those
    // who blocked the owner: the fan-out skips them).
    bool list_member_at_cap(const std::string& owner, const std::string& list, int64_t cap);
    // The same for the members of `poster`'s status audience (user ids; unknown ones count as
    // empty) who would get it: not those blocked either way.
    bool audience_at_cap(const std::string& poster, const std::vector<std::string>& audience, int64_t cap);
    // Removes the body of `user`'s entry `id` if `from` sent it (a delete).
    void redact(const std::string& user, const std::string& id, const std::string& from);
    // Removes the body of a group message kept for fan-out if `from` sent it.
    void redact_outbox(const std::string& id, const std::string& from);

private:
    Statement encoding_, set_encoding_, at_cap_, list_at_cap_, audience_at_cap_, redact_, redact_outbox_;
};

}  // namespace chat::storage
