// What the sidecar reads and writes about devices and users: token lookup and presence (keys: prekeys.h).
#pragma once

#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct DeviceRef {
    std::string user;
    std::string device;
};

struct PresenceRow {
    int64_t last_seen_ms = 0;  // 0 = never seen
    bool hidden = false;
    int64_t online_devices = 0;
};

class Directory {
public:
    explicit Directory(Database& db);

    // The live (not revoked) device whose token hashes to `token_hash`.
    std::optional<DeviceRef> find_by_token_hash(const std::string& token_hash);
    std::optional<PresenceRow> presence(const std::string& user);
    void set_hide_presence(const std::string& user, bool hidden);

private:
    Statement by_token_, presence_, hide_;
};

}  // namespace chat::storage
