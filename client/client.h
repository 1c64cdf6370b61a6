// The terminal chat client: registration through the sidecar, end-to-end encrypted messages
// over MQTT v5 (persistent session, sync from the last seq, de-dup by id), ticks and receipts.
#pragma once

#include "e2e/device.h"
#include "e2e/envelope.h"
#include "common/entry.h"
#include "storage/client_state.h"

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace httplib {
class Client;
}

namespace chat::client {

struct Options {
    std::string state_file = "chat-client.db";
    std::string host = "127.0.0.1";
    int http_port = 8080;
    int mqtt_port = 1883;
    std::string mqtt_host;  // empty: host
    bool mqtt_tls = false;  // MQTT over TLS (the broker's TLS listener, e.g. 8883)
    std::string ca_file;    // with TLS: the CA that signed the broker's certificate (else the system's)
};

// What recv prints, one line each (the scriptable interface tests read).
struct Counts {
    int messages = 0;  // msg, sent copies, undecryptable
    int ticks = 0;     // delivered / read
};

class Client {
public:
    explicit Client(Options options);
    ~Client();

    // POST /v1/register + /v1/verify, a new identity, and its keys uploaded (PUT /v1/keys).
    void register_account(const std::string& phone, const std::function<std::string()>& read_code);
    // Encrypts for every device of `to` and this user's other devices, publishes one m/{to};
    // returns the cid once the PUBACK came (the "sent" tick).
    std::string send(const std::string& to, const std::string& text, const std::string& kind = "msg");
    // Seals the file (e2e/media.h), uploads it resumably, sends a `media` message with id, key
    // and hash.
    std::string send_file(const std::string& to, const std::string& path);
    // Where received media files go (recv-file); empty: media messages print as text.
    void set_download_dir(std::string dir) { download_dir_ = std::move(dir); }
    // The same to every device of the group's current members (pairwise; see client.cpp).
    std::string send_group(const std::string& gid, const std::string& text);
    std::string create_group(const std::string& name, const std::vector<std::string>& members);
    void remove_member(const std::string& gid, const std::string& user);
    // Syncs from the last seq and prints what arrives until `messages` messages and `ticks`
    // ticks were printed or `timeout` passed; false on timeout.
    bool receive(int messages, int ticks, std::chrono::seconds timeout);
    // The safety number of this user and `user` (both users' device identity keys).
    std::string safety_number(const std::string& user);
    // Calls (PROTOCOL.md "Calls"): signalling only, with a placeholder SDP (the media is a
    // phone's WebRTC). Places a call to `user` and prints its signals (ringing, answer, hangup)
    // until it ends; hangs up `hold` after the answer, or at `timeout` if none came. True if
    // it was answered.
    bool place_call(const std::string& user, const std::string& media, std::chrono::seconds hold,
                    std::chrono::seconds timeout);
    // Waits for an offer, rings, answers (or rejects) it and prints the signals until the call
    // ends; false on timeout.
    bool take_call(bool reject, std::chrono::seconds timeout);
    // Line-oriented interactive mode on stdin.
    void interactive();

private:
    // Connects once; with `sync`, subscribes and asks for a replay after the last seq (again
    // after each automatic reconnect).
    void connect(bool sync);
    // Asks for a replay after the last seq on each connect, and a few times again shortly after.
    void request_sync();
    // Handles arriving entries until `done` or `deadline`, acking each batch cumulatively.
    void drain(Counts& counts, std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done);
    void ensure_sessions(const std::string& user);
    std::string upload(const std::string& blob);
    void save_media(const Entry& e, const std::string& note_text);
    std::string publish_encrypted(const std::string& topic, const std::vector<std::string>& users,
                                  const std::string& text, const std::string& kind);
    std::vector<std::pair<std::string, std::string>> session_devices(const std::string& user);
    void announce_identity_changes(const std::string& user);
    void handle(const std::string& payload, Counts& counts);
    // A message from the broker: a call signal (on u/{self}/v) or an inbox entry.
    void dispatch(const mqtt::const_message_ptr& msg, Counts& counts);
    void handle_signal(const std::string& payload);
    void send_signal(const std::string& to, nlohmann::json signal);
    // Sends an offer with the placeholder SDP and makes it this device's call.
    void offer_call(const std::string& user, const std::string& media);
    // Consumes messages until `ended` or `deadline`; true if `ended`.
    bool wait_for(const std::function<bool()>& ended, std::chrono::steady_clock::time_point deadline);
    void handle_message(const Entry& e, Counts& counts);
    void handle_receipt(const Entry& e, Counts& counts);
    void ack(int64_t seq);
    nlohmann::json get_json(const std::string& path);
    nlohmann::json put_json(const std::string& path, const nlohmann::json& body);
    void upload_keys(size_t prekeys, bool rotate);
    const storage::ClientAccount& account() const;

    Options options_;
    storage::ClientState state_;
    e2e::SignalContext context_;
    std::unique_ptr<e2e::SignalDevice> device_;
    std::unique_ptr<httplib::Client> http_;
    std::unique_ptr<mqtt::async_client> mqtt_;
    int64_t acked_ = 0;
    std::string download_dir_;
    std::atomic<int64_t> synced_seq_{0};  // read by Paho's connected handler too
    std::atomic<int64_t> connects_{0};  // counted by Paho's connected handler (subscribed, to sync)
    int64_t sync_connect_ = 0;          // the connect request_sync() asks for
    int sync_round_ = 1 << 30;          // requests made for it (past the last before any connect)
    std::chrono::steady_clock::time_point next_sync_{};
    // This device's one call at a time: the call id, the other party, and how far it got.
    struct Call {
        std::string id, peer;
        bool outgoing = false;
        bool answered = false;
    };
    std::optional<Call> call_;
};

}  // namespace chat::client
