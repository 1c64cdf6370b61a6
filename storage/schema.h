// The ordered list of schema migrations; version N is the N-th entry, in both dialects.
#pragma once

#include <vector>

namespace chat::storage {

// One schema version: its SQLite DDL and, side by side, its PostgreSQL twin (INTEGER -> BIGINT,
// BLOB -> BYTEA, no WITHOUT ROWID, AUTOINCREMENT -> identity, triggers as plpgsql functions).
// A version written with its SQLite DDL alone opens on SQLite; PostgreSQL refuses to migrate
// past it ("has no PostgreSQL twin") until the twin is added as the second string.
struct Migration {
    Migration(const char* sqlite_ddl) : sqlite(sqlite_ddl) {}  // NOLINT: a bare string appends a SQLite-only step
    Migration(const char* sqlite_ddl, const char* postgres_ddl) : sqlite(sqlite_ddl), postgres(postgres_ddl) {}
    const char* sqlite;
    const char* postgres = nullptr;
};

// Append new migrations at the end; never edit or reorder a released one.
const std::vector<Migration>& migrations();

}  // namespace chat::storage
