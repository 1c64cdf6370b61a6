// Users and devices: creation, token lookup for auth, revocation, online state, last seen.
#pragma once

#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct DeviceRow {
    std::string user;
    std::string device;
    std::string token_hash;
    int64_t created_ms = 0;
    bool revoked = false;
    bool online = false;
    int64_t cursor = 0;
    int encoding = 0;  // devices.compact: which entry encoding the device asked for (0 = JSON)
    std::string name;  // given by the user; empty when none
};

struct UserRow {
    std::string id;
    int64_t created_ms = 0;
    int64_t last_seq = 0;
    int64_t last_seen_ms = 0;
    int64_t devices = 0;
};

class Accounts {
public:
    explicit Accounts(Database& db);

    // True when created, false when the user already existed.
    bool create_user(const std::string& user, int64_t now_ms);
    bool user_exists(const std::string& user);
    // Adds a device; throws Error if the user is unknown or the device exists.
    void add_device(const std::string& user, const std::string& device, const std::string& token_hash,
                    int64_t now_ms);
    // The lowest free device id of the form d1, d2, ...
    std::string next_device_id(const std::string& user);
    // Everything CONNECT needs about a device, in one read.
    std::optional<DeviceRow> find_device(const std::string& user, const std::string& device);
    // Marks the device revoked and records the user in the acl_changes feed, so the broker cuts
    // the device's live sessions, and forgets its push token; false when it was unknown or revoked already. The one revoke
    // path: chatctl (operator) and the sidecar (the user's own devices) both call it.
    bool revoke_device(const std::string& user, const std::string& device);
    // Names a live device; false when it is unknown or revoked.
    bool set_device_name(const std::string& user, const std::string& device, const std::string& name);
    std::vector<UserRow> list_users();
    std::vector<DeviceRow> list_devices(const std::string& user);
    // Written by the journal import (storage::InboxLog): the broker thread journals them.
    void set_online(const std::string& user, const std::string& device, bool online);
    void set_last_seen(const std::string& user, int64_t now_ms);
    // After a broker restart nobody is connected.
    void clear_online();
    // Devices of `user` that are live right now.
    int64_t online_devices(const std::string& user);

private:
    Database& db_;
    Statement insert_user_, user_exists_, insert_device_, find_device_, revoke_, drop_push_, record_change_, list_users_, list_devices_, set_name_,
        set_online_, clear_online_, set_last_seen_, online_devices_;
};

}  // namespace chat::storage
