// This client's Signal protocol device: its keys, the library's stores on the client state
// file, sessions built from server bundles (X3DH), and per-device encryption (Double Ratchet).
#pragma once

#include "provider.h"
#include "storage/client_state.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct signal_protocol_store_context;

namespace chat::e2e {

// Signal message types, as the library numbers them (and the envelope carries them).
enum class CipherType : int { normal = 2, prekey = 3 };

struct OneTimePrekey {
    int64_t id = 0;
    std::string key;  // serialised public key (33 bytes)
};

// What a device publishes through PUT /v1/keys (raw bytes; the HTTP layer base64s them).
struct KeyUpload {
    std::string identity_key;
    int64_t registration_id = 0;
    int64_t signed_id = 0;
    std::string signed_key, signature;
    std::vector<OneTimePrekey> prekeys;
};

// One device of another user as GET /v1/keys/{user} returned it.
struct RemoteBundle {
    std::string user, device, identity_key;
    int64_t registration_id = 0;
    int64_t signed_id = 0;
    std::string signed_key, signature;
    std::optional<OneTimePrekey> prekey;
};

struct Ciphertext {
    std::string user, device;
    CipherType type = CipherType::normal;
    std::string bytes;
};

// A new account's identity: registration id and identity key pair (no prekeys yet).
storage::ClientAccount new_identity(const SignalContext& context, const std::string& user, const std::string& device,
                                    const std::string& token);

// One thread at a time; `state` must outlive it and hold an account.
class SignalDevice {
public:
    SignalDevice(const SignalContext& context, storage::ClientState& state);
    ~SignalDevice();
    SignalDevice(const SignalDevice&) = delete;
    SignalDevice& operator=(const SignalDevice&) = delete;

    // A new signed prekey when `rotate` (or none exists yet) and `count` new one-time prekeys,
    // stored locally (private halves) and returned for upload.
    KeyUpload new_keys(size_t count, bool rotate);
    const storage::ClientAccount& account() const { return account_; }

    bool has_session(const std::string& user, const std::string& device);
    // X3DH from a bundle; throws when the signature or the keys are invalid.
    void start_session(const RemoteBundle& bundle);
    Ciphertext encrypt(const std::string& user, const std::string& device, const std::string& plaintext);
    // The plaintext, or nullopt with `why` set when it cannot be decrypted (altered, no session,
    // replayed); the session stays as it was then.
    std::optional<std::string> decrypt(const std::string& user, const std::string& device, CipherType type,
                                       const std::string& bytes, std::string* why);

private:
    const SignalContext& context_;
    storage::ClientState& state_;
    storage::ClientAccount account_;
    struct StoreDestroy {
        void operator()(signal_protocol_store_context* s) const noexcept;
    };
    std::unique_ptr<signal_protocol_store_context, StoreDestroy> store_;
};

// The Signal address name of a device: "{user}/{device}" (the device number is always 1).
std::string address_name(const std::string& user, const std::string& device);

}  // namespace chat::e2e
