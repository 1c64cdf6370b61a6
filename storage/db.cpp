// sqlite3 connection, statement and transaction handling, with migrations at open.
#include "db.h"

#include "schema.h"

#include <sqlite3.h>

#include <chrono>
#include <thread>

namespace chat::storage {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw Error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

void Database::Close::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

Database::Database(const std::string& path) : Database(path, migrations()) {}

Database::Database(const std::string& path, const std::vector<const char*>& steps) {
    sqlite3* opened = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &opened,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(opened);  // owned before anything can throw: a failing PRAGMA or migration closes it
    if (rc != SQLITE_OK) {
        throw Error("cannot open database " + path + ": " + (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
    }
    sqlite3_busy_timeout(db_.get(), 5000);
    // WAL + synchronous=NORMAL: a commit is in the WAL file before it returns, so it
    // survives a process crash (kill -9); only an OS crash can lose the last commits.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    // Reads through a memory map: several processes share the file, and each one's page
    // cache goes cold whenever another writes, so plain reads would be a pread() per page.
    exec("PRAGMA mmap_size=268435456");
    migrate(steps);
}

void Database::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw Error(std::string("sql failed: ") + msg);
    }
}

void Database::disable_auto_checkpoint() { exec("PRAGMA wal_autocheckpoint=0"); }

void Database::retry_busy_quickly() {
    sqlite3_busy_handler(
        db_.get(),
        [](void*, int attempts) {
            if (attempts >= 50'000) return 0;
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            return 1;
        },
        nullptr);
}

int64_t Database::changes() const { return sqlite3_changes64(db_.get()); }

void Database::migrate(const std::vector<const char*>& steps) {
    exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    Transaction tx(*this);
    Statement read(*this, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    read.step();
    int current = static_cast<int>(read.int_at(0));
    read.reset();
    if (current > static_cast<int>(steps.size())) {
        // A newer release migrated this file: its data may depend on tables this build
        // does not know, so refuse rather than read or write it wrongly.
        throw Error("database schema version " + std::to_string(current) + " is newer than this build knows (" +
                    std::to_string(steps.size()) + "); run the newer release");
    }
    for (int v = current; v < static_cast<int>(steps.size()); ++v) {
        exec(steps[static_cast<size_t>(v)]);
        Statement mark(*this, "INSERT INTO schema_version(version) VALUES(?)");
        mark.bind(1, static_cast<int64_t>(v + 1)).run();
    }
    tx.commit();
    schema_version_ = static_cast<int>(steps.size());
}

Statement::Statement(Database& db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
        fail(db.handle(), "prepare '" + std::string(sql) + "'");
    }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::checked(int rc, int index) {
    if (rc == SQLITE_OK) return *this;
    std::string msg = sqlite3_errstr(rc);
    reset();  // drops the bindings made so far, which may borrow the caller's bytes
    throw Error("sql bind of parameter " + std::to_string(index) + " failed: " + msg + " in '" + sqlite3_sql(stmt_) +
                "'");
}

Statement& Statement::bind(int index, int64_t value) { return checked(sqlite3_bind_int64(stmt_, index, value), index); }

namespace {
sqlite3_destructor_type lifetime(Bytes held) { return held == Bytes::borrowed ? SQLITE_STATIC : SQLITE_TRANSIENT; }
}  // namespace

Statement& Statement::bind(int index, std::string_view text, Bytes held) {
    return checked(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), lifetime(held)), index);
}

Statement& Statement::bind_blob(int index, std::string_view bytes, Bytes held) {
    return checked(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), lifetime(held)),
                   index);
}

Statement& Statement::bind_null(int index) {
    return checked(sqlite3_bind_null(stmt_, index), index);
}

Statement& Statement::bind_or_null(int index, std::string_view text, Bytes held) {
    return text.empty() ? bind_null(index) : bind(index, text, held);
}

Statement& Statement::bind_or_null(int index, int64_t value) {
    return value == 0 ? bind_null(index) : bind(index, value);
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string msg = sqlite3_errmsg(db_.handle());
    reset();  // also drops bindings that borrowed the caller's bytes
    if ((rc & 0xff) == SQLITE_CONSTRAINT) throw ConstraintError("sql step failed: " + msg);
    throw Error("sql step failed: " + msg);
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t Statement::int_at(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::text_at(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

std::string Statement::blob_at(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace chat::storage
