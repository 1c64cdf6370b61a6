// Schema migrations, applied in order inside one transaction at open.
#include "schema.h"

namespace chat::storage {

const std::vector<const char*>& migrations() {
    static const std::vector<const char*> steps = {
        // v1: accounts, inbox, groups, blocks, ACL change feed.
        R"sql(
CREATE TABLE users(
  id TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,       -- highest inbox seq handed out
  delivered_seq INTEGER NOT NULL DEFAULT 0,  -- highest seq any device acked
  last_seen_ms INTEGER,
  hide_presence INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE devices(
  user_id TEXT NOT NULL REFERENCES users(id),
  device_id TEXT NOT NULL,
  token_hash BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  identity_key BLOB,
  compact INTEGER NOT NULL DEFAULT 0,
  online INTEGER NOT NULL DEFAULT 0,
  cursor INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, device_id)
) WITHOUT ROWID;
CREATE TABLE inbox(
  user_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_user TEXT NOT NULL,
  to_user TEXT,
  gid TEXT,
  ts INTEGER NOT NULL,
  body BLOB,
  ref TEXT,
  cid TEXT,
  expires_ms INTEGER,
  PRIMARY KEY(user_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX inbox_by_id ON inbox(user_id, id);
CREATE UNIQUE INDEX inbox_by_cid ON inbox(user_id, cid) WHERE cid IS NOT NULL;
CREATE TABLE groups(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_members(
  gid TEXT NOT NULL REFERENCES groups(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  is_admin INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(gid, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(user_id);
CREATE TABLE group_outbox(
  id TEXT PRIMARY KEY,
  gid TEXT NOT NULL,
  from_user TEXT NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body BLOB,
  ref TEXT,
  expires_ms INTEGER,
  done INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE blocks(
  blocker TEXT NOT NULL,
  blocked TEXT NOT NULL,
  PRIMARY KEY(blocker, blocked)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks(blocked);
CREATE TABLE acl_changes(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL
);
)sql",
        // Sidecar: pending verification codes, token lookup for HTTP auth, media blobs and resumable uploads.
        R"sql(
CREATE TABLE verification_codes(
  phone TEXT PRIMARY KEY,              -- user id form (E.164 digits)
  code_hash BLOB NOT NULL,
  expires_ms INTEGER NOT NULL,
  attempts_left INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX devices_by_token ON devices(token_hash);
CREATE TABLE media(
  id TEXT PRIMARY KEY,                 -- hex BLAKE2b-256 of the bytes
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE uploads(
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  length INTEGER NOT NULL,             -- declared total size; the part file's size is the offset
  created_ms INTEGER NOT NULL,
  media_id TEXT                        -- set once complete, so a client that lost the last answer can learn it
) WITHOUT ROWID;
)sql",
        // bridge: expiry indexes, the pending fan-out index, the group change feed
        // (filled by triggers, so every writer of group_members feeds it) and bridge state.
        R"sql(
CREATE INDEX inbox_by_expiry ON inbox(expires_ms) WHERE expires_ms IS NOT NULL;
CREATE INDEX inbox_by_ts ON inbox(ts);
CREATE INDEX group_outbox_pending ON group_outbox(ts) WHERE done = 0;
CREATE TABLE group_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  gid TEXT NOT NULL,
  user_id TEXT NOT NULL,
  change TEXT NOT NULL,
  ts INTEGER NOT NULL
);
CREATE TRIGGER group_member_added AFTER INSERT ON group_members BEGIN
  INSERT INTO group_events(gid, user_id, change, ts)
  VALUES(NEW.gid, NEW.user_id, 'added', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER group_member_removed AFTER DELETE ON group_members BEGIN
  INSERT INTO group_events(gid, user_id, change, ts)
  VALUES(OLD.gid, OLD.user_id, 'removed', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TABLE bridge_state(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
        // Inbox journal: how far the plugin's importer got (segment, byte offset), so that
        // recovery after a kill -9 does not re-import (and resurrect swept) older records.
        R"sql(
CREATE TABLE journal_mark(
  only INTEGER PRIMARY KEY CHECK (only = 1),
  segment INTEGER NOT NULL,
  offset INTEGER NOT NULL
);
)sql",
        // Push debounce shared by all bridges: when each user was last pushed.
        R"sql(
CREATE TABLE push_claims(
  user_id TEXT PRIMARY KEY,
  last_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
        // The inbox in arrival order (a rowid table) instead of clustered by (user, seq): a
        // commit of many conversations' entries then appends its rows to one end of the table
        // rather than rewriting a page per user; only (user, seq)'s small entries are per user
        // (in-process, with 1000 users, a direct message cost the import ~3x less). Ids begin
        // with their entry's ts in fixed-width hex, so the index by (id, user) is in time order
        // too: it serves lookups by id and the age sweeps, and replaces inbox_by_ts.
        R"sql(
CREATE TABLE inbox_by_arrival(
  user_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_user TEXT NOT NULL,
  to_user TEXT,
  gid TEXT,
  ts INTEGER NOT NULL,
  body BLOB,
  ref TEXT,
  cid TEXT,
  expires_ms INTEGER
);
INSERT INTO inbox_by_arrival(user_id, seq, id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms)
  SELECT user_id, seq, id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms FROM inbox
  ORDER BY ts, user_id, seq;
DROP TABLE inbox;
ALTER TABLE inbox_by_arrival RENAME TO inbox;
CREATE UNIQUE INDEX inbox_by_seq ON inbox(user_id, seq);
CREATE UNIQUE INDEX inbox_by_id ON inbox(id, user_id);
CREATE UNIQUE INDEX inbox_by_cid ON inbox(user_id, cid) WHERE cid IS NOT NULL;
CREATE INDEX inbox_by_expiry ON inbox(expires_ms) WHERE expires_ms IS NOT NULL;
)sql",
        // v7: delivered receipts made from the durable delivered mark rather than from the k/
        // forward alone (lost for good when a bridge died after its PUBACK). Receipts are made
        // up to receipts_done; a run (receipts_done, receipts_target] stamped receipts_ms is
        // under way while target > done, so a bridge redoing it names the receipts alike.
        // Users with receipts owed are found through the small partial index. Existing users
        // start with everything delivered so far counted as done (their receipts were made).
        R"sql(
ALTER TABLE users ADD COLUMN receipts_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN receipts_target INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN receipts_ms INTEGER NOT NULL DEFAULT 0;
UPDATE users SET receipts_done = delivered_seq, receipts_target = delivered_seq;
CREATE INDEX users_receipts_owed ON users(id) WHERE delivered_seq > receipts_done;
)sql",
        // v8: a client message id is unique per (sender, conversation), not per sender: the same
        // cid towards another recipient or group is a new message, not a retry of the old one.
        // The conversation of a `sent` copy is its gid, or else its recipient.
        R"sql(
DROP INDEX inbox_by_cid;
CREATE UNIQUE INDEX inbox_by_cid ON inbox(user_id, cid, COALESCE(gid, to_user)) WHERE cid IS NOT NULL;
)sql",
        // v9: a `sent` entry remembers the device that sent it, so a sync to that device (lean
        // encoding) confirms it instead of sending the body back.
        R"sql(
ALTER TABLE inbox ADD COLUMN device TEXT;
)sql",
        // v10: a name the user gives each device (self-service device list).
        R"sql(
ALTER TABLE devices ADD COLUMN name TEXT;
)sql",
        // v11: a push token per device (sent through a Matrix-style push gateway, debounced per
        // device by last_push_ms) and per-conversation settings every device of a user shares.
        R"sql(
CREATE TABLE push_tokens(
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  provider TEXT NOT NULL,              -- fcm, apns, webpush or webhook
  app_id TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  registered_ms INTEGER NOT NULL,
  last_push_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, device_id)
);
CREATE INDEX push_tokens_by_key ON push_tokens(pushkey);
CREATE TABLE conversation_settings(
  user_id TEXT NOT NULL,
  conversation TEXT NOT NULL,          -- a group id, or the other user's id
  muted INTEGER NOT NULL DEFAULT 0,
  archived INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, conversation)
);
)sql",
        // v12: group settings, the actor and detail of each group change (notices name who did
        // what), per-user profiles with their privacy settings (visibilities and group_adds are
        // 'everyone', 'contacts' or 'nobody'), and the feed of profile changes the bridge turns
        // into notices for the user's contacts.
        R"sql(
ALTER TABLE groups ADD COLUMN description TEXT;
ALTER TABLE groups ADD COLUMN avatar TEXT;
ALTER TABLE groups ADD COLUMN admins_only_send INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN admins_only_edit INTEGER NOT NULL DEFAULT 1;
ALTER TABLE group_events ADD COLUMN actor TEXT;
ALTER TABLE group_events ADD COLUMN detail TEXT;
CREATE TABLE profiles(
  user_id TEXT PRIMARY KEY,
  display_name TEXT,
  about TEXT,
  avatar TEXT,
  name_visibility TEXT NOT NULL DEFAULT 'everyone',
  about_visibility TEXT NOT NULL DEFAULT 'everyone',
  avatar_visibility TEXT NOT NULL DEFAULT 'everyone',
  last_seen_visibility TEXT NOT NULL DEFAULT 'everyone',
  group_adds TEXT NOT NULL DEFAULT 'everyone',
  updated_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE profile_events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  ts INTEGER NOT NULL
);
)sql",
        // v13: broadcast lists: a user's named lists of recipients. One publish to l/{list}
        // becomes a 1:1 message to each member (the bridge fans it out from group_outbox, whose
        // gid column then holds the list id). List ids are unique over all users.
        R"sql(
CREATE TABLE broadcast_lists(
  owner_id TEXT NOT NULL,
  list_id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY(owner_id, list_id)
);
CREATE UNIQUE INDEX broadcast_lists_by_id ON broadcast_lists(list_id);
CREATE TABLE broadcast_members(
  owner_id TEXT NOT NULL,
  list_id TEXT NOT NULL,
  member_id TEXT NOT NULL,
  PRIMARY KEY(owner_id, list_id, member_id)
);
)sql",
        // v14: the prekey directory (end-to-end sessions, X3DH): per device its registration id
        // and current signed prekey, and one-time prekeys, each handed out once (then deleted).
        // The device's identity key stays in devices.identity_key.
        R"sql(
CREATE TABLE signed_prekeys(
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  registration_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY(user_id, device_id)
);
CREATE TABLE one_time_prekeys(
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY(user_id, device_id, key_id)
);
)sql",
    };
    return steps;
}

}  // namespace chat::storage
