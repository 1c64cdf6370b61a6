// copy_database: table by table, row by row through prepared statements, ids kept.
#include "copy.h"

#include <vector>

namespace chat::storage {
namespace {

// A table and its columns, each `i` (integer), `t` (text) or `b` (blob). Parents before children
// (foreign keys); a table added by a migration is added here too.
struct Table {
    const char* name;
    std::vector<std::pair<const char*, char>> columns;
};

const std::vector<Table>& tables() {
    static const std::vector<Table> all = {
        {"users", {{"id", 't'}, {"created_ms", 'i'}, {"last_seq", 'i'}, {"delivered_seq", 'i'}, {"last_seen_ms", 'i'},
                   {"hide_presence", 'i'}, {"receipts_done", 'i'}, {"receipts_target", 'i'}, {"receipts_ms", 'i'}}},
        {"devices", {{"user_id", 't'}, {"device_id", 't'}, {"token_hash", 'b'}, {"created_ms", 'i'}, {"revoked", 'i'},
                     {"identity_key", 'b'}, {"compact", 'i'}, {"online", 'i'}, {"cursor", 'i'}}},
        {"inbox", {{"user_id", 't'}, {"seq", 'i'}, {"id", 't'}, {"kind", 't'}, {"from_user", 't'}, {"to_user", 't'},
                   {"gid", 't'}, {"ts", 'i'}, {"body", 'b'}, {"ref", 't'}, {"cid", 't'}, {"expires_ms", 'i'},
                   {"device", 't'}}},
        {"groups", {{"id", 't'}, {"name", 't'}, {"created_ms", 'i'}}},
        {"group_members", {{"gid", 't'}, {"user_id", 't'}, {"is_admin", 'i'}}},
        {"group_outbox", {{"id", 't'}, {"gid", 't'}, {"from_user", 't'}, {"ts", 'i'}, {"kind", 't'}, {"body", 'b'},
                          {"ref", 't'}, {"expires_ms", 'i'}, {"done", 'i'}, {"to_user", 't'}}},
        {"blocks", {{"blocker", 't'}, {"blocked", 't'}}},
        {"acl_changes", {{"id", 'i'}, {"user_id", 't'}}},
        {"verification_codes", {{"phone", 't'}, {"code_hash", 'b'}, {"expires_ms", 'i'}, {"attempts_left", 'i'},
                                {"created_ms", 'i'}}},
        {"media", {{"id", 't'}, {"size", 'i'}, {"created_ms", 'i'}}},
        {"uploads", {{"id", 't'}, {"user_id", 't'}, {"length", 'i'}, {"created_ms", 'i'}, {"media_id", 't'}}},
        {"group_events", {{"id", 'i'}, {"gid", 't'}, {"user_id", 't'}, {"change", 't'}, {"ts", 'i'}}},
        {"bridge_state", {{"key", 't'}, {"value", 'i'}}},
        {"journal_mark", {{"only", 'i'}, {"segment", 'i'}, {"offset", 'i'}}},
        {"node_journal_marks", {{"node_id", 't'}, {"segment", 'i'}, {"offset", 'i'}}},
        {"push_claims", {{"user_id", 't'}, {"last_ms", 'i'}}},
    };
    return all;
}

int64_t copy_table(Database& from, Database& to, const Table& t) {
    std::string names, marks;
    for (const auto& [name, type] : t.columns) {
        names += std::string(names.empty() ? "" : ", ") + "\"" + name + "\"";  // "only", "offset": reserved words
        marks += marks.empty() ? "?" : ", ?";
    }
    Statement read(from, "SELECT " + names + " FROM " + t.name);
    Statement write(to, "INSERT INTO " + std::string(t.name) + "(" + names + ") VALUES(" + marks + ")");
    ResetOnExit r(read);
    int64_t rows = 0;
    while (read.step()) {
        for (int i = 0; i < static_cast<int>(t.columns.size()); ++i) {
            char type = t.columns[static_cast<size_t>(i)].second;
            if (read.is_null(i)) {
                write.bind_null(i + 1);
            } else if (type == 'i') {
                write.bind(i + 1, read.int_at(i));
            } else if (type == 'b') {
                write.bind_blob(i + 1, read.blob_at(i));
            } else {
                write.bind(i + 1, read.text_at(i));
            }
        }
        write.run();
        ++rows;
    }
    return rows;
}

}  // namespace

std::map<std::string, int64_t> copy_database(Database& from, Database& to) {
    if (from.schema_version() != to.schema_version()) {
        throw NotAllowed("the databases are at different schema versions; run the same release on both");
    }
    {
        Statement users(to, "SELECT COUNT(*) FROM users");
        users.step();
        if (users.int_at(0) != 0) throw NotAllowed("the target database is not empty (it has users)");
    }
    std::map<std::string, int64_t> copied;
    Transaction tx(to);
    for (const Table& t : tables()) {
        // Copying group_members fires the triggers that feed group_events: the copied feed replaces what they wrote.
        if (std::string(t.name) == "group_events") to.exec("DELETE FROM group_events");
        copied[t.name] = copy_table(from, to, t);
    }
    if (to.backend() == Backend::postgres) {
        // Identity columns were given their ids: the next ids continue after them.
        to.exec("SELECT setval(pg_get_serial_sequence('acl_changes', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                "FROM acl_changes");
        to.exec("SELECT setval(pg_get_serial_sequence('group_events', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                "FROM group_events");
    }
    tx.commit();
    return copied;
}

}  // namespace chat::storage
