// The prekey directory: signed prekeys and one-time prekeys that devices publish for X3DH.
#pragma once

#include "db.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chat::storage {

struct PublicPrekey {
    int64_t id = 0;
    std::string key;  // raw bytes as the client serialised them
};

struct SignedPrekey {
    int64_t registration_id = 0;
    int64_t id = 0;
    std::string key;
    std::string signature;
};

// One live device's bundle: what another device needs to start a session with it.
struct PrekeyBundle {
    std::string device;
    std::string identity_key;
    std::optional<SignedPrekey> signed_prekey;  // absent for a device that only published its identity key
    std::optional<PublicPrekey> one_time;       // absent when none is left
};

class Prekeys {
public:
    explicit Prekeys(Database& db);

    // Stores the identity key; when it differs from the stored one, the device's prekeys made
    // for the old identity are dropped. Call inside a Transaction.
    void set_identity(const std::string& user, const std::string& device, const std::string& identity_key);
    // Replaces the device's signed prekey (rotation). Call inside a Transaction.
    void set_signed(const std::string& user, const std::string& device, const SignedPrekey& signed_prekey,
                    int64_t now_ms);
    // Adds one-time prekeys; an id already stored keeps its key. Call inside a Transaction.
    void add_one_time(const std::string& user, const std::string& device, const std::vector<PublicPrekey>& keys);
    int64_t one_time_left(const std::string& user, const std::string& device);
    std::optional<SignedPrekey> signed_prekey(const std::string& user, const std::string& device);

    // A bundle per live device that published an identity key (but `except_device`), each with
    // one one-time prekey taken out of the directory: one transaction, each prekey handed out once.
    // Devices in `known` (the asker has sessions with them) get no prekeys: device and identity only.
    std::vector<PrekeyBundle> take_bundles(const std::string& user, const std::string& except_device,
                                           const std::set<std::string>& known = {});

private:
    std::optional<PublicPrekey> take_one_time(const std::string& user, const std::string& device);
    Database& db_;
    Statement identity_, set_identity_, drop_signed_, drop_one_time_, set_signed_, add_one_time_, count_,
        signed_, devices_, take_;
};

}  // namespace chat::storage
