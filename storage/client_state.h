// The terminal client's own state file (not the server's database): account, Signal protocol
// records (sessions, prekeys, identities), sync position, seen ids and sent messages.
#pragma once

#include "db.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct ClientAccount {
    std::string user, device, token;
    int64_t registration_id = 0;
    std::string identity_public, identity_private;  // the library's serialised key pair
    int64_t next_prekey_id = 1;
    int64_t signed_prekey_id = 0;
};

struct SessionRecord {
    std::string record, user_record;
};

// One connection, one thread. The file is created with mode 0600 (it holds private keys).
class ClientState {
public:
    explicit ClientState(const std::string& path);

    Database& db() { return db_; }

    std::optional<ClientAccount> account();
    void save_account(const ClientAccount& a);

    std::optional<SessionRecord> session(const std::string& name, int64_t device);
    void store_session(const std::string& name, int64_t device, const SessionRecord& r);
    void delete_session(const std::string& name, int64_t device);
    // Names ("user/device") with a session, for names that start with `prefix`.
    std::vector<std::string> session_names(const std::string& prefix);

    std::optional<std::string> prekey(int64_t id);
    void store_prekey(int64_t id, const std::string& record);
    void remove_prekey(int64_t id);
    std::optional<std::string> signed_prekey(int64_t id);
    void store_signed_prekey(int64_t id, const std::string& record);
    void remove_signed_prekey(int64_t id);

    // Remote identity keys by address name ("user/device"), first seen trusted.
    std::optional<std::string> identity(const std::string& name);
    // Stores the key; returns true when it replaced a different one (an identity change, kept
    // flagged until changed_identities() has reported it).
    bool save_identity(const std::string& name, const std::string& key);
    std::vector<std::string> changed_identities(const std::string& user_prefix);
    void clear_changed(const std::string& user_prefix);
    // Identity keys of one user's devices, by name, in name order.
    std::vector<std::pair<std::string, std::string>> identities_of(const std::string& user_prefix);

    int64_t last_seq();
    void set_last_seq(int64_t seq);
    // Records an entry id; false when it was seen before (a duplicate delivery).
    bool mark_seen(const std::string& id);
    // Messages this device sent: cid first, the server's id once the `sent` copy names it.
    void remember_sent(const std::string& cid, const std::string& to);
    bool is_own_send(const std::string& cid);
    void bind_sent(const std::string& cid, const std::string& id);
    std::optional<std::string> cid_of(const std::string& id);

private:
    Database db_;
    Statement account_, save_account_, session_, store_session_, delete_session_, session_names_, prekey_, store_prekey_,
        remove_prekey_, signed_, store_signed_, remove_signed_, identity_, save_identity_, changed_, clear_changed_,
        identities_of_, last_seq_, set_last_seq_, seen_, remember_sent_, own_send_, bind_sent_, cid_of_;
};

}  // namespace chat::storage
