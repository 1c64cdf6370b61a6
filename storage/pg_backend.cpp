// The PostgreSQL backend over libpq: one connection, server-side prepared statements with
// $n parameters (rewritten from `?`/`?N`), values sent as text (blobs binary), rows read binary.
#include "backend.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

namespace chat::storage {
namespace {

// Type oids of pg_type.h (server headers are not installed with libpq-dev).
constexpr Oid bool_oid = 16, int8_oid = 20, int2_oid = 21, int4_oid = 23;

struct ClearResult {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

std::string error_of(PGconn* conn, const PGresult* r) {
    const char* msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
    std::string text = msg && *msg ? msg : PQerrorMessage(conn);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// SQLSTATE class 23 is "integrity constraint violation" (unique, not null, check, foreign key).
bool is_constraint(const PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return state && std::strncmp(state, "23", 2) == 0;
}

uint64_t big_endian(const char* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

// SQLite's placeholders in PostgreSQL's form: `?N` becomes $N and a bare `?` the next number
// after the highest so far (SQLite's rule). Quoted text, identifiers and comments are copied.
std::string with_dollar_params(std::string_view sql, int& count) {
    std::string out;
    out.reserve(sql.size() + 8);
    count = 0;
    for (size_t i = 0; i < sql.size(); ++i) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            size_t end = sql.find(c, i + 1);
            end = end == std::string_view::npos ? sql.size() - 1 : end;
            out.append(sql.substr(i, end - i + 1));
            i = end;
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            size_t end = std::min(sql.find('\n', i), sql.size() - 1);
            out.append(sql.substr(i, end - i + 1));
            i = end;
        } else if (c == '?') {
            size_t digits = i + 1;
            while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
            int n = digits > i + 1 ? std::stoi(std::string(sql.substr(i + 1, digits - i - 1))) : count + 1;
            count = std::max(count, n);
            out += '$';
            out += std::to_string(n);
            i = digits - 1;
        } else {
            out += c;
        }
    }
    return out;
}

class PgConnection;

class PgCursor final : public Cursor {
public:
    PgCursor(PgConnection& conn, std::string_view sql);
    ~PgCursor() override;
    PgCursor(const PgCursor&) = delete;
    PgCursor& operator=(const PgCursor&) = delete;

    void bind_int(int index, int64_t value) override { set(index, std::to_string(value), 0); }
    void bind_text(int index, std::string_view text, Bytes) override {
        // Text goes in the text format, which libpq reads up to a NUL: always a copy.
        set(index, std::string(text), 0);
    }
    void bind_blob(int index, std::string_view bytes, Bytes held) override {
        if (held == Bytes::borrowed) {
            slot(index);
            pointers_[static_cast<size_t>(index - 1)] = bytes.data() ? bytes.data() : "";
            lengths_[static_cast<size_t>(index - 1)] = static_cast<int>(bytes.size());
            formats_[static_cast<size_t>(index - 1)] = 1;
            return;
        }
        set(index, std::string(bytes), 1);
    }
    void bind_null(int index) override {
        slot(index);
        pointers_[static_cast<size_t>(index - 1)] = nullptr;
    }

    bool step() override;
    void reset() noexcept override {
        result_.reset();
        row_ = -1;
        std::fill(pointers_.begin(), pointers_.end(), nullptr);
    }

    int64_t int_at(int col) const override {
        if (null_at(col)) return 0;
        const char* p = PQgetvalue(result_.get(), row_, col);
        int n = PQgetlength(result_.get(), row_, col);
        switch (PQftype(result_.get(), col)) {
            case int8_oid: return static_cast<int64_t>(big_endian(p, 8));
            case int4_oid: return static_cast<int32_t>(big_endian(p, 4));
            case int2_oid: return static_cast<int16_t>(big_endian(p, 2));
            case bool_oid: return p[0] != 0;
            default: return std::strtoll(std::string(p, static_cast<size_t>(n)).c_str(), nullptr, 10);
        }
    }
    std::string text_at(int col) const override {
        if (null_at(col)) return {};
        Oid type = PQftype(result_.get(), col);
        if (type == int8_oid || type == int4_oid || type == int2_oid || type == bool_oid) {
            return std::to_string(int_at(col));
        }
        return blob_at(col);
    }
    std::string blob_at(int col) const override {
        if (null_at(col)) return {};
        return std::string(PQgetvalue(result_.get(), row_, col),
                           static_cast<size_t>(PQgetlength(result_.get(), row_, col)));
    }
    bool is_null(int col) const override { return null_at(col); }

private:
    bool null_at(int col) const {
        return !result_ || row_ < 0 || row_ >= PQntuples(result_.get()) || PQgetisnull(result_.get(), row_, col);
    }
    void slot(int index) {
        if (index < 1 || index > static_cast<int>(pointers_.size())) {
            reset();
            throw Error("sql bind of parameter " + std::to_string(index) + " failed: column index out of range in '" +
                        sql_ + "'");
        }
    }
    void set(int index, std::string value, int format) {
        slot(index);
        auto i = static_cast<size_t>(index - 1);
        values_[i] = std::move(value);
        pointers_[i] = values_[i].c_str();
        lengths_[i] = static_cast<int>(values_[i].size());
        formats_[i] = format;
    }

    PgConnection& conn_;
    std::string sql_;
    std::string name_;
    std::vector<std::string> values_;
    std::vector<const char*> pointers_;
    std::vector<int> lengths_, formats_;
    Result result_;
    int row_ = -1;
};

class PgConnection final : public Connection {
public:
    explicit PgConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
        if (!conn_) throw Error("cannot connect to PostgreSQL: out of memory");
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            throw Error("cannot connect to PostgreSQL: " + error_of(conn_.get(), nullptr));
        }
        // CREATE ... IF NOT EXISTS and the like would print NOTICEs on stderr.
        exec("SET client_min_messages = warning");
        check_collation();
    }

    void exec(const char* sql) override {
        Result r(PQexec(conn_.get(), sql));
        ExecStatusType status = PQresultStatus(r.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            throw Error(std::string("sql failed: ") + error_of(conn_.get(), r.get()));
        }
        // A COMMIT of a transaction a failed statement aborted reports ROLLBACK, not an error.
        if (std::strcmp(PQcmdStatus(r.get()), "ROLLBACK") == 0 && std::strncmp(sql, "COMMIT", 6) == 0) {
            throw Error("sql failed: the transaction was rolled back by an earlier error");
        }
    }
    int64_t changes() const override { return changes_; }
    std::unique_ptr<Cursor> prepare(std::string_view sql) override { return std::make_unique<PgCursor>(*this, sql); }
    void begin() override { exec("BEGIN"); }
    void commit() override { exec("COMMIT"); }
    void rollback() noexcept override { PQclear(PQexec(conn_.get(), "ROLLBACK")); }
    void lock_for_migration() override {
        // Any constant of our own: a transaction-level advisory lock, released at commit.
        exec("SELECT pg_advisory_xact_lock(7310431)");
    }
    void disable_auto_checkpoint() override {}
    void retry_busy_quickly() override {}

    PGconn* handle() const { return conn_.get(); }
    std::string next_statement_name() { return "chat_" + std::to_string(++statements_); }
    void set_changes(int64_t n) { changes_ = n; }

private:
    // Keys and ids are compared and ordered as bytes, as SQLite does (ids begin with their time
    // in hex, pages of members are ordered by user id): another collation would reorder them.
    void check_collation() {
        Result r(PQexec(conn_.get(), "SELECT datcollate FROM pg_database WHERE datname = current_database()"));
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
            throw Error("cannot read the database's collation: " + error_of(conn_.get(), r.get()));
        }
        std::string collation = PQgetvalue(r.get(), 0, 0);
        if (collation != "C" && collation != "POSIX") {
            throw Error("the PostgreSQL database uses collation '" + collation +
                        "'; create it with the C collation (createdb --locale=C --template=template0)");
        }
    }

    struct Finish {
        void operator()(PGconn* c) const noexcept { PQfinish(c); }
    };
    std::unique_ptr<PGconn, Finish> conn_;
    int64_t changes_ = 0;
    uint64_t statements_ = 0;
};

PgCursor::PgCursor(PgConnection& conn, std::string_view sql) : conn_(conn), name_(conn.next_statement_name()) {
    int params = 0;
    sql_ = with_dollar_params(sql, params);
    Result r(PQprepare(conn_.handle(), name_.c_str(), sql_.c_str(), params, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        throw Error("prepare '" + std::string(sql) + "': " + error_of(conn_.handle(), r.get()));
    }
    auto n = static_cast<size_t>(params);
    values_.resize(n);
    pointers_.assign(n, nullptr);
    lengths_.assign(n, 0);
    formats_.assign(n, 0);
}

PgCursor::~PgCursor() {
    // Frees the server's copy; the name is this connection's, so a failure here harms nothing.
    PQclear(PQexec(conn_.handle(), ("DEALLOCATE " + name_).c_str()));
}

bool PgCursor::step() {
    if (result_) return ++row_ < PQntuples(result_.get());
    result_.reset(PQexecPrepared(conn_.handle(), name_.c_str(), static_cast<int>(pointers_.size()), pointers_.data(),
                                 lengths_.data(), formats_.data(), 1));
    ExecStatusType status = PQresultStatus(result_.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        std::string msg = error_of(conn_.handle(), result_.get());
        bool constraint = is_constraint(result_.get());
        reset();
        if (constraint) throw ConstraintError("sql step failed: " + msg);
        throw Error("sql step failed: " + msg + " in '" + sql_ + "'");
    }
    const char* command = PQcmdStatus(result_.get());
    if (std::strncmp(command, "INSERT", 6) == 0 || std::strncmp(command, "UPDATE", 6) == 0 ||
        std::strncmp(command, "DELETE", 6) == 0) {
        conn_.set_changes(std::strtoll(PQcmdTuples(result_.get()), nullptr, 10));
    }
    row_ = 0;
    return row_ < PQntuples(result_.get());
}

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& url) { return std::make_unique<PgConnection>(url); }

}  // namespace chat::storage
