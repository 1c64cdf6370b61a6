// chat-bench-e2e: the bytes of one end-to-end encrypted 20-byte text (issue 12): the envelope for
// a recipient with one device and with three, the first message (a prekey message, X3DH) and a
// later one (Double Ratchet only), and the TCP payload on the sender's and the recipient's links
// (MQTT v5 QoS 1 publish + PUBACK; delivery as a JSON entry with body64 and as a lean entry).
#include "e2e/device.h"
#include "e2e/envelope.h"
#include "result.h"
#include "support/broker_fixture.h"
#include "support/link_emulator.h"
#include "support/mosq_device.h"
#include "support/process.h"

#include <mosquitto.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using chat::e2e::SignalDevice;
using chat::testing::BrokerFixture;
using chat::testing::LinkEmulator;
using chat::testing::MosqDevice;

namespace {

const std::string text20 = "meet me at 8pm, ok?!";  // 20 bytes

struct Local {
    Local(const chat::e2e::SignalContext& context, const std::filesystem::path& file, const std::string& user,
          const std::string& device)
        : state(file.string()) {
        state.save_account(chat::e2e::new_identity(context, user, device, "-"));
        signal = std::make_unique<SignalDevice>(context, state);
        keys = signal->new_keys(1, true);
    }
    chat::e2e::RemoteBundle bundle() const {
        const auto& a = signal->account();
        return {a.user, a.device, keys.identity_key, keys.registration_id, keys.signed_id, keys.signed_key,
                keys.signature, keys.prekeys.at(0)};
    }
    chat::storage::ClientState state;
    std::unique_ptr<SignalDevice> signal;
    chat::e2e::KeyUpload keys;
};

// The envelopes alice sends to bob's `devices`: the first (prekey messages) and, after each of
// bob's devices answered once, the next (normal messages).
std::pair<std::string, std::string> envelopes(const chat::e2e::SignalContext& context, int devices) {
    chat::testing::TempDir dir;
    Local alice(context, dir.path() / "alice.db", "15550001", "d1");
    std::vector<std::unique_ptr<Local>> bob;
    for (int i = 0; i < devices; ++i) {
        auto d = "d" + std::to_string(i + 1);
        bob.push_back(std::make_unique<Local>(context, dir.path() / ("bob" + d + ".db"), "15550002", d));
        alice.signal->start_session(bob.back()->bundle());
    }
    auto seal = [&] {
        chat::e2e::Envelope e{"d1", {}};
        for (auto& b : bob) e.recipients.push_back(alice.signal->encrypt("15550002", b->signal->account().device, text20));
        return chat::e2e::pack(e);
    };
    auto first = seal();
    auto opened = chat::e2e::unpack(first);
    for (auto& b : bob) {
        const auto* mine = chat::e2e::find(*opened, "15550002", b->signal->account().device);
        std::string why;
        if (!b->signal->decrypt("15550001", "d1", mine->type, mine->bytes, &why)) throw std::runtime_error(why);
        auto reply = b->signal->encrypt("15550001", "d1", "ok");
        if (!alice.signal->decrypt("15550002", b->signal->account().device, reply.type, reply.bytes, &why)) {
            throw std::runtime_error(why);
        }
    }
    return {first, seal()};
}

void settle(const LinkEmulator& a, const LinkEmulator& b) {
    uint64_t last = a.total_bytes() + b.total_bytes();
    auto still = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - still < 300ms) {
        std::this_thread::sleep_for(10ms);
        if (a.total_bytes() + b.total_bytes() != last) last = a.total_bytes() + b.total_bytes(), still = std::chrono::steady_clock::now();
    }
}

struct Wire {
    uint64_t sender = 0, recipient = 0;  // TCP payload both ways on each link
};

// One publish of `body` from A to B; B gets it as `encoding` ("json" or "lean").
Wire one_message(BrokerFixture& broker, const std::string& body, const std::string& encoding, int n) {
    auto a_user = std::to_string(15560001 + 2 * n), b_user = std::to_string(15560002 + 2 * n);
    auto a_token = broker.add_device(a_user, "d1"), b_token = broker.add_device(b_user, "d1");
    if (broker.chatctl({"device", "encoding", b_user, "d1", encoding}) != 0) throw std::runtime_error("chatctl failed");
    LinkEmulator a_link(broker.port()), b_link(broker.port());
    MosqDevice a(a_user + "/d1", a_user, a_token), b(b_user + "/d1", b_user, b_token);
    if (!a.connect(a_link.port()) || a.wait_connack(10s) != 0) throw std::runtime_error("A cannot connect");
    if (!b.connect(b_link.port()) || b.wait_connack(10s) != 0) throw std::runtime_error("B cannot connect");
    if (encoding == "json" && !b.wait_ack(b.subscribe({"u/" + b_user + "/i"}), 10s)) throw std::runtime_error("no SUBACK");
    settle(a_link, b_link);
    auto a0 = a_link.total_bytes(), b0 = b_link.total_bytes();
    if (!a.wait_ack(a.publish("m/" + b_user, body), 10s)) throw std::runtime_error("no PUBACK");
    if (!b.next(10s)) throw std::runtime_error("B got nothing");
    settle(a_link, b_link);
    Wire w{a_link.total_bytes() - a0, b_link.total_bytes() - b0};
    a.close();
    b.close();
    return w;
}

}  // namespace

int main() {
    try {
        mosquitto_lib_init();
        chat::e2e::SignalContext context;
        BrokerFixture broker(chat::testing::BrokerOptions{true, {}, "", false});
        std::printf("one 20-byte text, end-to-end encrypted (MQTT v5 QoS 1, no user properties; chat-client adds\n"
                    "cid and kind, 32 bytes); TCP payload bytes both ways on each link (publish + PUBACK, entry + PUBACK)\n");
        std::printf("%-9s %-8s %9s %12s %12s %14s\n", "devices", "message", "envelope", "sender link", "to JSON dev",
                    "to lean dev");
        int n = 0;
        for (int devices : {1, 3}) {
            auto [first, later] = envelopes(context, devices);
            for (const auto& [name, body] : {std::pair<const char*, std::string>{"first", first}, {"later", later}}) {
                auto json = one_message(broker, body, "json", n++);
                auto lean = one_message(broker, body, "lean", n++);
                std::printf("%-9d %-8s %9zu %12llu %12llu %14llu\n", devices, name, body.size(),
                            static_cast<unsigned long long>(json.sender), static_cast<unsigned long long>(json.recipient),
                            static_cast<unsigned long long>(lean.recipient));
                auto key = "e2e." + std::to_string(devices) + "_device_" + name;
                chat::bench::print_result(key + "_envelope", static_cast<double>(body.size()), "B");
                chat::bench::print_result(key + "_sender_wire", static_cast<double>(json.sender), "B");
                chat::bench::print_result(key + "_lean_recipient_wire", static_cast<double>(lean.recipient), "B");
            }
        }
        mosquitto_lib_cleanup();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat-bench-e2e: %s\n", e.what());
        return 1;
    }
}
