// Delivery rules that both the plugin and the bridge apply: per-device entry encoding,
// per-user queue caps, and redaction of deleted messages. One instance per thread's Database.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <cstdint>
#include <string>

namespace chat::storage {

class Policy {
public:
    explicit Policy(Database& db);

    // The encoding a device asked for (JSON unless it asked).
    Encoding encoding(const std::string& user, const std::string& device);
    void set_encoding(const std::string& user, const std::string& device, Encoding encoding);
    // True when some member of `gid` other than `except` has `cap` or more pending entries.
    bool member_at_cap(const std::string& gid, const std::string& except, int64_t cap);
    // Removes the body of `user`'s entry `id` if `from` sent it (a delete).
    void redact(const std::string& user, const std::string& id, const std::string& from);
    // Removes the body of a group message kept for fan-out if `from` sent it.
    void redact_outbox(const std::string& id, const std::string& from);

private:
    Statement encoding_, set_encoding_, at_cap_, redact_, redact_outbox_;
};

}  // namespace chat::storage
