// Push tokens per device (registered by the device, used by the bridge's push hook) and the
// per-device push debounce shared by all bridges.
#pragma once

#include "db.h"

#include <string>
#include <vector>

namespace chat::storage {

struct PushTarget {
    std::string device;
    std::string provider;
    std::string app_id;
    std::string pushkey;
    int64_t registered_ms = 0;
};

class PushTokens {
public:
    explicit PushTokens(Database& db);

    // Sets the device's token (replacing its earlier one). A pushkey belongs to one device: the
    // same key registered elsewhere before (an app reinstalled under another account) is dropped
    // there. Call in a Transaction.
    void put(const std::string& user, const std::string& device, const PushTarget& token, int64_t now_ms);
    // False when the device had no token.
    bool remove(const std::string& user, const std::string& device);
    // The tokens of the user's live (not revoked) devices, by device id.
    std::vector<PushTarget> targets(const std::string& user);
    // Claims the device's push at `now_ms` unless some bridge pushed it less than `window_ms` ago.
    bool claim(const std::string& user, const std::string& device, int64_t now_ms, int64_t window_ms);
    // Drops every registration of a pushkey the gateway rejected; returns the rows removed.
    int64_t reject(const std::string& pushkey);

private:
    Database& db_;
    Statement drop_elsewhere_, upsert_, remove_, targets_, claim_, reject_;
};

}  // namespace chat::storage
