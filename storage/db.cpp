// Database, Statement and Transaction over either backend, with migrations at open.
#include "db.h"

#include "backend.h"
#include "schema.h"

#include <stdexcept>

namespace chat::storage {

Backend backend_of(std::string_view location) {
    auto starts = [&](std::string_view prefix) { return location.substr(0, prefix.size()) == prefix; };
    return starts("postgresql://") || starts("postgres://") ? Backend::postgres : Backend::sqlite;
}

void check_db_url(const std::string& url) {
    if (backend_of(url) != Backend::postgres) {
        throw std::invalid_argument("database URL must start with postgresql://: " + url);
    }
    auto authority_end = url.find_first_of("/?", url.find("://") + 3);
    std::string authority = url.substr(0, authority_end);
    auto at = authority.rfind('@');
    bool secret_in_user = at != std::string::npos && authority.find(':', authority.find("://") + 3) < at;
    if (secret_in_user || url.find("password=") != std::string::npos) {
        throw std::invalid_argument(
            "database URL must not carry the password: use ~/.pgpass, PGPASSFILE, ?passfile=FILE or PGPASSWORD");
    }
}

Database::Database(const std::string& location) : Database(location, migrations()) {}

Database::Database(const std::string& location, const std::vector<Migration>& steps) : backend_(backend_of(location)) {
    connection_ = backend_ == Backend::postgres ? open_postgres(location) : open_sqlite(location);
    migrate(steps);
}

Database::~Database() = default;

void Database::exec(const char* sql) { connection_->exec(sql); }

void Database::disable_auto_checkpoint() { connection_->disable_auto_checkpoint(); }

void Database::retry_busy_quickly() { connection_->retry_busy_quickly(); }

int64_t Database::changes() const { return connection_->changes(); }

void Database::migrate(const std::vector<Migration>& steps) {
    Transaction tx(*this);
    connection_->lock_for_migration();
    exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    Statement read(*this, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    read.step();
    int current = static_cast<int>(read.int_at(0));
    read.reset();
    if (current > static_cast<int>(steps.size())) {
        // A newer release migrated this database: its data may depend on tables this build
        // does not know, so refuse rather than read or write it wrongly.
        throw Error("database schema version " + std::to_string(current) + " is newer than this build knows (" +
                    std::to_string(steps.size()) + "); run the newer release");
    }
    for (int v = current; v < static_cast<int>(steps.size()); ++v) {
        const Migration& step = steps[static_cast<size_t>(v)];
        const char* ddl = backend_ == Backend::postgres ? step.postgres : step.sqlite;
        if (!ddl) throw Error("schema version " + std::to_string(v + 1) + " has no PostgreSQL twin in storage/schema.cpp");
        exec(ddl);
        Statement mark(*this, "INSERT INTO schema_version(version) VALUES(?)");
        mark.bind(1, static_cast<int64_t>(v + 1)).run();
    }
    tx.commit();
    schema_version_ = static_cast<int>(steps.size());
}

Statement::Statement(Database& db, std::string_view sql) : cursor_(db.connection().prepare(sql)) {}

Statement::Statement(Database& db, const Sql& sql)
    : cursor_(db.connection().prepare(db.backend() == Backend::postgres ? sql.postgres : sql.sqlite)) {}

Statement::~Statement() = default;

Statement& Statement::bind(int index, int64_t value) {
    cursor_->bind_int(index, value);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text, Bytes held) {
    cursor_->bind_text(index, text, held);
    return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes, Bytes held) {
    cursor_->bind_blob(index, bytes, held);
    return *this;
}

Statement& Statement::bind_null(int index) {
    cursor_->bind_null(index);
    return *this;
}

Statement& Statement::bind_or_null(int index, std::string_view text, Bytes held) {
    return text.empty() ? bind_null(index) : bind(index, text, held);
}

Statement& Statement::bind_or_null(int index, int64_t value) {
    return value == 0 ? bind_null(index) : bind(index, value);
}

bool Statement::step() { return cursor_->step(); }

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() { cursor_->reset(); }

int64_t Statement::int_at(int col) const { return cursor_->int_at(col); }

std::string Statement::text_at(int col) const { return cursor_->text_at(col); }

std::string Statement::blob_at(int col) const { return cursor_->blob_at(col); }

bool Statement::is_null(int col) const { return cursor_->is_null(col); }

Transaction::Transaction(Database& db) : db_(db) { db_.connection().begin(); }

Transaction::~Transaction() {
    if (!done_) db_.connection().rollback();
}

void Transaction::commit() {
    db_.connection().commit();
    done_ = true;
}

}  // namespace chat::storage
