// The two backends behind Database and Statement (SQLite, PostgreSQL): a connection and a prepared statement.
#pragma once

#include "db.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace chat::storage {

// One prepared statement of one connection; indexes as in Statement (parameters from 1, columns from 0).
class Cursor {
public:
    virtual ~Cursor() = default;
    virtual void bind_int(int index, int64_t value) = 0;
    virtual void bind_text(int index, std::string_view text, Bytes held) = 0;
    virtual void bind_blob(int index, std::string_view bytes, Bytes held) = 0;
    virtual void bind_null(int index) = 0;
    // Runs the statement on the first call after a reset; true while a row is available.
    // Throws ConstraintError or Error (reset then, bindings dropped).
    virtual bool step() = 0;
    // Ends the run and drops the bindings.
    virtual void reset() noexcept = 0;
    virtual int64_t int_at(int col) const = 0;
    virtual std::string text_at(int col) const = 0;
    virtual std::string blob_at(int col) const = 0;
    virtual bool is_null(int col) const = 0;
};

class Connection {
public:
    virtual ~Connection() = default;
    virtual void exec(const char* sql) = 0;
    virtual int64_t changes() const = 0;
    virtual std::unique_ptr<Cursor> prepare(std::string_view sql) = 0;
    // Starts a transaction that writes (SQLite takes the write lock at once).
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;
    // Inside the migration transaction, before the schema version is read: makes processes
    // that open the database at once migrate one after the other.
    virtual void lock_for_migration() = 0;
    virtual void disable_auto_checkpoint() = 0;
    virtual void retry_busy_quickly() = 0;
};

std::unique_ptr<Connection> open_sqlite(const std::string& path);
std::unique_ptr<Connection> open_postgres(const std::string& url);

}  // namespace chat::storage
