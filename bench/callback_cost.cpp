// In-process measurement of the plugin's cost per direct message: a ChatBroker on a temporary
// database, two logged-in users, and the MESSAGE callback called in a loop.
#include "callback_cost.h"

#include "broker-plugin/broker.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "support/process.h"

#include <ctime>
#include <stdexcept>
#include <string>

namespace chat::bench {
namespace {

double cpu_seconds(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

CallbackCost measure_callback_cost(int messages) {
    chat::testing::TempDir dir;
    broker::Config config;
    config.db_path = (dir.path() / "chat.db").string();
    std::string alice_token = new_device_token(), bob_token = new_device_token();
    {
        storage::Database db(config.db_path);
        storage::Accounts accounts(db);
        accounts.create_user("15550001", 1);
        accounts.create_user("15550002", 1);
        accounts.add_device("15550001", "d1", hash_token(alice_token), 1);
        accounts.add_device("15550002", "d1", hash_token(bob_token), 1);
    }
    if (messages <= 0) throw std::invalid_argument("the message count must be positive");
    broker::ChatBroker broker(config, now_ms);
    int alice = 0, bob = 0;  // their addresses stand for mosquitto's client handles
    if (!broker.authenticate(&alice, "15550001/d1", "15550001", alice_token) ||
        !broker.authenticate(&bob, "15550002/d1", "15550002", bob_token)) {
        throw std::runtime_error("the bench users cannot log in");
    }
    const std::string payload(64, 'x');

    double thread_before = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    double process_before = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < messages; ++i) {
        auto result = broker.on_message(&alice, "m/15550002", payload, {});
        // A refusal would time the cheap path.
        if (result.verdict != broker::MessageResult::Verdict::rewrite) throw std::runtime_error(result.reason);
    }
    double thread_cpu = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread_before;
    broker.wait_imported();
    double process_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process_before;
    CallbackCost cost;
    cost.callback_us = thread_cpu * 1e6 / messages;
    cost.background_us = (process_cpu - thread_cpu) * 1e6 / messages;
    return cost;
}

}  // namespace chat::bench
