// RAII wrappers over one database connection, SQLite or PostgreSQL: Database, Statement, Transaction.
// A Database and its Statements belong to one thread; open one Database per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chat::storage {

struct Migration;  // schema.h

class Connection;
class Cursor;

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A statement broke a UNIQUE, NOT NULL, CHECK or foreign key constraint (that statement's
// changes are undone; the transaction goes on).
class ConstraintError : public Error {
public:
    using Error::Error;
};

// A change that a rule of the data refuses (e.g. adding to a group a user who blocked the
// one adding): front ends answer it as "not allowed" (HTTP 403, chatctl exit 1).
class NotAllowed : public Error {
public:
    using Error::Error;
};

enum class Backend { sqlite, postgres };

// Which backend a location names: a `postgresql://` (or `postgres://`) URL, else a SQLite path.
Backend backend_of(std::string_view location);

// Checks a location given as a PostgreSQL URL (plugin_opt_db_url, --db-url): a `postgresql://`
// URL that carries no password (`user:secret@`, `password=`), which would show in `ps` and in
// config backups; the password comes from ~/.pgpass, PGPASSFILE, `?passfile=FILE` or
// PGPASSWORD. Throws std::invalid_argument saying what is wrong.
void check_db_url(const std::string& url);

// One query in the two dialects, side by side, where they differ (most queries are one text
// that both accept, with `?` or `?N` placeholders, which PostgreSQL receives as $N).
struct Sql {
    std::string_view sqlite;
    std::string_view postgres;
};

class Database {
public:
    // Opens the location -- a SQLite file (created if needed, WAL on) or a PostgreSQL URL whose
    // password comes from libpq's environment, ~/.pgpass or `?passfile=` -- and runs pending
    // migrations. Throws Error when it is no database, the server refuses, a migration fails, or
    // the schema is newer than this build knows; the connection is closed then.
    explicit Database(const std::string& location);
    ~Database();
    // The same for another schema: a file of its own kind (e.g. a client's state) with its own
    // ordered migrations.
    Database(const std::string& location, const std::vector<Migration>& migrations);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Backend backend() const { return backend_; }
    // Runs one or more statements that return nothing (DDL, PRAGMA, BEGIN ...).
    void exec(const char* sql);
    // Rows changed by the last INSERT, UPDATE or DELETE that ran on this connection.
    int64_t changes() const;
    // SQLite only (no-ops on PostgreSQL): turns off checkpoints on commit for this connection
    // (pair it with a WalCheckpointer).
    void disable_auto_checkpoint();
    // SQLite only (no-op on PostgreSQL, whose row locks wait in the server): when another
    // connection holds the write lock, retry every 100 us (up to 5 s) instead of
    // sqlite3_busy_timeout's sleeps of up to 100 ms: for a writer that must not stall.
    void retry_busy_quickly();
    int schema_version() const { return schema_version_; }
    Connection& connection() const { return *connection_; }

private:
    void migrate(const std::vector<Migration>& steps);
    Backend backend_;
    std::unique_ptr<Connection> connection_;
    int schema_version_ = 0;
};

// How bound text is held: a copy (the default), or the caller's bytes, which must then stay
// alive until the statement has run (a hot loop that binds and runs in one expression). SQLite
// honours it; PostgreSQL copies text always and borrows blobs (sent in binary).
enum class Bytes { copied, borrowed };

class Statement {
public:
    // One text for both dialects.
    Statement(Database& db, std::string_view sql);
    // The text of the database's dialect.
    Statement(Database& db, const Sql& sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, std::string_view text, Bytes held = Bytes::copied);
    Statement& bind_blob(int index, std::string_view bytes, Bytes held = Bytes::copied);
    Statement& bind_null(int index);
    // Binds NULL when the text is empty: optional columns store NULL, not ''.
    Statement& bind_or_null(int index, std::string_view text, Bytes held = Bytes::copied);
    // Binds NULL when the number is 0.
    Statement& bind_or_null(int index, int64_t value);

    // Steps once; true while a row is available.
    bool step();
    // Steps to completion of a statement that returns no rows.
    void run();
    void reset();

    int64_t int_at(int col) const;
    std::string text_at(int col) const;
    std::string blob_at(int col) const;
    bool is_null(int col) const;

private:
    std::unique_ptr<Cursor> cursor_;
};

// Resets a statement on scope exit so it never holds a read lock between uses.
class ResetOnExit {
public:
    explicit ResetOnExit(Statement& s) : s_(s) {}
    ~ResetOnExit() { s_.reset(); }
    ResetOnExit(const ResetOnExit&) = delete;
    ResetOnExit& operator=(const ResetOnExit&) = delete;

private:
    Statement& s_;
};

// Rolls back in its destructor unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace chat::storage
