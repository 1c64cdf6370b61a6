// Integration test: a device syncing hundreds of missed entries over a slow link that is cut every
// few seconds reconnects, re-syncs after the last seq it holds, and ends with every entry once.
#include "common/entry.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/link_emulator.h"
#include "support/mosq_device.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>

using namespace chat::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string alice = "15550001", bob = "15550002";

// What a device keeps: its entries by seq, and the highest seq whose cumulative ack the server
// acknowledged.
struct DeviceState {
    std::map<int64_t, std::string> ids_by_seq;
    int64_t acked = 0;
    int duplicates = 0;
    int connections = 0;

    // Everything up to this seq is held, with no gap: what the device syncs after.
    int64_t held() const {
        int64_t n = 0;
        while (ids_by_seq.contains(n + 1)) ++n;
        return n;
    }
};

// One connection's life: connect, subscribe, sync after the last seq held, ack every 10 entries
// without waiting for the ack's PUBACK (on a slow link it queues behind the replay); returns
// when the link drops or everything up to `total` is held and its ack acknowledged.
void sync_once(int port, const std::string& token, DeviceState& state, int64_t total) {
    MosqDevice device(bob + "/d1", bob, token);
    if (!device.connect(port) || device.wait_connack(5s) != 0) return;
    ++state.connections;
    if (!device.wait_ack(device.subscribe({"u/" + bob + "/i", "u/" + bob + "/d/d1"}), 5s)) return;
    int64_t held = state.held();
    if (device.publish("s/" + bob, nlohmann::json{{"after", held}}.dump()) < 0) return;
    int pending_ack = -1;
    int64_t pending_seq = 0, last_ack_sent = state.acked;
    while (state.acked < total && device.alive()) {
        if (auto m = device.next(100ms)) {
            chat::Entry e = chat::entry_from_json(m->payload);
            auto [at, inserted] = state.ids_by_seq.emplace(e.seq, e.id);
            if (!inserted) {
                ++state.duplicates;
                REQUIRE(at->second == e.id);  // a seq names one entry, however often it comes
            }
            held = state.held();
        }
        if (pending_ack >= 0 && device.wait_ack(pending_ack, 0ms)) {
            state.acked = pending_seq;
            pending_ack = -1;
        }
        if (pending_ack < 0 && (held - last_ack_sent >= 10 || (held == total && state.acked < total))) {
            pending_ack = device.publish("k/" + bob, nlohmann::json{{"seq", held}}.dump());
            pending_seq = last_ack_sent = held;
        }
    }
    device.close();
}

}  // namespace

TEST_CASE("a sync over a link cut every 3 s ends with every stored entry exactly once at the device") {
    constexpr int64_t total = 300;
    BrokerFixture broker;
    auto token_a = broker.add_device(alice, "d1");
    auto token_b = broker.add_device(bob, "d1");
    BridgeProcess bridge(broker);
    {
        MosqDevice sender(alice + "/d1", alice, token_a);
        REQUIRE(sender.connect(broker.port()));
        REQUIRE(sender.wait_connack(5s) == 0);
        std::vector<int> ids;
        for (int i = 0; i < total; ++i) ids.push_back(sender.publish("m/" + bob, "missed text " + std::to_string(i)));
        for (int id : ids) REQUIRE(sender.wait_ack(id, 10s));
        sender.close();
    }

    // GPRS rates with a shorter delay, so that each 3 s between cuts carries a few dozen entries.
    LinkProfile flaky{"flaky GPRS", {5'000, 50ms}, {2'500, 50ms}};
    LinkEmulator link(broker.port(), flaky, 3000ms);
    DeviceState state;
    auto deadline = Clock::now() + 60s;
    while (state.acked < total && Clock::now() < deadline) sync_once(link.port(), token_b, state, total);

    INFO("connections " << state.connections << ", cut " << link.connections_cut() << ", duplicates "
                        << state.duplicates << ", acked " << state.acked << "\n" << broker.log() << bridge.log());
    REQUIRE(state.acked == total);
    CHECK(link.connections_cut() >= 2);  // the sync really crossed cuts
    CHECK(state.held() == total);  // ordered by seq: 1..total, no gap
    chat::storage::Database db(broker.db_path().string());
    auto stored = chat::storage::Inbox(db).entries_after(bob, 0, 1'000'000);
    std::map<int64_t, std::string> stored_ids;
    for (const auto& e : stored) stored_ids.emplace(e.seq, e.id);
    CHECK(state.ids_by_seq == stored_ids);  // every stored entry, each once (a map holds one per seq)
}
