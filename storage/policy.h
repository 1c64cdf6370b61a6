// Delivery rules that both the plugin and the bridge apply: per-device compact encoding,
// per-user queue caps, and redaction of deleted messages. One instance per thread's Database.
#pragma once

#include "db.h"

#include <cstdint>
#include <string>

namespace chat::storage {

class Policy {
public:
    explicit Policy(Database& db);

    // Whether a device asked for MessagePack entries instead of JSON.
    bool is_compact(const std::string& user, const std::string& device);
    void set_compact(const std::string& user, const std::string& device, bool compact);
    // True when some member of `gid` other than `except` has `cap` or more pending entries.
    bool member_at_cap(const std::string& gid, const std::string& except, int64_t cap);
    // Removes the body of `user`'s entry `id` if `from` sent it (a delete).
    void redact(const std::string& user, const std::string& id, const std::string& from);
    // Removes the body of a group message kept for fan-out if `from` sent it.
    void redact_outbox(const std::string& id, const std::string& from);

private:
    Statement compact_, set_compact_, at_cap_, redact_, redact_outbox_;
};

}  // namespace chat::storage
