// Schema and prepared statements of the terminal client's state file.
#include "client_state.h"

#include "schema.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace chat::storage {
namespace {

const std::vector<Migration>& client_migrations() {
    static const std::vector<Migration> steps = {
        // v1: everything the client keeps.
        R"sql(
CREATE TABLE account(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  token TEXT NOT NULL,
  registration_id INTEGER NOT NULL,
  identity_public BLOB NOT NULL,
  identity_private BLOB NOT NULL,
  next_prekey_id INTEGER NOT NULL,
  signed_prekey_id INTEGER NOT NULL
);
CREATE TABLE sessions(name TEXT NOT NULL, device INTEGER NOT NULL, record BLOB NOT NULL, user_record BLOB,
  PRIMARY KEY(name, device));
CREATE TABLE prekeys(id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE signed_prekeys(id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE identities(name TEXT PRIMARY KEY, key BLOB NOT NULL, changed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sync(id INTEGER PRIMARY KEY CHECK(id = 1), last_seq INTEGER NOT NULL);
CREATE TABLE seen(id TEXT PRIMARY KEY);
CREATE TABLE sent(cid TEXT PRIMARY KEY, to_name TEXT NOT NULL, id TEXT);
CREATE INDEX sent_by_id ON sent(id);
)sql",
    };
    return steps;
}

// Creates the file owner-only before SQLite opens it (its -wal and -shm files take the same mode).
std::string private_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot create " + path);
    ::fchmod(fd, 0600);
    ::close(fd);
    return path;
}

std::optional<std::string> blob_or_none(Statement& s) {
    ResetOnExit r(s);
    if (!s.step()) return std::nullopt;
    return s.blob_at(0);
}

}  // namespace

ClientState::ClientState(const std::string& path)
    : db_(private_file(path), client_migrations()),
      account_(db_, "SELECT user_id, device_id, token, registration_id, identity_public, identity_private, "
                    "next_prekey_id, signed_prekey_id FROM account WHERE id = 1"),
      save_account_(db_, "INSERT INTO account(id, user_id, device_id, token, registration_id, identity_public, "
                         "identity_private, next_prekey_id, signed_prekey_id) VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET user_id = excluded.user_id, device_id = excluded.device_id, "
                         "token = excluded.token, registration_id = excluded.registration_id, "
                         "identity_public = excluded.identity_public, identity_private = excluded.identity_private, "
                         "next_prekey_id = excluded.next_prekey_id, signed_prekey_id = excluded.signed_prekey_id"),
      session_(db_, "SELECT record, user_record FROM sessions WHERE name = ? AND device = ?"),
      store_session_(db_, "INSERT INTO sessions(name, device, record, user_record) VALUES(?, ?, ?, ?) "
                          "ON CONFLICT(name, device) DO UPDATE SET record = excluded.record, "
                          "user_record = excluded.user_record"),
      delete_session_(db_, "DELETE FROM sessions WHERE name = ? AND device = ?"),
      session_names_(db_, "SELECT name FROM sessions WHERE substr(name, 1, length(?)) = ? ORDER BY name"),
      prekey_(db_, "SELECT record FROM prekeys WHERE id = ?"),
      store_prekey_(db_, "INSERT INTO prekeys(id, record) VALUES(?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record"),
      remove_prekey_(db_, "DELETE FROM prekeys WHERE id = ?"),
      signed_(db_, "SELECT record FROM signed_prekeys WHERE id = ?"),
      store_signed_(db_, "INSERT INTO signed_prekeys(id, record) VALUES(?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET record = excluded.record"),
      remove_signed_(db_, "DELETE FROM signed_prekeys WHERE id = ?"),
      identity_(db_, "SELECT key FROM identities WHERE name = ?"),
      save_identity_(db_, "INSERT INTO identities(name, key) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET "
                          "changed = CASE WHEN identities.key = excluded.key THEN identities.changed ELSE 1 END, "
                          "key = excluded.key"),
      changed_(db_, "SELECT name FROM identities WHERE changed = 1 AND substr(name, 1, length(?)) = ? ORDER BY name"),
      clear_changed_(db_, "UPDATE identities SET changed = 0 WHERE substr(name, 1, length(?)) = ?"),
      identities_of_(db_, "SELECT name, key FROM identities WHERE substr(name, 1, length(?)) = ? ORDER BY name"),
      last_seq_(db_, "SELECT COALESCE(MAX(last_seq), 0) FROM sync"),
      set_last_seq_(db_, "INSERT INTO sync(id, last_seq) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET last_seq = excluded.last_seq"),
      seen_(db_, "INSERT INTO seen(id) VALUES(?) ON CONFLICT(id) DO NOTHING"),
      remember_sent_(db_, "INSERT INTO sent(cid, to_name) VALUES(?, ?) ON CONFLICT(cid) DO NOTHING"),
      own_send_(db_, "SELECT COUNT(*) FROM sent WHERE cid = ?"),
      bind_sent_(db_, "UPDATE sent SET id = ? WHERE cid = ?"),
      cid_of_(db_, "SELECT cid FROM sent WHERE id = ?") {}

std::optional<ClientAccount> ClientState::account() {
    ResetOnExit r(account_);
    if (!account_.step()) return std::nullopt;
    return ClientAccount{account_.text_at(0), account_.text_at(1), account_.text_at(2), account_.int_at(3),
                         account_.blob_at(4), account_.blob_at(5), account_.int_at(6), account_.int_at(7)};
}

void ClientState::save_account(const ClientAccount& a) {
    save_account_.bind(1, a.user).bind(2, a.device).bind(3, a.token).bind(4, a.registration_id);
    save_account_.bind_blob(5, a.identity_public).bind_blob(6, a.identity_private).bind(7, a.next_prekey_id);
    save_account_.bind(8, a.signed_prekey_id).run();
}

std::optional<SessionRecord> ClientState::session(const std::string& name, int64_t device) {
    ResetOnExit r(session_);
    if (!session_.bind(1, name).bind(2, device).step()) return std::nullopt;
    return SessionRecord{session_.blob_at(0), session_.is_null(1) ? std::string() : session_.blob_at(1)};
}

void ClientState::store_session(const std::string& name, int64_t device, const SessionRecord& r) {
    store_session_.bind(1, name).bind(2, device).bind_blob(3, r.record);
    if (r.user_record.empty()) {
        store_session_.bind_null(4);
    } else {
        store_session_.bind_blob(4, r.user_record);
    }
    store_session_.run();
}

void ClientState::delete_session(const std::string& name, int64_t device) {
    delete_session_.bind(1, name).bind(2, device).run();
}

std::vector<std::string> ClientState::session_names(const std::string& prefix) {
    ResetOnExit r(session_names_);
    std::vector<std::string> names;
    session_names_.bind(1, prefix).bind(2, prefix);
    while (session_names_.step()) names.push_back(session_names_.text_at(0));
    return names;
}

std::optional<std::string> ClientState::prekey(int64_t id) {
    prekey_.bind(1, id);
    return blob_or_none(prekey_);
}
void ClientState::store_prekey(int64_t id, const std::string& record) { store_prekey_.bind(1, id).bind_blob(2, record).run(); }
void ClientState::remove_prekey(int64_t id) { remove_prekey_.bind(1, id).run(); }

std::optional<std::string> ClientState::signed_prekey(int64_t id) {
    signed_.bind(1, id);
    return blob_or_none(signed_);
}
void ClientState::store_signed_prekey(int64_t id, const std::string& record) {
    store_signed_.bind(1, id).bind_blob(2, record).run();
}
void ClientState::remove_signed_prekey(int64_t id) { remove_signed_.bind(1, id).run(); }

std::optional<std::string> ClientState::identity(const std::string& name) {
    identity_.bind(1, name);
    return blob_or_none(identity_);
}

bool ClientState::save_identity(const std::string& name, const std::string& key) {
    auto before = identity(name);
    save_identity_.bind(1, name).bind_blob(2, key).run();
    return before && *before != key;
}

std::vector<std::string> ClientState::changed_identities(const std::string& user_prefix) {
    ResetOnExit r(changed_);
    std::vector<std::string> names;
    changed_.bind(1, user_prefix).bind(2, user_prefix);
    while (changed_.step()) names.push_back(changed_.text_at(0));
    return names;
}

void ClientState::clear_changed(const std::string& user_prefix) {
    clear_changed_.bind(1, user_prefix).bind(2, user_prefix).run();
}

std::vector<std::pair<std::string, std::string>> ClientState::identities_of(const std::string& user_prefix) {
    ResetOnExit r(identities_of_);
    std::vector<std::pair<std::string, std::string>> out;
    identities_of_.bind(1, user_prefix).bind(2, user_prefix);
    while (identities_of_.step()) out.emplace_back(identities_of_.text_at(0), identities_of_.blob_at(1));
    return out;
}

int64_t ClientState::last_seq() {
    ResetOnExit r(last_seq_);
    last_seq_.step();
    return last_seq_.int_at(0);
}

void ClientState::set_last_seq(int64_t seq) { set_last_seq_.bind(1, seq).run(); }

bool ClientState::mark_seen(const std::string& id) {
    seen_.bind(1, id).run();
    return db_.changes() > 0;
}

void ClientState::remember_sent(const std::string& cid, const std::string& to) { remember_sent_.bind(1, cid).bind(2, to).run(); }

bool ClientState::is_own_send(const std::string& cid) {
    ResetOnExit r(own_send_);
    own_send_.bind(1, cid).step();
    return own_send_.int_at(0) > 0;
}

void ClientState::bind_sent(const std::string& cid, const std::string& id) { bind_sent_.bind(1, id).bind(2, cid).run(); }

std::optional<std::string> ClientState::cid_of(const std::string& id) {
    ResetOnExit r(cid_of_);
    if (!cid_of_.bind(1, id).step()) return std::nullopt;
    return cid_of_.text_at(0);
}

}  // namespace chat::storage
