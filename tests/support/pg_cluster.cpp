// PgCluster and TestDatabase: initdb/pg_ctl as the postgres user, one database per test.
#include "pg_cluster.h"

#include "process.h"

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <pwd.h>
#include <stdexcept>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace chat::testing {
namespace {

namespace fs = std::filesystem;

const fs::path pg_bin = "/usr/lib/postgresql/15/bin";

bool as_root() { return geteuid() == 0; }

// The server refuses to run as root: as root, run the PostgreSQL tools as `postgres`.
std::vector<std::string> as_server_user(std::vector<std::string> argv) {
    if (!as_root()) return argv;
    std::vector<std::string> all{"runuser", "-u", "postgres", "--"};
    all.insert(all.end(), argv.begin(), argv.end());
    return all;
}

void run_or_throw(const std::vector<std::string>& argv, const std::string& what) {
    std::string out;
    if (run_command(as_server_user(argv), out) != 0) throw std::runtime_error(what + " failed: " + out);
}

void give_to_server_user(const fs::path& dir) {
    if (!as_root()) return;
    const passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("no postgres user (install postgresql-15)");
    if (chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("cannot chown " + dir.string());
    // The server must reach its folder through a temporary folder made private to root.
    std::error_code ec;
    fs::permissions(dir.parent_path(), fs::perms::others_exec, fs::perm_options::add, ec);
}

// Runs one statement on the cluster's `postgres` database.
void admin(int port, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(pg_url(port, "postgres").c_str()), PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("cannot connect to the test cluster: " + std::string(PQerrorMessage(conn.get())));
    }
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn.get(), sql.c_str()), PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    }
}

// The cluster of a test binary run outside CTest's fixture: started at first use, stopped at exit.
PgCluster& own_cluster() {
    static TempDir dir;
    static PgCluster cluster(dir.path() / "pg");
    return cluster;
}

// CHAT_TEST_DB=postgres:DIR names the run's cluster (the CTest fixture's); plain `postgres`, none.
int run_cluster_port() {
    std::string setting = std::getenv("CHAT_TEST_DB");
    auto colon = setting.find(':');
    if (colon != std::string::npos) return PgCluster::port_of(setting.substr(colon + 1));
    return own_cluster().port();
}

}  // namespace

std::string pg_url(int port, const std::string& name) {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/" + name;
}

bool testing_postgres() {
    const char* backend = std::getenv("CHAT_TEST_DB");
    return backend && std::string_view(backend).substr(0, 8) == "postgres";
}

PgCluster::PgCluster(fs::path dir) : dir_(std::move(dir)), port_(start(dir_)) {}

int PgCluster::start(const fs::path& dir) {
    fs::create_directories(dir);
    give_to_server_user(dir);
    // fsync off: a test kills our processes, never the machine; C locale: text orders as bytes.
    run_or_throw({(pg_bin / "initdb").string(), "-D", (dir / "data").string(), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C"},
                 "initdb");
    int port = free_port();
    run_or_throw({(pg_bin / "pg_ctl").string(), "-D", (dir / "data").string(), "-l", (dir / "server.log").string(),
                  "-w", "start", "-o",
                  "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port) + " -k " + dir.string() +
                      " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"},
                 "pg_ctl start");
    std::ofstream(dir / "port") << port << "\n";
    return port;
}

PgCluster::~PgCluster() { stop(dir_); }

void PgCluster::stop(const fs::path& dir) noexcept {
    try {
        std::string out;
        run_command(as_server_user({(pg_bin / "pg_ctl").string(), "-D", (dir / "data").string(), "-m", "immediate",
                                    "-w", "stop"}),
                    out);
    } catch (...) {
        // Nothing more to do: the folder goes with the test's temporary folder.
    }
}

int PgCluster::port_of(const fs::path& dir) {
    int port = 0;
    std::ifstream(dir / "port") >> port;
    if (port == 0) throw std::runtime_error("no PostgreSQL test cluster in " + dir.string());
    return port;
}

TestDatabase::TestDatabase(fs::path sqlite_path) {
    if (!testing_postgres()) {
        location_ = sqlite_path.string();
        return;
    }
    static std::atomic<int> created{0};
    port_ = run_cluster_port();
    name_ = "chat_" + std::to_string(getpid()) + "_" + std::to_string(++created);
    admin(port_, "CREATE DATABASE " + name_);
    location_ = pg_url(port_, name_);
}

TestDatabase::~TestDatabase() {
    if (!port_) return;
    try {
        admin(port_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
        // The cluster is thrown away at the end of the run anyway.
    }
}

}  // namespace chat::testing
