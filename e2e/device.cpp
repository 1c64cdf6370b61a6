// SignalDevice: the library's store callbacks over storage::ClientState, key generation, X3DH
// from bundles, and session_cipher encryption and decryption.
#include "device.h"

#include <key_helper.h>
#include <protocol.h>
#include <ratchet.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <signal_protocol.h>
#include <curve.h>

#include <chrono>
#include <stdexcept>

namespace chat::e2e {
namespace {

struct Unref {
    void operator()(void* p) const noexcept { signal_type_unref(static_cast<signal_type_base*>(p)); }
};
template <class T>
using Ref = std::unique_ptr<T, Unref>;

struct BufferFree {
    void operator()(signal_buffer* b) const noexcept { signal_buffer_free(b); }
};
using Buffer = std::unique_ptr<signal_buffer, BufferFree>;

std::string bytes_of(const signal_buffer* b) {
    return {reinterpret_cast<const char*>(signal_buffer_const_data(b)), signal_buffer_len(b)};
}
const uint8_t* data_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::string serialize(const ec_public_key* key) {
    signal_buffer* raw = nullptr;
    check(ec_public_key_serialize(&raw, key), "ec_public_key_serialize");
    Buffer b(raw);
    return bytes_of(b.get());
}

std::string name_of(const signal_protocol_address* a) { return {a->name, a->name_len}; }

// Store callbacks: `user_data` is the ClientState; each catches everything (C calls them).
storage::ClientState& state_of(void* user_data) { return *static_cast<storage::ClientState*>(user_data); }

template <class F>
int guarded(F&& f) noexcept {
    try {
        return f();
    } catch (...) {
        return SG_ERR_UNKNOWN;
    }
}

int put_buffer(signal_buffer** out, const std::string& bytes) {
    *out = signal_buffer_create(data_of(bytes), bytes.size());
    return *out ? 1 : SG_ERR_NOMEM;
}

signal_protocol_session_store session_store(storage::ClientState& state) {
    signal_protocol_session_store s{};
    s.load_session_func = [](signal_buffer** record, signal_buffer** user_record, const signal_protocol_address* a,
                             void* u) {
        return guarded([&] {
            auto r = state_of(u).session(name_of(a), a->device_id);
            if (!r) return 0;
            if (!r->user_record.empty() && put_buffer(user_record, r->user_record) < 0) return SG_ERR_NOMEM;
            return put_buffer(record, r->record);
        });
    };
    s.get_sub_device_sessions_func = [](signal_int_list** sessions, const char* name, size_t name_len, void* u) {
        return guarded([&] {
            signal_int_list* list = signal_int_list_alloc();
            if (!list) return SG_ERR_NOMEM;
            if (state_of(u).session({name, name_len}, 1)) signal_int_list_push_back(list, 1);
            *sessions = list;
            return static_cast<int>(signal_int_list_size(list));
        });
    };
    s.store_session_func = [](const signal_protocol_address* a, uint8_t* record, size_t len, uint8_t* user_record,
                              size_t user_len, void* u) {
        return guarded([&] {
            storage::SessionRecord r{{reinterpret_cast<char*>(record), len},
                                     user_record ? std::string(reinterpret_cast<char*>(user_record), user_len) : ""};
            state_of(u).store_session(name_of(a), a->device_id, r);
            return 0;
        });
    };
    s.contains_session_func = [](const signal_protocol_address* a, void* u) {
        return guarded([&] { return state_of(u).session(name_of(a), a->device_id) ? 1 : 0; });
    };
    s.delete_session_func = [](const signal_protocol_address* a, void* u) {
        return guarded([&] {
            state_of(u).delete_session(name_of(a), a->device_id);
            return 1;
        });
    };
    s.delete_all_sessions_func = [](const char* name, size_t name_len, void* u) {
        return guarded([&] {
            state_of(u).delete_session({name, name_len}, 1);
            return 1;
        });
    };
    s.user_data = &state;
    return s;
}

signal_protocol_pre_key_store prekey_store(storage::ClientState& state) {
    signal_protocol_pre_key_store s{};
    s.load_pre_key = [](signal_buffer** record, uint32_t id, void* u) {
        return guarded([&] {
            auto r = state_of(u).prekey(id);
            if (!r) return SG_ERR_INVALID_KEY_ID;
            return put_buffer(record, *r) < 0 ? SG_ERR_NOMEM : SG_SUCCESS;
        });
    };
    s.store_pre_key = [](uint32_t id, uint8_t* record, size_t len, void* u) {
        return guarded([&] {
            state_of(u).store_prekey(id, {reinterpret_cast<char*>(record), len});
            return 0;
        });
    };
    s.contains_pre_key = [](uint32_t id, void* u) { return guarded([&] { return state_of(u).prekey(id) ? 1 : 0; }); };
    s.remove_pre_key = [](uint32_t id, void* u) {
        return guarded([&] {
            state_of(u).remove_prekey(id);
            return 0;
        });
    };
    s.user_data = &state;
    return s;
}

signal_protocol_signed_pre_key_store signed_prekey_store(storage::ClientState& state) {
    signal_protocol_signed_pre_key_store s{};
    s.load_signed_pre_key = [](signal_buffer** record, uint32_t id, void* u) {
        return guarded([&] {
            auto r = state_of(u).signed_prekey(id);
            if (!r) return SG_ERR_INVALID_KEY_ID;
            return put_buffer(record, *r) < 0 ? SG_ERR_NOMEM : SG_SUCCESS;
        });
    };
    s.store_signed_pre_key = [](uint32_t id, uint8_t* record, size_t len, void* u) {
        return guarded([&] {
            state_of(u).store_signed_prekey(id, {reinterpret_cast<char*>(record), len});
            return 0;
        });
    };
    s.contains_signed_pre_key = [](uint32_t id, void* u) {
        return guarded([&] { return state_of(u).signed_prekey(id) ? 1 : 0; });
    };
    s.remove_signed_pre_key = [](uint32_t id, void* u) {
        return guarded([&] {
            state_of(u).remove_signed_prekey(id);
            return 0;
        });
    };
    s.user_data = &state;
    return s;
}

// Trust on first use: every identity is accepted, and a key that replaces another is flagged in
// the state so that the client announces the change before it sends to that user.
signal_protocol_identity_key_store identity_store(storage::ClientState& state) {
    signal_protocol_identity_key_store s{};
    s.get_identity_key_pair = [](signal_buffer** public_data, signal_buffer** private_data, void* u) {
        return guarded([&] {
            auto a = state_of(u).account();
            if (!a) return SG_ERR_UNKNOWN;
            if (put_buffer(public_data, a->identity_public) < 0 || put_buffer(private_data, a->identity_private) < 0) {
                return SG_ERR_NOMEM;
            }
            return 0;
        });
    };
    s.get_local_registration_id = [](void* u, uint32_t* id) {
        return guarded([&] {
            auto a = state_of(u).account();
            if (!a) return SG_ERR_UNKNOWN;
            *id = static_cast<uint32_t>(a->registration_id);
            return 0;
        });
    };
    s.save_identity = [](const signal_protocol_address* a, uint8_t* key, size_t len, void* u) {
        return guarded([&] {
            if (key) state_of(u).save_identity(name_of(a), {reinterpret_cast<char*>(key), len});
            return 0;
        });
    };
    s.is_trusted_identity = [](const signal_protocol_address*, uint8_t*, size_t, void*) { return 1; };
    s.user_data = &state;
    return s;
}

Ref<ec_public_key> decode_point(const std::string& bytes, const SignalContext& context) {
    ec_public_key* key = nullptr;
    check(curve_decode_point(&key, data_of(bytes), bytes.size(), context.get()), "curve_decode_point");
    return Ref<ec_public_key>(key);
}

signal_protocol_address address_of(const std::string& name) {
    return signal_protocol_address{name.c_str(), name.size(), 1};
}

struct CipherFree {
    void operator()(session_cipher* c) const noexcept { session_cipher_free(c); }
};

}  // namespace

std::string address_name(const std::string& user, const std::string& device) { return user + "/" + device; }

storage::ClientAccount new_identity(const SignalContext& context, const std::string& user, const std::string& device,
                                    const std::string& token) {
    ratchet_identity_key_pair* raw = nullptr;
    check(signal_protocol_key_helper_generate_identity_key_pair(&raw, context.get()), "generate_identity_key_pair");
    Ref<ratchet_identity_key_pair> pair(raw);
    uint32_t registration_id = 0;
    check(signal_protocol_key_helper_generate_registration_id(&registration_id, 0, context.get()),
          "generate_registration_id");
    signal_buffer* priv = nullptr;
    check(ec_private_key_serialize(&priv, ratchet_identity_key_pair_get_private(pair.get())), "ec_private_key_serialize");
    Buffer private_bytes(priv);
    storage::ClientAccount a;
    a.user = user, a.device = device, a.token = token;
    a.registration_id = registration_id;
    a.identity_public = serialize(ratchet_identity_key_pair_get_public(pair.get()));
    a.identity_private = bytes_of(private_bytes.get());
    return a;
}

void SignalDevice::StoreDestroy::operator()(signal_protocol_store_context* s) const noexcept {
    signal_protocol_store_context_destroy(s);
}

SignalDevice::SignalDevice(const SignalContext& context, storage::ClientState& state)
    : context_(context), state_(state) {
    auto a = state.account();
    if (!a) throw std::runtime_error("no account in the state file: register first");
    account_ = *a;
    signal_protocol_store_context* created = nullptr;
    check(signal_protocol_store_context_create(&created, context.get()), "store_context_create");
    store_.reset(created);
    auto sessions = session_store(state);
    auto prekeys = prekey_store(state);
    auto signed_prekeys = signed_prekey_store(state);
    auto identities = identity_store(state);
    check(signal_protocol_store_context_set_session_store(created, &sessions), "set_session_store");
    check(signal_protocol_store_context_set_pre_key_store(created, &prekeys), "set_pre_key_store");
    check(signal_protocol_store_context_set_signed_pre_key_store(created, &signed_prekeys), "set_signed_pre_key_store");
    check(signal_protocol_store_context_set_identity_key_store(created, &identities), "set_identity_key_store");
}

SignalDevice::~SignalDevice() = default;

KeyUpload SignalDevice::new_keys(size_t count, bool rotate) {
    KeyUpload up;
    up.identity_key = account_.identity_public;
    up.registration_id = account_.registration_id;
    storage::Transaction tx(state_.db());
    if (rotate || account_.signed_prekey_id == 0) {
        ratchet_identity_key_pair* raw_pair = nullptr;
        check(signal_protocol_identity_get_key_pair(store_.get(), &raw_pair), "identity_get_key_pair");
        Ref<ratchet_identity_key_pair> pair(raw_pair);
        session_signed_pre_key* raw_signed = nullptr;
        const auto id = static_cast<uint32_t>(account_.signed_prekey_id % 0xFFFFFF + 1);
        const auto now = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        check(signal_protocol_key_helper_generate_signed_pre_key(&raw_signed, pair.get(), id, now, context_.get()),
              "generate_signed_pre_key");
        Ref<session_signed_pre_key> signed_key(raw_signed);
        signal_buffer* record = nullptr;
        check(session_signed_pre_key_serialize(&record, signed_key.get()), "signed_pre_key_serialize");
        Buffer record_bytes(record);
        // Old signed prekeys stay: a session a peer started from one is still being set up.
        state_.store_signed_prekey(id, bytes_of(record_bytes.get()));
        account_.signed_prekey_id = id;
        up.signed_key = serialize(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed_key.get())));
        up.signature = {reinterpret_cast<const char*>(session_signed_pre_key_get_signature(signed_key.get())),
                        session_signed_pre_key_get_signature_len(signed_key.get())};
        up.signed_id = id;
    }
    if (count > 0) {
        signal_protocol_key_helper_pre_key_list_node* head = nullptr;
        const auto start = static_cast<unsigned>(account_.next_prekey_id);
        check(signal_protocol_key_helper_generate_pre_keys(&head, start, static_cast<unsigned>(count), context_.get()),
              "generate_pre_keys");
        std::unique_ptr<signal_protocol_key_helper_pre_key_list_node, void (*)(signal_protocol_key_helper_pre_key_list_node*)>
            list(head, signal_protocol_key_helper_key_list_free);
        for (auto* node = head; node; node = signal_protocol_key_helper_key_list_next(node)) {
            session_pre_key* key = signal_protocol_key_helper_key_list_element(node);
            signal_buffer* record = nullptr;
            check(session_pre_key_serialize(&record, key), "pre_key_serialize");
            Buffer record_bytes(record);
            state_.store_prekey(session_pre_key_get_id(key), bytes_of(record_bytes.get()));
            up.prekeys.push_back({session_pre_key_get_id(key), serialize(ec_key_pair_get_public(session_pre_key_get_key_pair(key)))});
        }
        // The library wraps ids at 0xFFFFFE; so do we.
        account_.next_prekey_id = (account_.next_prekey_id - 1 + static_cast<int64_t>(count)) % 0xFFFFFE + 1;
    }
    state_.save_account(account_);
    tx.commit();
    return up;
}

bool SignalDevice::has_session(const std::string& user, const std::string& device) {
    return state_.session(address_name(user, device), 1).has_value();
}

void SignalDevice::start_session(const RemoteBundle& b) {
    auto identity = decode_point(b.identity_key, context_);
    auto signed_key = decode_point(b.signed_key, context_);
    Ref<ec_public_key> prekey;
    if (b.prekey) prekey = decode_point(b.prekey->key, context_);
    session_pre_key_bundle* raw = nullptr;
    check(session_pre_key_bundle_create(&raw, static_cast<uint32_t>(b.registration_id), 1,
                                        b.prekey ? static_cast<uint32_t>(b.prekey->id) : 0, prekey.get(),
                                        static_cast<uint32_t>(b.signed_id), signed_key.get(), data_of(b.signature),
                                        b.signature.size(), identity.get()),
          "pre_key_bundle_create");
    Ref<session_pre_key_bundle> bundle(raw);
    const auto name = address_name(b.user, b.device);
    auto address = address_of(name);
    session_builder* builder = nullptr;
    check(session_builder_create(&builder, store_.get(), &address, context_.get()), "session_builder_create");
    std::unique_ptr<session_builder, void (*)(session_builder*)> owned(builder, session_builder_free);
    check(session_builder_process_pre_key_bundle(builder, bundle.get()), "process_pre_key_bundle");
}

Ciphertext SignalDevice::encrypt(const std::string& user, const std::string& device, const std::string& plaintext) {
    const auto name = address_name(user, device);
    auto address = address_of(name);
    session_cipher* raw = nullptr;
    check(session_cipher_create(&raw, store_.get(), &address, context_.get()), "session_cipher_create");
    std::unique_ptr<session_cipher, CipherFree> cipher(raw);
    ciphertext_message* message = nullptr;
    check(session_cipher_encrypt(cipher.get(), data_of(plaintext), plaintext.size(), &message), "session_cipher_encrypt");
    Ref<ciphertext_message> owned(message);
    const int type = ciphertext_message_get_type(message);
    return Ciphertext{user, device, type == CIPHERTEXT_PREKEY_TYPE ? CipherType::prekey : CipherType::normal,
                      bytes_of(ciphertext_message_get_serialized(message))};
}

std::optional<std::string> SignalDevice::decrypt(const std::string& user, const std::string& device, CipherType type,
                                                 const std::string& bytes, std::string* why) {
    const auto name = address_name(user, device);
    auto address = address_of(name);
    session_cipher* raw = nullptr;
    check(session_cipher_create(&raw, store_.get(), &address, context_.get()), "session_cipher_create");
    std::unique_ptr<session_cipher, CipherFree> cipher(raw);
    signal_buffer* plain = nullptr;
    int rc = 0;
    if (type == CipherType::prekey) {
        pre_key_signal_message* message = nullptr;
        rc = pre_key_signal_message_deserialize(&message, data_of(bytes), bytes.size(), context_.get());
        Ref<pre_key_signal_message> owned(message);
        if (rc >= 0) rc = session_cipher_decrypt_pre_key_signal_message(cipher.get(), message, nullptr, &plain);
    } else {
        signal_message* message = nullptr;
        rc = signal_message_deserialize(&message, data_of(bytes), bytes.size(), context_.get());
        Ref<signal_message> owned(message);
        if (rc >= 0) rc = session_cipher_decrypt_signal_message(cipher.get(), message, nullptr, &plain);
    }
    Buffer owned_plain(plain);
    if (rc < 0) {
        if (why) {
            *why = rc == SG_ERR_DUPLICATE_MESSAGE ? "duplicate"
                   : rc == SG_ERR_NO_SESSION      ? "no session"
                   : rc == SG_ERR_INVALID_KEY_ID  ? "unknown prekey"
                                                  : "invalid message (" + std::to_string(rc) + ")";
        }
        return std::nullopt;
    }
    return bytes_of(plain);
}

}  // namespace chat::e2e
