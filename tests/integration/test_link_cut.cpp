// Integration test: a device syncing hundreds of missed entries over a slow link that is cut every
// few seconds reconnects, re-syncs from its last acknowledged seq, and ends with every entry once.
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

// What a device keeps: its entries by seq, and the last seq the server acknowledged as acked.
struct DeviceState {
    std::map<int64_t, std::string> ids_by_seq;
    int64_t acked = 0;
    int duplicates = 0;
    int connections = 0;

    // Everything up to this seq is held, with no gap.
    int64_t contiguous() const {
        int64_t n = 0;
        while (ids_by_seq.contains(n + 1)) ++n;
        return n;
    }
};

// One connection's life: connect, subscribe, sync after the last acked seq, ack as entries come;
// returns when the link drops or everything up to `total` is held and acked.
void sync_once(int port, const std::string& token, DeviceState& state, int64_t total) {
    MosqDevice device(bob + "/d1", bob, token);
    if (!device.connect(port) || device.wait_connack(5s) != 0) return;
    ++state.connections;
    if (!device.wait_ack(device.subscribe({"u/" + bob + "/i", "u/" + bob + "/d/d1"}), 5s)) return;
    if (device.publish("s/" + bob, nlohmann::json{{"after", state.acked}}.dump()) < 0) return;
    int64_t asked = state.acked;
    while (state.acked < total) {
        auto m = device.next(5s);
        if (!m) return;  // cut (or silent): reconnect
        chat::Entry e = chat::entry_from_json(m->payload);
        auto [at, inserted] = state.ids_by_seq.emplace(e.seq, e.id);
        if (!inserted) {
            ++state.duplicates;
            REQUIRE(at->second == e.id);  // a seq names one entry, however often it comes
        }
        // Ack every 20 entries held without a gap, and at the end, as a phone would.
        int64_t held = state.contiguous();
        if (held - asked >= 20 || held == total) {
            int ack = device.publish("k/" + bob, nlohmann::json{{"seq", held}}.dump());
            asked = held;
            if (ack < 0 || !device.wait_ack(ack, 5s)) return;
            state.acked = held;
        }
    }
    device.close();
}

}  // namespace

TEST_CASE("a sync over a link cut every 2.5 s ends with every stored entry exactly once at the device") {
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

    // GPRS rates with a shorter delay, so that each 2.5 s between cuts carries some entries.
    LinkProfile flaky{"flaky GPRS", {5'000, 100ms}, {2'500, 100ms}};
    LinkEmulator link(broker.port(), flaky, 2500ms);
    DeviceState state;
    auto deadline = Clock::now() + 60s;
    while (state.acked < total && Clock::now() < deadline) sync_once(link.port(), token_b, state, total);

    INFO("connections " << state.connections << ", cut " << link.connections_cut() << ", duplicates "
                        << state.duplicates << ", acked " << state.acked << "\n" << broker.log() << bridge.log());
    REQUIRE(state.acked == total);
    CHECK(link.connections_cut() >= 2);  // the sync really crossed cuts
    CHECK(state.contiguous() == total);  // ordered by seq: 1..total, no gap
    chat::storage::Database db(broker.db_path().string());
    auto stored = chat::storage::Inbox(db).entries_after(bob, 0, 1'000'000);
    std::map<int64_t, std::string> stored_ids;
    for (const auto& e : stored) stored_ids.emplace(e.seq, e.id);
    CHECK(state.ids_by_seq == stored_ids);  // every stored entry, each once (a map holds one per seq)
}
