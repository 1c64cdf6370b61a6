// The SQLite backend: one sqlite3 connection with WAL, its prepared statements and busy retries.
#include "backend.h"

#include <sqlite3.h>

#include <chrono>
#include <thread>

namespace chat::storage {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    throw Error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

sqlite3_destructor_type lifetime(Bytes held) { return held == Bytes::borrowed ? SQLITE_STATIC : SQLITE_TRANSIENT; }

class SqliteCursor final : public Cursor {
public:
    SqliteCursor(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                               nullptr) != SQLITE_OK) {
            fail(db, "prepare '" + std::string(sql) + "'");
        }
    }
    ~SqliteCursor() override { sqlite3_finalize(stmt_); }
    SqliteCursor(const SqliteCursor&) = delete;
    SqliteCursor& operator=(const SqliteCursor&) = delete;

    void bind_int(int index, int64_t value) override { checked(sqlite3_bind_int64(stmt_, index, value), index); }
    void bind_text(int index, std::string_view text, Bytes held) override {
        checked(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), lifetime(held)), index);
    }
    void bind_blob(int index, std::string_view bytes, Bytes held) override {
        checked(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), lifetime(held)), index);
    }
    void bind_null(int index) override { checked(sqlite3_bind_null(stmt_, index), index); }

    bool step() override {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        std::string msg = sqlite3_errmsg(db_);
        reset();  // also drops bindings that borrowed the caller's bytes
        if ((rc & 0xff) == SQLITE_CONSTRAINT) throw ConstraintError("sql step failed: " + msg);
        throw Error("sql step failed: " + msg);
    }

    void reset() noexcept override {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    int64_t int_at(int col) const override { return sqlite3_column_int64(stmt_, col); }
    std::string text_at(int col) const override {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
    }
    std::string blob_at(int col) const override {
        auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
    }
    bool is_null(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

private:
    // Throws Error naming the parameter unless a sqlite3_bind_* returned SQLITE_OK.
    void checked(int rc, int index) {
        if (rc == SQLITE_OK) return;
        std::string msg = sqlite3_errstr(rc);
        reset();  // drops the bindings made so far, which may borrow the caller's bytes
        throw Error("sql bind of parameter " + std::to_string(index) + " failed: " + msg + " in '" +
                    sqlite3_sql(stmt_) + "'");
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class SqliteConnection final : public Connection {
public:
    explicit SqliteConnection(const std::string& path) {
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
    }

    void exec(const char* sql) override {
        char* err = nullptr;
        if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            throw Error(std::string("sql failed: ") + msg);
        }
    }
    int64_t changes() const override { return sqlite3_changes64(db_.get()); }
    std::unique_ptr<Cursor> prepare(std::string_view sql) override {
        return std::make_unique<SqliteCursor>(db_.get(), sql);
    }
    void begin() override { exec("BEGIN IMMEDIATE"); }
    void commit() override { exec("COMMIT"); }
    void rollback() noexcept override { sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr); }
    void lock_for_migration() override {}  // BEGIN IMMEDIATE holds the write lock already
    void disable_auto_checkpoint() override { exec("PRAGMA wal_autocheckpoint=0"); }
    void retry_busy_quickly() override {
        sqlite3_busy_handler(
            db_.get(),
            [](void*, int attempts) {
                if (attempts >= 50'000) return 0;
                std::this_thread::sleep_for(std::chrono::microseconds(100));
                return 1;
            },
            nullptr);
    }

private:
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    std::unique_ptr<sqlite3, Close> db_;
};

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path) { return std::make_unique<SqliteConnection>(path); }

}  // namespace chat::storage
