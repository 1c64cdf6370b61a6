// In-process measurement of the plugin's cost per direct message: a ChatBroker on a temporary
// database, logged-in users, and the MESSAGE callback called in a loop.
#include "callback_cost.h"

#include "broker-plugin/broker.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "support/pg_cluster.h"
#include "support/process.h"

#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat::bench {
namespace {

double clock_seconds(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

CallbackCost measure_callback_cost(int messages, int users) {
    if (messages <= 0) throw std::invalid_argument("the message count must be positive");
    if (users < 2) throw std::invalid_argument("the bench needs at least 2 users");
    chat::testing::TempDir dir;
    // SQLite, or with CHAT_TEST_DB=postgres (--backend postgres) a fresh PostgreSQL database.
    chat::testing::TestDatabase database(dir.path() / "chat.db");
    broker::Config config;
    config.db_path = (dir.path() / "chat.db").string();  // on PostgreSQL it still names the journal
    if (database.postgres()) config.db_url = database.location();
    // The bench measures the cost per message, far above any one user's allowed pace.
    config.publish_limit = {1e9, 1e9};
    config.connect_limit = config.address_connect_limit = {1e9, 1e9};
    config.max_pending = int64_t{1} << 40;  // the bench's recipients never ack
    std::vector<std::string> ids, tokens;
    {
        storage::Database db(database.location());
        storage::Accounts accounts(db);
        storage::Transaction tx(db);
        for (int i = 0; i < users; ++i) {
            ids.push_back(std::to_string(15550001 + i));
            tokens.push_back(new_device_token());
            accounts.create_user(ids.back(), 1);
            accounts.add_device(ids.back(), "d1", hash_token(tokens.back()), 1);
        }
        tx.commit();
    }
    broker::ChatBroker broker(config, now_ms);
    std::vector<int> clients(static_cast<size_t>(users));  // their addresses stand for mosquitto's client handles
    for (size_t i = 0; i < clients.size(); ++i) {
        if (broker.authenticate(&clients[i], ids[i] + "/d1", ids[i], tokens[i]) != broker::AuthResult::accepted) {
            throw std::runtime_error("bench user " + ids[i] + " cannot log in");
        }
    }
    std::vector<std::string> topics;
    for (const auto& id : ids) topics.push_back("m/" + id);
    std::mt19937 pick(1);
    std::uniform_int_distribution<int> other(1, users - 1);  // an offset from the sender: never itself
    const std::string payload(64, 'x');

    double wall_before = clock_seconds(CLOCK_MONOTONIC);
    double thread_before = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    double process_before = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < messages; ++i) {
        int from = i % users;
        auto result = broker.on_message(&clients[static_cast<size_t>(from)],
                                        topics[static_cast<size_t>((from + other(pick)) % users)], payload, {});
        // A refusal would time the cheap path.
        if (result.verdict != broker::MessageResult::Verdict::rewrite) throw std::runtime_error(result.reason);
    }
    double thread_cpu = clock_seconds(CLOCK_THREAD_CPUTIME_ID) - thread_before;
    broker.wait_imported();
    double process_cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_before;
    double wall = clock_seconds(CLOCK_MONOTONIC) - wall_before;
    CallbackCost cost;
    cost.callback_us = thread_cpu * 1e6 / messages;
    cost.background_us = (process_cpu - thread_cpu) * 1e6 / messages;
    cost.imported_wall_us = wall * 1e6 / messages;
    return cost;
}

}  // namespace chat::bench
