// Validation of key uploads and the JSON of bundles over storage::Prekeys.
#include "prekey_service.h"

#include "api_error.h"
#include "common/base64.h"
#include "common/identity.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

namespace chat::sidecar {
namespace {

constexpr size_t x25519_bytes = 32;
constexpr size_t signal_key_bytes = 33;  // the Signal protocol's serialised Curve25519 key: 0x05, then 32 bytes
constexpr char djb_type = 0x05;
constexpr size_t signature_bytes = 64;   // XEdDSA
constexpr int64_t max_key_id = (int64_t{1} << 24) - 1;  // prekey ids are 24-bit (libsignal Medium)

std::string decoded(const nlohmann::json& j, const char* field, size_t length) {
    auto it = j.find(field);
    std::optional<std::string> bytes;
    if (it != j.end() && it->is_string()) bytes = from_base64(it->get<std::string>());
    if (!bytes || bytes->size() != length) {
        throw ApiError(400, std::string(field) + " must be base64 of " + std::to_string(length) + " bytes");
    }
    return *bytes;
}

std::string signal_key(const nlohmann::json& j, const char* field) {
    auto key = decoded(j, field, signal_key_bytes);
    if (key[0] != djb_type) throw ApiError(400, std::string(field) + " must start with the key type 0x05");
    return key;
}

int64_t integer(const nlohmann::json& j, const char* field, int64_t low, int64_t high) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < low || it->get<int64_t>() > high) {
        throw ApiError(400, std::string(field) + " must be an integer from " + std::to_string(low) + " to " +
                                std::to_string(high));
    }
    return it->get<int64_t>();
}

const nlohmann::json& object_field(const nlohmann::json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_object()) throw ApiError(400, std::string(field) + " must be an object");
    return *it;
}

std::vector<storage::PublicPrekey> one_time_prekeys(const nlohmann::json& body) {
    const auto& list = body["prekeys"];
    if (!list.is_array() || list.size() > PrekeyService::max_upload) {
        throw ApiError(400, "prekeys must be an array of at most " + std::to_string(PrekeyService::max_upload));
    }
    std::vector<storage::PublicPrekey> keys;
    for (const auto& k : list) {
        if (!k.is_object()) throw ApiError(400, "each prekey must be an object {\"id\",\"key\"}");
        keys.push_back({integer(k, "id", 0, max_key_id), signal_key(k, "key")});
    }
    return keys;
}

nlohmann::json bundle_json(const storage::PrekeyBundle& b) {
    nlohmann::json d = {{"device", b.device}, {"identity_key", to_base64(b.identity_key)}};
    if (b.signed_prekey) {
        d["registration_id"] = b.signed_prekey->registration_id;
        d["signed_prekey"] = {{"id", b.signed_prekey->id},
                              {"key", to_base64(b.signed_prekey->key)},
                              {"signature", to_base64(b.signed_prekey->signature)}};
        if (b.one_time) d["prekey"] = {{"id", b.one_time->id}, {"key", to_base64(b.one_time->key)}};
    }
    return d;
}

}  // namespace

std::optional<nlohmann::json> PrekeyService::put(const storage::DeviceRef& self, const nlohmann::json& body,
                                                 int64_t now_ms) {
    const bool bundle = body.contains("registration_id") || body.contains("signed_prekey") || body.contains("prekeys");
    if (!bundle) {
        auto key = decoded(body, "identity_key", x25519_bytes);
        auto store = pool_.lease();
        storage::Transaction tx(store->db);
        store->prekeys.set_identity(self.user, self.device, key);
        tx.commit();
        return std::nullopt;
    }
    // Everything is checked before anything is stored.
    auto identity = signal_key(body, "identity_key");
    std::optional<storage::SignedPrekey> signed_prekey;
    if (body.contains("signed_prekey") || body.contains("registration_id")) {
        const auto& s = object_field(body, "signed_prekey");
        signed_prekey = storage::SignedPrekey{integer(body, "registration_id", 1, 0x7fffffff),
                                              integer(s, "id", 0, max_key_id), signal_key(s, "key"),
                                              decoded(s, "signature", signature_bytes)};
    }
    auto prekeys = body.contains("prekeys") ? one_time_prekeys(body) : std::vector<storage::PublicPrekey>{};

    auto store = pool_.lease();
    storage::Transaction tx(store->db);
    store->prekeys.set_identity(self.user, self.device, identity);
    if (signed_prekey) store->prekeys.set_signed(self.user, self.device, *signed_prekey, now_ms);
    if (!store->prekeys.signed_prekey(self.user, self.device)) {
        throw ApiError(400, "upload registration_id and signed_prekey with the first prekeys");
    }
    store->prekeys.add_one_time(self.user, self.device, prekeys);
    auto left = store->prekeys.one_time_left(self.user, self.device);
    if (left > max_stored) {
        throw ApiError(409, "at most " + std::to_string(max_stored) + " one-time prekeys per device",
                       {{"prekeys_left", left - static_cast<int64_t>(prekeys.size())}});
    }
    tx.commit();
    return nlohmann::json{{"prekeys_left", left}};
}

nlohmann::json PrekeyService::status(const storage::DeviceRef& self) {
    auto store = pool_.lease();
    auto s = store->prekeys.signed_prekey(self.user, self.device);
    return {{"device", self.device},
            {"prekeys_left", store->prekeys.one_time_left(self.user, self.device)},
            {"signed_prekey_id", s ? nlohmann::json(s->id) : nlohmann::json(nullptr)}};
}

nlohmann::json PrekeyService::bundles(const storage::DeviceRef& asker, const std::string& user, const std::string& known) {
    std::set<std::string> known_devices;
    for (size_t start = 0; start < known.size();) {
        auto end = std::min(known.find(',', start), known.size());
        auto device = known.substr(start, end - start);
        if (!is_device_id(device)) throw ApiError(400, "known must list device ids separated by commas");
        known_devices.insert(device);
        start = end + 1;
    }
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    auto store = pool_.lease();
    // An unknown user answers as a registered one without keys: a look-up does not reveal who
    // is registered (only discovery does, capped).
    nlohmann::json devices = nlohmann::json::array();
    auto except = asker.user == user ? asker.device : std::string();
    for (const auto& b : store->prekeys.take_bundles(user, except, known_devices)) devices.push_back(bundle_json(b));
    return {{"user", user}, {"devices", devices}};
}

}  // namespace chat::sidecar
