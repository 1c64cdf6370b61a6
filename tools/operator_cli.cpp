// chatctl commands over the storage library.
#include "operator_cli.h"

#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/copy.h"
#include "storage/db.h"
#include "storage/policy.h"
#include "storage/social.h"
#include "storage/backup.h"
#include "storage/stats.h"

#include <httplib.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include <functional>
#include <map>
#include <ostream>
#include <stdexcept>

namespace chat::tools {
namespace {

constexpr const char* usage =
    "usage: chatctl [--db PATH | --db-url postgresql://...] COMMAND\n"
    "  user add USER                 create a user (E.164 digits, no '+')\n"
    "  user list                     list users\n"
    "  device add USER [DEVICE]      add a device; prints its token once\n"
    "  device revoke USER DEVICE     revoke a device's token\n"
    "  device list USER              list a user's devices\n"
    "  device encoding USER DEVICE json|compact|lean   how this device gets entries (2G: lean)\n"
    "  device compact USER DEVICE on|off   the same as encoding compact|json\n"
    "  group create GID NAME ADMIN [MEMBER...]\n"
    "  group add GID USER | group remove GID USER | group show GID\n"
    "  block USER OTHER | unblock USER OTHER\n"
    "  stats [--metrics-port N] [--data-dir DIR]   counts, sizes, and (with the broker's metrics port) live figures\n"
    "  backup FILE                   consistent copy of the database while everything runs\n"
    "  restore FILE                  replace the database with a backup (everything stopped)\n"
    "  copy-to TARGET                copy everything into an empty database (postgresql://... or a path)\n";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Context {
    const std::string& db_path;
    storage::Database& db;
    const std::vector<std::string>& args;  // after the command words
    std::ostream& out;
};

void need(const Context& c, size_t min, size_t max) {
    if (c.args.size() < min || c.args.size() > max) throw UsageError("wrong number of arguments");
}

std::string checked_user(const std::string& s) {
    if (!is_user_id(s)) throw std::invalid_argument("'" + s + "' is not a user id (E.164 digits without '+')");
    return s;
}

void require_user(storage::Accounts& accounts, const std::string& user) {
    if (!accounts.user_exists(checked_user(user))) throw std::invalid_argument("no such user " + user);
}

int user_add(Context c) {
    need(c, 1, 1);
    storage::Accounts accounts(c.db);
    if (!accounts.create_user(checked_user(c.args[0]), now_ms())) {
        throw std::invalid_argument("user " + c.args[0] + " already exists");
    }
    c.out << "created user " << c.args[0] << "\n";
    return 0;
}

int user_list(Context c) {
    need(c, 0, 0);
    for (const auto& u : storage::Accounts(c.db).list_users()) {
        c.out << u.id << " devices=" << u.devices << " last_seq=" << u.last_seq << " last_seen_ms=" << u.last_seen_ms
              << "\n";
    }
    return 0;
}

int device_add(Context c) {
    need(c, 1, 2);
    storage::Accounts accounts(c.db);
    require_user(accounts, c.args[0]);
    std::string device = c.args.size() > 1 ? c.args[1] : accounts.next_device_id(c.args[0]);
    if (!is_device_id(device)) throw std::invalid_argument("'" + device + "' is not a device id ([a-z0-9]{1,16})");
    if (accounts.find_device(c.args[0], device)) throw std::invalid_argument("device " + device + " already exists");
    std::string token = new_device_token();
    accounts.add_device(c.args[0], device, hash_token(token), now_ms());
    c.out << "device " << device << " client_id " << c.args[0] << "/" << device << "\n";
    c.out << "token " << token << "\n";
    return 0;
}

int device_revoke(Context c) {
    need(c, 2, 2);
    if (!storage::Accounts(c.db).revoke_device(checked_user(c.args[0]), c.args[1])) {
        throw std::invalid_argument("no live device " + c.args[1] + " for user " + c.args[0]);
    }
    c.out << "revoked " << c.args[0] << "/" << c.args[1] << "\n";
    return 0;
}

int device_list(Context c) {
    need(c, 1, 1);
    storage::Accounts accounts(c.db);
    require_user(accounts, c.args[0]);
    for (const auto& d : accounts.list_devices(c.args[0])) {
        c.out << d.device << (d.revoked ? " revoked" : " live") << (d.online ? " online" : " offline")
              << " cursor=" << d.cursor << "\n";
    }
    return 0;
}

void set_encoding(Context& c, Encoding encoding, const std::string& said) {
    storage::Accounts accounts(c.db);
    if (!accounts.find_device(checked_user(c.args[0]), c.args[1])) {
        throw std::invalid_argument("no device " + c.args[1] + " for user " + c.args[0]);
    }
    storage::Policy(c.db).set_encoding(c.args[0], c.args[1], encoding);
    c.out << said << " for " << c.args[0] << "/" << c.args[1] << " (from its next connection)\n";
}

int device_encoding(Context c) {
    need(c, 3, 3);
    const std::string& name = c.args[2];
    if (name != "json" && name != "compact" && name != "lean") throw UsageError("encoding takes json, compact or lean");
    set_encoding(c, name == "lean" ? Encoding::lean : name == "compact" ? Encoding::compact : Encoding::json,
                 "encoding " + name);
    return 0;
}

int device_compact(Context c) {
    need(c, 3, 3);
    if (c.args[2] != "on" && c.args[2] != "off") throw UsageError("compact takes on or off");
    set_encoding(c, c.args[2] == "on" ? Encoding::compact : Encoding::json, "compact " + c.args[2]);
    return 0;
}

int group_create(Context c) {
    if (c.args.size() < 3) throw UsageError("wrong number of arguments");
    if (!is_group_id(c.args[0])) throw std::invalid_argument("'" + c.args[0] + "' is not a group id (g[a-z0-9]+)");
    storage::Accounts accounts(c.db);
    std::vector<std::string> members(c.args.begin() + 3, c.args.end());
    require_user(accounts, c.args[2]);
    for (const auto& m : members) require_user(accounts, m);
    storage::Groups groups(c.db);
    if (groups.find(c.args[0])) throw std::invalid_argument("group " + c.args[0] + " already exists");
    storage::Transaction tx(c.db);
    groups.create(c.args[0], c.args[1], c.args[2], members, now_ms());
    tx.commit();
    c.out << "created group " << c.args[0] << "\n";
    return 0;
}

int group_change(Context c, bool add) {
    need(c, 2, 2);
    storage::Accounts accounts(c.db);
    require_user(accounts, c.args[1]);
    storage::Groups groups(c.db);
    if (!groups.find(c.args[0])) throw std::invalid_argument("no such group " + c.args[0]);
    storage::Transaction tx(c.db);
    // The operator adds: no user's block concerns them (a group create names its adder).
    bool changed =
        add ? groups.add_member(c.args[0], c.args[1], false, "") : groups.remove_member(c.args[0], c.args[1]);
    tx.commit();
    if (!changed) throw std::invalid_argument(add ? "already a member" : "not a member");
    c.out << (add ? "added " : "removed ") << c.args[1] << "\n";
    return 0;
}

int group_show(Context c) {
    need(c, 1, 1);
    auto g = storage::Groups(c.db).find(c.args[0]);
    if (!g) throw std::invalid_argument("no such group " + c.args[0]);
    c.out << g->id << " " << g->name << "\n";
    for (const auto& m : g->members) c.out << "member " << m << "\n";
    for (const auto& a : g->admins) c.out << "admin " << a << "\n";
    return 0;
}

int block_change(Context c, bool block) {
    need(c, 2, 2);
    storage::Accounts accounts(c.db);
    require_user(accounts, c.args[0]);
    require_user(accounts, c.args[1]);
    storage::Blocks blocks(c.db);
    storage::Transaction tx(c.db);
    block ? blocks.block(c.args[0], c.args[1]) : blocks.unblock(c.args[0], c.args[1]);
    tx.commit();
    c.out << (block ? "blocked " : "unblocked ") << c.args[1] << " for " << c.args[0] << "\n";
    return 0;
}

// Bytes of the regular files under `dir` (0 when it does not exist).
int64_t folder_bytes(const std::filesystem::path& dir) {
    std::error_code ec;
    int64_t total = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
         it.increment(ec)) {
        if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
    }
    return total;
}

int64_t file_bytes(const std::filesystem::path& file) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    return ec ? 0 : static_cast<int64_t>(size);
}

// The unlabelled samples of a process's /metrics, e.g. "chat_broker_connected_devices".
std::map<std::string, std::string> scrape_plain_samples(int port) {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) {
        throw std::runtime_error("no metrics on 127.0.0.1:" + std::to_string(port) + " (is the broker running?)");
    }
    std::map<std::string, std::string> out;
    std::istringstream in(res->body);
    for (std::string line; std::getline(in, line);) {
        auto space = line.find(' ');
        if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos || space == std::string::npos) continue;
        out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
}

int stats(Context c) {
    need(c, 0, 4);
    int metrics_port = 0;
    std::filesystem::path data_dir = std::filesystem::path(c.db_path).parent_path();
    for (size_t i = 0; i < c.args.size(); i += 2) {
        if (i + 1 >= c.args.size()) throw UsageError(c.args[i] + " needs a value");
        if (c.args[i] == "--metrics-port") {
            const std::string& v = c.args[i + 1];
            if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos ||
                (metrics_port = std::stoi(v)) < 1 || metrics_port > 65535) {
                throw UsageError("--metrics-port needs a port from 1 to 65535");
            }
        } else if (c.args[i] == "--data-dir") {
            data_dir = c.args[i + 1];
        } else {
            throw UsageError("unknown option " + c.args[i]);
        }
    }
    auto counts = storage::count_everything(c.db);
    c.out << "users " << counts.users << "\n"
          << "devices " << counts.devices << "\n"
          << "devices_online " << counts.devices_online << "\n"
          << "pending_entries " << counts.pending_entries << "\n"
          << "database_bytes " << file_bytes(c.db_path) + file_bytes(c.db_path + "-wal") << "\n"
          << "media_bytes " << folder_bytes(data_dir / "media") << "\n"
          << "journal_bytes " << folder_bytes(c.db_path + ".journal") << "\n";
    if (metrics_port > 0) {
        auto live = scrape_plain_samples(metrics_port);
        for (const char* name : {"chat_broker_connected_devices", "chat_broker_import_lag_publishes", "chat_broker_import_lag_ms"}) {
            auto it = live.find(name);
            if (it != live.end()) c.out << std::string(name).substr(std::strlen("chat_broker_")) << " " << it->second << "\n";
        }
    }
    return 0;
}

int copy_to(Context c) {
    need(c, 1, 1);
    if (storage::backend_of(c.args[0]) == storage::Backend::postgres) storage::check_db_url(c.args[0]);
    storage::Database target(c.args[0]);
    for (const auto& [table, rows] : storage::copy_database(c.db, target)) c.out << table << " " << rows << "\n";
    c.out << "copied\n";
    return 0;
}

using Handler = std::function<int(Context)>;

const std::map<std::string, std::pair<size_t, Handler>>& commands() {
    // Command name -> (number of command words, handler).
    static const std::map<std::string, std::pair<size_t, Handler>> table = {
        {"user add", {2, user_add}},
        {"copy-to", {1, copy_to}},
        {"user list", {2, user_list}},
        {"device add", {2, device_add}},
        {"device revoke", {2, device_revoke}},
        {"device list", {2, device_list}},
        {"device compact", {2, device_compact}},
        {"device encoding", {2, device_encoding}},
        {"group create", {2, group_create}},
        {"group add", {2, [](Context c) { return group_change(c, true); }}},
        {"group remove", {2, [](Context c) { return group_change(c, false); }}},
        {"group show", {2, group_show}},
        {"block", {1, [](Context c) { return block_change(c, true); }}},
        {"unblock", {1, [](Context c) { return block_change(c, false); }}},
        {"stats", {1, stats}},
    };
    return table;
}

}  // namespace

int run_operator_cli(const std::vector<std::string>& all_args, std::ostream& out, std::ostream& err) {
    std::string db_path = "var/chat.db";
    std::vector<std::string> args = all_args;
    if (args.size() >= 2 && (args[0] == "--db" || args[0] == "--db-url")) {
        if (args[0] == "--db-url") {
            try {
                storage::check_db_url(args[1]);
            } catch (const std::invalid_argument& e) {
                err << "chatctl: " << e.what() << "\n";
                return 2;
            }
        }
        db_path = args[1];
        args.erase(args.begin(), args.begin() + 2);
    }
    if (args.size() == 2 && (args[0] == "backup" || args[0] == "restore")) {
        // These handle the database file itself: no connection is opened first.
        try {
            if (args[0] == "backup") {
                storage::backup_database(db_path, args[1]);
                out << "backed up " << db_path << " to " << args[1] << "\n";
            } else {
                storage::restore_database(args[1], db_path);
                out << "restored " << db_path << " from " << args[1] << "\n";
            }
            return 0;
        } catch (const std::exception& e) {
            err << "chatctl: " << e.what() << "\n";
            return 1;
        }
    }
    const std::pair<size_t, Handler>* found = nullptr;
    for (size_t words = 2; words >= 1 && !found; --words) {
        if (args.size() < words) continue;
        std::string name = words == 2 ? args[0] + " " + args[1] : args[0];
        auto it = commands().find(name);
        if (it != commands().end() && it->second.first == words) found = &it->second;
    }
    if (!found) {
        err << usage;
        return 2;
    }
    std::vector<std::string> rest(args.begin() + static_cast<long>(found->first), args.end());
    try {
        storage::Database db(db_path);
        return found->second(Context{db_path, db, rest, out});
    } catch (const UsageError& e) {
        err << "chatctl: " << e.what() << "\n" << usage;
        return 2;
    } catch (const std::exception& e) {
        err << "chatctl: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace chat::tools
