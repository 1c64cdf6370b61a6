// Integration test: a device syncing hundreds of missed entries over a slow link that is cut every
// few seconds reconnects, re-syncs after the last seq it holds, and ends with every entry once.
#include "common/entry.h"
#include "common/lean.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/link_emulator.h"
#include "support/mosq_device.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
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

// The entries in one publish the device received: a JSON entry, or for a lean device an entry on
// `i` or a replay page on `r`.
std::vector<chat::Entry> entries_in(const DeviceMessage& m, bool lean) {
    if (!lean) return {chat::entry_from_json(m.payload)};
    if (m.topic == chat::lean::entry_topic) return {chat::lean::decode_entry(m.payload, bob)};
    std::vector<chat::Entry> out;
    if (m.topic == chat::lean::page_topic) {
        for (auto& element : chat::lean::decode_page(m.payload, bob)) out.push_back(std::move(element.entry));
    }
    return out;
}

// One connection's life: connect, then (JSON) subscribe and sync after the last seq held, or
// (lean) let the server replay after the cursor; ack every 10 entries, not waiting for earlier
// acks' PUBACKs (on a slow link they queue behind the replay). Returns when the link drops or
// everything up to `total` is held and its ack acknowledged.
void sync_once(int port, const std::string& token, DeviceState& state, int64_t total, bool lean) {
    MosqDevice device(bob + "/d1", bob, token);
    if (!device.connect(port) || device.wait_connack(5s) != 0) return;
    ++state.connections;
    int64_t held = state.held();
    if (!lean) {
        if (!device.wait_ack(device.subscribe({"u/" + bob + "/i", "u/" + bob + "/d/d1"}), 5s)) return;
        if (device.publish("s/" + bob, nlohmann::json{{"after", held}}.dump()) < 0) return;
    }
    std::map<int, int64_t> pending_acks;  // packet id -> the seq it acks
    int64_t last_ack_sent = state.acked;
    while (state.acked < total && device.alive()) {
        if (auto m = device.next(100ms)) {
            for (const auto& e : entries_in(*m, lean)) {
                auto [at, inserted] = state.ids_by_seq.emplace(e.seq, e.id);
                if (!inserted) {
                    ++state.duplicates;
                    REQUIRE(at->second == e.id);  // a seq names one entry, however often it comes
                }
            }
            held = state.held();
        }
        std::erase_if(pending_acks, [&](const auto& ack) {
            if (!device.wait_ack(ack.first, 0ms)) return false;
            state.acked = std::max(state.acked, ack.second);
            return true;
        });
        if (held - last_ack_sent >= 10 || (held == total && last_ack_sent < total)) {
            std::string ack = lean ? std::to_string(held) : nlohmann::json{{"seq", held}}.dump();
            pending_acks.emplace(device.publish("k/" + bob, ack), held);
            last_ack_sent = held;
        }
    }
    device.close();
}

// Sends texts to an offline bob, then syncs his device over a link cut every 3 s: 300 JSON
// entries, or 600 lean ones (a lean entry is about a third of the bytes).
void sync_over_cut_link(bool lean) {
    const int64_t total = lean ? 600 : 300;
    BrokerFixture broker;
    auto token_a = broker.add_device(alice, "d1");
    auto token_b = broker.add_device(bob, "d1");
    if (lean) REQUIRE(broker.chatctl({"device", "encoding", bob, "d1", "lean"}) == 0);
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
    while (state.acked < total && Clock::now() < deadline) sync_once(link.port(), token_b, state, total, lean);

    INFO("connections " << state.connections << ", cut " << link.connections_cut() << ", duplicates "
                        << state.duplicates << ", acked " << state.acked << "\n" << broker.log() << bridge.log());
    REQUIRE(state.acked == total);
    CHECK(link.connections_cut() >= 1);  // the sync really crossed a cut
    CHECK(state.held() == total);  // ordered by seq: 1..total, no gap
    chat::storage::Database db(broker.db_path().string());
    auto stored = chat::storage::Inbox(db).entries_after(bob, 0, 1'000'000);
    std::map<int64_t, std::string> stored_ids;
    for (const auto& e : stored) stored_ids.emplace(e.seq, e.id);
    CHECK(state.ids_by_seq == stored_ids);  // every stored entry, each once (a map holds one per seq)
}

}  // namespace

TEST_CASE("a sync over a link cut every 3 s ends with every stored entry exactly once at the device") {
    sync_over_cut_link(false);
}

TEST_CASE("a lean device's server-started replay over a link cut every 3 s ends with every entry once") {
    sync_over_cut_link(true);
}
