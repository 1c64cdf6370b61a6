// RAII wrappers over sqlite3: Database (one connection), Statement, Transaction.
// A Database and its Statements belong to one thread; open one Database per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace chat::storage {

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

class Database {
public:
    // Opens (creating if needed) the file, turns on WAL and runs pending migrations.
    // Throws Error when the file is no database, a PRAGMA or a migration fails, or the schema
    // is newer than this build knows; the connection is closed then (owned from the start).
    explicit Database(const std::string& path);
    // The same for another schema: a file of its own kind (e.g. a client's state) with its own
    // ordered migrations.
    Database(const std::string& path, const std::vector<const char*>& migrations);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(const char* sql);
    int64_t changes() const;
    // Turns off checkpoints on commit for this connection (pair it with a WalCheckpointer).
    void disable_auto_checkpoint();
    // When another connection holds the write lock, retry every 100 us (up to 5 s) instead of
    // sqlite3_busy_timeout's sleeps of up to 100 ms: for a writer that must not stall.
    void retry_busy_quickly();
    int schema_version() const { return schema_version_; }
    sqlite3* handle() const { return db_.get(); }

private:
    struct Close {
        void operator()(sqlite3* db) const noexcept;
    };
    void migrate(const std::vector<const char*>& steps);
    std::unique_ptr<sqlite3, Close> db_;
    int schema_version_ = 0;
};

// How SQLite holds bound text: a copy (the default), or the caller's bytes, which must then
// stay alive until the statement has run (a hot loop that binds and runs in one expression).
enum class Bytes { copied, borrowed };

class Statement {
public:
    Statement(Database& db, std::string_view sql);
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
    // Throws Error naming the parameter unless a sqlite3_bind_* returned SQLITE_OK.
    Statement& checked(int rc, int index);
    sqlite3_stmt* stmt_ = nullptr;
    Database& db_;
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
