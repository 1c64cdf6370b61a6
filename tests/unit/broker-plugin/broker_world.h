// A ChatBroker over a temporary database with three users of two devices each, for unit tests.
#pragma once

#include "broker-plugin/broker.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "support/pg_cluster.h"
#include "support/process.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace chat::broker {

struct World {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store{dir.path() / "chat.db"};
    std::string db_path = store.location();  // a PostgreSQL URL on the .pg run
    // Read through atomic_ref: a cluster node's lease thread reads the clock too (set_now()).
    alignas(std::atomic_ref<int64_t>::required_alignment) int64_t now = 1'000'000;
    std::unique_ptr<ChatBroker> broker;
    std::map<std::string, std::string> tokens;
    int keys[8] = {};

    // `tweak` adjusts the broker's settings before it starts (limits for the tests of limits).
    explicit World(const std::function<void(Config&)>& tweak = {}) {
        chat::storage::Database db(db_path);
        chat::storage::Accounts accounts(db);
        for (std::string user : {"15550001", "15550002", "15550003"}) {
            accounts.create_user(user, 1);
            for (std::string dev : {"d1", "d2"}) {
                tokens[user + "/" + dev] = chat::new_device_token();
                accounts.add_device(user, dev, chat::hash_token(tokens[user + "/" + dev]), 1);
            }
        }
        Config c;
        c.db_path = (dir.path() / "chat.db").string();  // the journal goes next to it on both backends
        if (store.postgres()) c.db_url = db_path;
        c.bridge_user = "bridge";
        c.bridge_password = "pw";
        c.bridge_clients = {"bridge-1", "chat-bridge-1"};
        c.publish_limit = {1e6, 1e6};
        c.connect_limit = {1e6, 1e6};
        c.address_connect_limit = {1e6, 1e6};
        c.max_payload = 100;
        if (tweak) tweak(c);
        broker = std::make_unique<ChatBroker>(c, [this] { return std::atomic_ref<int64_t>(now).load(); });
    }
    // Moves the clock while another thread may read it (a cluster node's lease thread).
    void set_now(int64_t t) { std::atomic_ref<int64_t>(now).store(t); }
    ClientKey key(int i) { return &keys[i]; }
    bool login(int i, const std::string& client_id) {
        auto user = client_id.substr(0, client_id.find('/'));
        return auth(key(i), client_id, user, tokens[client_id]);
    }
    bool auth(ClientKey k, std::string_view client_id, std::string_view user, std::string_view password) {
        return broker->authenticate(k, client_id, user, password) == AuthResult::accepted;
    }
    chat::storage::Database open() { return chat::storage::Database(db_path); }
};


}  // namespace chat::broker
