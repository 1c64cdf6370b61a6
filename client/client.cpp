// Client: sidecar calls over cpp-httplib, MQTT over Paho C++ (consumed on this thread), and
// the end-to-end layer (chat::e2e) between them. Prints one line per event on stdout.
#include "client.h"

#include "e2e/fingerprint.h"
#include "e2e/media.h"

#include "common/base64.h"
#include "common/entry.h"
#include "common/identity.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace chat::client {
namespace {

constexpr size_t prekey_batch = 50;
constexpr size_t prekey_low_water = 10;
constexpr int session_expiry_s = 7 * 24 * 3600;
constexpr int sync_rounds = 6;  // sync requests per connect (see request_sync)
// What an offer or answer carries in place of a WebRTC SDP: the server passes it through unread.
constexpr const char* placeholder_sdp = "v=0 (chat-client: signalling only, no media)";


std::string bytes_field(const nlohmann::json& j, const char* name) {
    auto bytes = from_base64(j.at(name).get<std::string>());
    if (!bytes) throw std::runtime_error(std::string("the server sent a bad ") + name);
    return *bytes;
}

e2e::RemoteBundle bundle_of(const std::string& user, const nlohmann::json& d) {
    e2e::RemoteBundle b;
    b.user = user;
    b.device = d.at("device").get<std::string>();
    b.identity_key = bytes_field(d, "identity_key");
    b.registration_id = d.at("registration_id").get<int64_t>();
    const auto& s = d.at("signed_prekey");
    b.signed_id = s.at("id").get<int64_t>();
    b.signed_key = bytes_field(s, "key");
    b.signature = bytes_field(s, "signature");
    if (d.contains("prekey")) b.prekey = e2e::OneTimePrekey{d["prekey"].at("id").get<int64_t>(), bytes_field(d["prekey"], "key")};
    return b;
}

nlohmann::json upload_json(const e2e::KeyUpload& up) {
    nlohmann::json body = {{"identity_key", to_base64(up.identity_key)}};
    if (!up.signed_key.empty()) {
        body["registration_id"] = up.registration_id;
        body["signed_prekey"] = {{"id", up.signed_id}, {"key", to_base64(up.signed_key)}, {"signature", to_base64(up.signature)}};
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& k : up.prekeys) list.push_back({{"id", k.id}, {"key", to_base64(k.key)}});
    body["prekeys"] = list;
    return body;
}

}  // namespace

Client::Client(Options options)
    : options_(std::move(options)),
      state_(options_.state_file),
      http_(std::make_unique<httplib::Client>(options_.host, options_.http_port)) {
    http_->set_read_timeout(10, 0);
    if (state_.account()) device_ = std::make_unique<e2e::SignalDevice>(context_, state_);
}

Client::~Client() {
    try {
        if (mqtt_ && mqtt_->is_connected()) mqtt_->disconnect()->wait();
    } catch (...) {
    }
}

const storage::ClientAccount& Client::account() const {
    if (!device_) throw std::runtime_error("not registered: run `chat-client register PHONE` first");
    return device_->account();
}

nlohmann::json Client::get_json(const std::string& path) {
    auto r = http_->Get(path.c_str(), {{"Authorization", "Bearer " + account().token}});
    if (!r) throw std::runtime_error("sidecar unreachable");
    if (r->status != 200) throw std::runtime_error("GET " + path + ": " + std::to_string(r->status) + " " + r->body);
    return nlohmann::json::parse(r->body);
}

nlohmann::json Client::put_json(const std::string& path, const nlohmann::json& body) {
    auto r = http_->Put(path.c_str(), {{"Authorization", "Bearer " + account().token}}, body.dump(), "application/json");
    if (!r) throw std::runtime_error("sidecar unreachable");
    if (r->status != 200 && r->status != 204) {
        throw std::runtime_error("PUT " + path + ": " + std::to_string(r->status) + " " + r->body);
    }
    return r->body.empty() ? nlohmann::json::object() : nlohmann::json::parse(r->body);
}

void Client::upload_keys(size_t prekeys, bool rotate) { put_json("/v1/keys", upload_json(device_->new_keys(prekeys, rotate))); }

void Client::register_account(const std::string& phone, const std::function<std::string()>& read_code) {
    if (state_.account()) throw std::runtime_error("this state file already holds an account");
    nlohmann::json ask = {{"phone", phone}};
    auto r = http_->Post("/v1/register", ask.dump(), "application/json");
    if (!r || r->status != 202) throw std::runtime_error("register: " + (r ? r->body : std::string("sidecar unreachable")));
    nlohmann::json verify = {{"phone", phone}, {"code", read_code()}};
    auto v = http_->Post("/v1/verify", verify.dump(), "application/json");
    if (!v || v->status != 200) throw std::runtime_error("verify: " + (v ? v->body : std::string("sidecar unreachable")));
    auto j = nlohmann::json::parse(v->body);
    state_.save_account(e2e::new_identity(context_, j.at("user"), j.at("device"), j.at("token")));
    device_ = std::make_unique<e2e::SignalDevice>(context_, state_);
    upload_keys(prekey_batch, true);
    std::cout << "registered " << account().user << " device " << account().device << std::endl;
}

void Client::connect(bool sync) {
    if (mqtt_ && mqtt_->is_connected()) return;
    synced_seq_ = state_.last_seq();
    acked_ = synced_seq_.load();
    const auto& a = account();
    const std::string scheme = options_.mqtt_tls ? "ssl://" : "tcp://";
    const std::string& host = options_.mqtt_host.empty() ? options_.host : options_.mqtt_host;
    mqtt_ = std::make_unique<mqtt::async_client>(scheme + host + ":" + std::to_string(options_.mqtt_port),
                                                 a.user + "/" + a.device, mqtt::create_options(MQTTVERSION_5));
    mqtt_->start_consuming();
    mqtt::properties props{mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, session_expiry_s)};
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_5)
                    .clean_start(false)  // a persistent session: what arrives while away is queued
                    .properties(props)
                    .user_name(a.user)
                    .password(a.token)
                    .connect_timeout(std::chrono::seconds(10))
                    .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(8))
                    .finalize();
    if (options_.mqtt_tls) {  // the broker's certificate is checked, as the bridge does
        auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
        if (!options_.ca_file.empty()) ssl.trust_store(options_.ca_file);
        opts.set_ssl(ssl.finalize());
    }
    // On every connect, the first and each after a broker restart: subscribe and sync from the
    // last seq handled, before anything the session held is handled (a seq seen first would move
    // the sync past entries still missing); drain() asks again later. Paho's thread: nothing here
    // waits, and the state file is not touched.
    if (sync) {
        const std::string inbox = "u/" + a.user + "/i", replay = "u/" + a.user + "/d/" + a.device, request = "s/" + a.user;
        mqtt_->set_connected_handler([this, inbox, replay, request](const std::string&) {
            try {
                mqtt_->subscribe(inbox, 1);
                mqtt_->subscribe(replay, 1);
                mqtt_->publish(request, std::to_string(synced_seq_.load()), 1, false);
            } catch (...) {
            }
            ++connects_;
        });
    }
    mqtt_->connect(opts)->wait();
}

std::vector<std::pair<std::string, std::string>> Client::session_devices(const std::string& user) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& name : state_.session_names(user + "/")) {
        auto device = name.substr(user.size() + 1);
        if (user == account().user && device == account().device) continue;
        out.emplace_back(user, device);
    }
    return out;
}

void Client::announce_identity_changes(const std::string& user) {
    for (const auto& name : state_.changed_identities(user + "/")) {
        std::cout << "identity-changed " << name << " (compare the safety number: chat-client verify " << user << ")"
                  << std::endl;
    }
    state_.clear_changed(user + "/");
}

// Asks for the user's live devices on every send, naming the devices it has sessions with
// (`known`), so that bundles (and one-time prekeys) are only taken for new devices.
void Client::ensure_sessions(const std::string& user) {
    std::string known;
    for (const auto& [u, device] : session_devices(user)) known += (known.empty() ? "" : ",") + device;
    auto j = get_json("/v1/keys/" + user + (known.empty() ? "" : "?known=" + known));
    std::set<std::string> live;
    for (const auto& d : j.at("devices")) live.insert(d.at("device").get<std::string>());
    for (const auto& [u, device] : session_devices(user)) {
        if (!live.count(device)) state_.delete_session(e2e::address_name(user, device), 1);  // revoked: no more copies
    }
    for (const auto& d : j.at("devices")) {
        if (!d.contains("signed_prekey")) continue;  // known already, or a device without a bundle
        auto b = bundle_of(user, d);
        if (!device_->has_session(user, b.device)) device_->start_session(b);
    }
}

std::string Client::send(const std::string& to, const std::string& text, const std::string& kind) {
    if (!is_user_id(to)) throw std::runtime_error("bad user id " + to);
    return publish_encrypted("m/" + to, {to}, text, kind);
}

// Groups: libomemo-c 0.5 has no sender-key (group_cipher) API, so a group message is encrypted
// pairwise for every device of every current member, in one envelope (as OMEMO does). The member
// list is read at each send: a removed member's devices are no longer in the envelope.
std::string Client::send_group(const std::string& gid, const std::string& text) {
    if (!is_group_id(gid)) throw std::runtime_error("bad group id " + gid);
    std::vector<std::string> members;
    const auto info = get_json("/v1/groups/" + gid);  // held: a range over a temporary's member would dangle
    for (const auto& m : info.at("members")) {
        if (m.get<std::string>() != account().user) members.push_back(m.get<std::string>());
    }
    return publish_encrypted("g/" + gid, members, text, "msg");
}

std::string Client::publish_encrypted(const std::string& topic, const std::vector<std::string>& users,
                                      const std::string& text, const std::string& kind) {
    const auto& self = account();
    e2e::Envelope envelope{self.device, {}};
    for (const auto& user : users) {
        ensure_sessions(user);
        announce_identity_changes(user);
        for (const auto& [u, device] : session_devices(user)) envelope.recipients.push_back(device_->encrypt(u, device, text));
    }
    if (envelope.recipients.empty()) throw std::runtime_error("no recipient device has published keys");
    ensure_sessions(self.user);
    for (const auto& [u, device] : session_devices(self.user)) envelope.recipients.push_back(device_->encrypt(u, device, text));
    auto cid = random_token(12);
    state_.remember_sent(cid, topic);
    connect(false);
    mqtt::properties props{mqtt::property(mqtt::property::USER_PROPERTY, "cid", cid),
                           mqtt::property(mqtt::property::USER_PROPERTY, "kind", kind)};
    auto msg = mqtt::message_ptr_builder().topic(topic).payload(e2e::pack(envelope)).qos(1).properties(props).finalize();
    auto token = mqtt_->publish(msg);
    token->wait();
    if (token->get_reason_code() >= 0x80) {
        throw std::runtime_error("refused by the server (reason " + std::to_string(token->get_reason_code()) + ")");
    }
    std::cout << "sent " << cid << std::endl;
    return cid;
}

// The sealed file goes up through the resumable upload in chunks; after a failed chunk the
// server's offset (GET /v1/uploads/{id}) says where to go on.
std::string Client::upload(const std::string& blob) {
    const httplib::Headers auth = {{"Authorization", "Bearer " + account().token}};
    auto created = http_->Post("/v1/uploads", {{"Authorization", "Bearer " + account().token},
                                               {"Upload-Length", std::to_string(blob.size())}}, "", "application/json");
    if (!created || created->status != 201) throw std::runtime_error("upload: " + (created ? created->body : std::string("sidecar unreachable")));
    const auto id = nlohmann::json::parse(created->body).at("id").get<std::string>();
    constexpr size_t piece = 256 * 1024;
    size_t offset = 0;
    for (int failures = 0; failures < 5;) {
        auto headers = auth;
        headers.emplace("Upload-Offset", std::to_string(offset));
        auto r = http_->Patch(("/v1/uploads/" + id).c_str(), headers, blob.data() + offset,
                              std::min(piece, blob.size() - offset), "application/offset+octet-stream");
        if (r && r->status == 201) return nlohmann::json::parse(r->body).at("id").get<std::string>();
        if (r && r->status == 200) {
            offset = nlohmann::json::parse(r->body).at("offset").get<size_t>();
            continue;
        }
        ++failures;  // resume from what the server has
        offset = get_json("/v1/uploads/" + id).at("offset").get<size_t>();
    }
    throw std::runtime_error("upload failed repeatedly");
}

std::string Client::send_file(const std::string& to, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::string plaintext((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto sealed = e2e::seal_file(plaintext);
    auto media_id = upload(sealed.ciphertext);
    nlohmann::json note = {{"media", media_id},
                           {"key", to_base64(sealed.key)},
                           {"hash", to_base64(sealed.hash)},
                           {"name", std::filesystem::path(path).filename().string()},
                           {"size", plaintext.size()}};
    return send(to, note.dump(), "media");
}

// Downloads with Range from where it stopped, checks the blob against its id and the plaintext
// against its hash, and only then writes the file.
void Client::save_media(const Entry& e, const std::string& note_text) {
    auto note = nlohmann::json::parse(note_text);
    const auto media_id = note.at("media").get<std::string>();
    const auto key = from_base64(note.at("key").get<std::string>()), hash = from_base64(note.at("hash").get<std::string>());
    auto name = std::filesystem::path(note.at("name").get<std::string>()).filename();
    if (!key || !hash || name.empty() || name == "." || name == "..") throw std::runtime_error("bad media message");
    std::string blob;
    std::optional<size_t> total;
    for (int attempts = 0; attempts < 10 && (!total || blob.size() < *total); ++attempts) {
        auto r = http_->Get(("/v1/media/" + media_id).c_str(),
                            {{"Authorization", "Bearer " + account().token}, {"Range", "bytes=" + std::to_string(blob.size()) + "-"}});
        if (!r) continue;  // resume with the next Range
        if (r->status == 200) {
            blob = r->body, total = blob.size();
        } else if (r->status == 206) {
            blob += r->body;
            auto range = r->get_header_value("Content-Range");
            total = std::stoull(range.substr(range.rfind('/') + 1));
        } else {
            break;  // 416 (an empty blob) or refused: check what there is
        }
    }
    std::optional<std::string> plaintext;
    if (e2e::media_id_of(blob) == media_id) plaintext = e2e::open_file(blob, *key, *hash);
    if (!plaintext) {
        std::cout << "file-corrupt " << e.id << " " << e.from << " " << name.string() << std::endl;
        return;
    }
    auto target = std::filesystem::path(download_dir_) / name;
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(plaintext->data(), static_cast<std::streamsize>(plaintext->size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + target.string());
    std::cout << "file " << e.id << " " << e.from << " " << target.string() << " " << plaintext->size() << std::endl;
}

std::string Client::create_group(const std::string& name, const std::vector<std::string>& members) {
    auto r = http_->Post("/v1/groups", {{"Authorization", "Bearer " + account().token}},
                         nlohmann::json{{"name", name}, {"members", members}}.dump(), "application/json");
    if (!r || r->status != 201) throw std::runtime_error("create group: " + (r ? r->body : std::string("sidecar unreachable")));
    auto gid = nlohmann::json::parse(r->body).at("id").get<std::string>();
    std::cout << "group " << gid << std::endl;
    return gid;
}

void Client::remove_member(const std::string& gid, const std::string& user) {
    auto r = http_->Delete(("/v1/groups/" + gid + "/members/" + user).c_str(), {{"Authorization", "Bearer " + account().token}});
    if (!r || r->status != 204) throw std::runtime_error("remove member: " + (r ? r->body : std::string("sidecar unreachable")));
    std::cout << "removed " << user << std::endl;
}

void Client::ack(int64_t seq) {
    if (seq <= acked_) return;
    mqtt_->publish("k/" + account().user, std::to_string(seq), 1, false);
    acked_ = seq;
}

void Client::handle_receipt(const Entry& e, Counts& counts) {
    auto fields = nlohmann::json::parse(e.body, nullptr, false);
    for (const char* tick : {"delivered", "read"}) {
        if (!fields.is_object() || !fields.contains(tick)) continue;
        for (const auto& id : fields[tick]) {
            auto cid = state_.cid_of(id.get<std::string>());
            std::cout << tick << " " << (cid ? *cid : id.get<std::string>()) << " " << e.from << std::endl;
            ++counts.ticks;
        }
    }
}

void Client::handle_message(const Entry& e, Counts& counts) {
    const auto& self = account();
    const bool own_copy = e.kind == "sent";
    if (own_copy && !e.cid.empty() && state_.is_own_send(e.cid)) {
        state_.bind_sent(e.cid, e.id);  // this device's own send: now receipts naming e.id map to it
        return;
    }
    const std::string peer = own_copy ? (e.gid.empty() ? e.to : e.gid) : e.from;
    auto envelope = e2e::unpack(e.body);
    std::string why = "not an end-to-end envelope";
    std::optional<std::string> text;
    if (envelope) {
        const auto* mine = e2e::find(*envelope, self.user, self.device);
        why = "no ciphertext for this device";
        if (mine) text = device_->decrypt(e.from, envelope->sender_device, mine->type, mine->bytes, &why);
    }
    if (!text) {
        std::cout << "undecryptable " << e.id << " " << peer << " " << why << std::endl;
    } else {
        announce_identity_changes(e.from);
        if (e.kind == "media" && !own_copy && !download_dir_.empty()) {
            save_media(e, *text);
            mqtt_->publish("r/" + e.from, nlohmann::json{{"read", {e.id}}}.dump(), 1, false);
            ++counts.messages;
            return;
        }
        std::cout << (own_copy ? "sent-copy " : "msg ") << e.id << " " << peer;
        if (!own_copy && !e.gid.empty()) std::cout << "@" << e.gid;
        std::cout << " " << *text << std::endl;
        if (!own_copy) mqtt_->publish("r/" + e.from, nlohmann::json{{"read", {e.id}}}.dump(), 1, false);
    }
    ++counts.messages;
}

void Client::handle(const std::string& payload, Counts& counts) {
    Entry e;
    try {
        e = entry_from_json(payload);
    } catch (const std::exception&) {
        std::cout << "unreadable entry" << std::endl;
        return;
    }
    if (e.seq > 0 && e.seq > state_.last_seq()) {
        state_.set_last_seq(e.seq);
        synced_seq_ = e.seq;
    }
    if (!state_.mark_seen(e.id)) return;  // a duplicate (live copy and replay)
    if (e.kind == "receipt") {
        handle_receipt(e, counts);
    } else if (e.kind == "notice") {
        std::cout << "notice " << e.gid << " " << e.body << std::endl;
    } else {
        handle_message(e, counts);
    }
}

// Asked on each connect (by the connected handler) and again 1, 2, 4, 8 and 16 s later: after a broker restart this device
// may reconnect before the bridge does, and a request no bridge is subscribed to yet is dropped
// (PUBACK 0x10, which Paho does not pass on). A repeated request replays only what came after
// the last seq handled, and ids already seen are skipped.
void Client::request_sync() {
    const auto now = std::chrono::steady_clock::now();
    const int64_t connect = connects_.load();
    if (connect != sync_connect_) {  // the connected handler asked once already
        sync_connect_ = connect;
        sync_round_ = 1;
        next_sync_ = now + std::chrono::seconds(1);
    }
    if (sync_round_ >= sync_rounds || now < next_sync_ || !mqtt_->is_connected()) return;
    try {
        mqtt_->publish("s/" + account().user, std::to_string(synced_seq_.load()), 1, false);
    } catch (const mqtt::exception&) {  // the connection dropped meanwhile: asked again after the reconnect
        return;
    }
    next_sync_ = now + std::chrono::seconds(1 << sync_round_);
    ++sync_round_;
}

void Client::drain(Counts& counts, std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done) {
    constexpr auto sync_check = std::chrono::seconds(1);  // how often request_sync() looks
    while (!done()) {
        request_sync();
        mqtt::const_message_ptr msg;
        if (!mqtt_->try_consume_message_until(&msg, std::min(deadline, std::chrono::steady_clock::now() + sync_check))) {
            if (std::chrono::steady_clock::now() >= deadline) return;
            continue;
        }
        if (!msg) continue;  // a connection event
        dispatch(msg, counts);
        // Everything already waiting first, then one cumulative ack for the whole batch.
        while (!done() && mqtt_->try_consume_message(&msg)) {
            if (msg) dispatch(msg, counts);
        }
        ack(state_.last_seq());
    }
}

void Client::dispatch(const mqtt::const_message_ptr& msg, Counts& counts) {
    if (msg->get_topic() == "u/" + account().user + "/v") {
        handle_signal(msg->to_string());
    } else {
        handle(msg->to_string(), counts);
    }
}

void Client::send_signal(const std::string& to, nlohmann::json signal) {
    connect(false);
    auto token = mqtt_->publish("v/" + to, signal.dump(), 1, false);
    token->wait();
    if (token->get_reason_code() >= 0x80) {
        throw std::runtime_error("call signal refused by the server (reason " +
                                 std::to_string(token->get_reason_code()) + ")");
    }
}

// One line per signal: TYPE CALL FROM [REASON]. An offer rings this device (or gets `busy`
// while it is in another call); a signal of another call than this device's is only shown.
void Client::handle_signal(const std::string& payload) {
    auto signal = nlohmann::json::parse(payload, nullptr, false);
    auto text = [&](const char* field) {
        return signal.is_object() && signal.contains(field) && signal[field].is_string() ? signal[field].get<std::string>()
                                                                                        : std::string();
    };
    const std::string type = text("type"), id = text("call"), from = text("from");
    if (type.empty() || id.empty() || from.empty()) {
        std::cout << "unreadable call signal" << std::endl;
        return;
    }
    std::cout << type << " " << id << " " << from;
    if (type == "offer") std::cout << " " << (text("media").empty() ? "voice" : text("media"));
    if (!text("reason").empty()) std::cout << " " << text("reason");
    std::cout << std::endl;
    if (type == "offer") {
        try {
            if (call_) {
                send_signal(from, {{"type", "busy"}, {"call", id}});
                return;
            }
            send_signal(from, {{"type", "ringing"}, {"call", id}});
            call_ = Call{id, from, false, false};
        } catch (const std::exception& e) {  // the caller hung up meanwhile: the server refuses
            std::cout << "error: " << e.what() << std::endl;
        }
        return;
    }
    if (!call_ || call_->id != id || call_->peer != from) return;
    if (type == "answer") call_->answered = true;
    if (type == "hangup" || type == "reject" || type == "busy") call_.reset();
}

bool Client::wait_for(const std::function<bool()>& ended, std::chrono::steady_clock::time_point deadline) {
    Counts counts;
    drain(counts, deadline, ended);
    return ended();
}

void Client::offer_call(const std::string& user, const std::string& media) {
    if (call_) throw std::runtime_error("already in a call: /hangup first");
    const std::string id = random_token(12);
    send_signal(user, {{"type", "offer"}, {"call", id}, {"media", media}, {"sdp", placeholder_sdp}});
    call_ = Call{id, user, true, false};
    std::cout << "calling " << id << " " << user << " " << media << std::endl;
}

bool Client::place_call(const std::string& user, const std::string& media, std::chrono::seconds hold,
                        std::chrono::seconds timeout) {
    offer_call(user, media);
    const std::string id = call_->id;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool answered = wait_for([&] { return !call_ || call_->answered; }, deadline) && call_;
    if (answered) wait_for([&] { return !call_; }, std::chrono::steady_clock::now() + hold);
    if (call_) {  // still on: this side ends it
        send_signal(user, {{"type", "hangup"}, {"call", id}});
        std::cout << "hung-up " << id << std::endl;
        call_.reset();
    }
    return answered;
}

bool Client::take_call(bool reject, std::chrono::seconds timeout) {
    connect(false);  // signals reach a connected device without a subscription
    std::cout << "waiting for a call" << std::endl;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!wait_for([&] { return call_.has_value(); }, deadline)) return false;
    const Call ringing = *call_;
    if (reject) {
        send_signal(ringing.peer, {{"type", "reject"}, {"call", ringing.id}});
        std::cout << "rejected " << ringing.id << std::endl;
        call_.reset();
        return true;
    }
    send_signal(ringing.peer, {{"type", "answer"}, {"call", ringing.id}, {"sdp", placeholder_sdp}});
    call_->answered = true;
    std::cout << "answered " << ringing.id << std::endl;
    return wait_for([&] { return !call_; }, deadline);
}

bool Client::receive(int messages, int ticks, std::chrono::seconds timeout) {
    connect(true);
    Counts counts;
    drain(counts, std::chrono::steady_clock::now() + timeout,
          [&] { return counts.messages >= messages && counts.ticks >= ticks; });
    ack(state_.last_seq());
    if (get_json("/v1/keys").value("prekeys_left", int64_t{0}) < static_cast<int64_t>(prekey_low_water)) {
        upload_keys(prekey_batch, false);
    }
    return counts.messages >= messages && counts.ticks >= ticks;
}

std::string Client::safety_number(const std::string& user) {
    ensure_sessions(user);
    std::vector<std::string> mine{account().identity_public}, theirs;
    for (const auto& [name, key] : state_.identities_of(account().user + "/")) mine.push_back(key);
    for (const auto& [name, key] : state_.identities_of(user + "/")) theirs.push_back(key);
    if (theirs.empty()) throw std::runtime_error("no identity key known for " + user);
    return e2e::safety_number(account().user, mine, user, theirs);
}

void Client::interactive() {
    connect(true);
    std::mutex mutex;
    std::deque<std::string> lines;
    std::atomic<bool> eof{false};
    // stdin is read on its own thread; every state change stays on this one.
    std::thread reader([&] {
        try {
            std::string line;
            while (std::getline(std::cin, line)) {
                std::lock_guard<std::mutex> lock(mutex);
                lines.push_back(line);
            }
        } catch (...) {
        }
        eof = true;
    });
    std::string peer;
    Counts counts;
    std::cout << "commands: /to USER, /group GID, /send-file PATH, /verify USER, /call USER, /answer, /hangup, "
                 "/quit; anything else is sent to the current user or group"
              << std::endl;
    while (true) {
        std::optional<std::string> line;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (!lines.empty()) {
                line = lines.front();
                lines.pop_front();
            }
        }
        if (!line) {
            if (eof) break;
            drain(counts, std::chrono::steady_clock::now() + std::chrono::milliseconds(200), [] { return false; });
            continue;
        }
        try {
            if (line->rfind("/to ", 0) == 0 || line->rfind("/group ", 0) == 0) {
                peer = line->substr(line->find(' ') + 1);
                std::cout << "talking to " << peer << std::endl;
            } else if (line->rfind("/send-file ", 0) == 0) {
                if (peer.empty() || is_group_id(peer)) throw std::runtime_error("choose a user first: /to USER");
                send_file(peer, line->substr(11));
            } else if (line->rfind("/verify ", 0) == 0) {
                std::cout << "safety number with " << line->substr(8) << ": " << safety_number(line->substr(8)) << std::endl;
            } else if (line->rfind("/call ", 0) == 0) {
                offer_call(line->substr(6), "voice");
            } else if (*line == "/answer") {
                if (!call_ || call_->outgoing || call_->answered) throw std::runtime_error("no call is ringing");
                send_signal(call_->peer, {{"type", "answer"}, {"call", call_->id}, {"sdp", placeholder_sdp}});
                call_->answered = true;
                std::cout << "answered " << call_->id << std::endl;
            } else if (*line == "/hangup") {
                if (!call_) throw std::runtime_error("no call");
                send_signal(call_->peer, {{"type", "hangup"}, {"call", call_->id}});
                std::cout << "hung-up " << call_->id << std::endl;
                call_.reset();
            } else if (*line == "/quit") {
                break;
            } else if (!line->empty()) {
                if (peer.empty()) throw std::runtime_error("choose a peer first: /to USER or /group GID");
                if (is_group_id(peer)) {
                    send_group(peer, *line);
                } else {
                    send(peer, *line);
                }
                // The sending device is not sent its own `sent` copy live; a sync brings it, so
                // that the receipts naming its stored id show as ticks of this cid.
                mqtt_->publish("s/" + account().user, std::to_string(synced_seq_.load()), 1, false);
            }
        } catch (const std::exception& e) {
            std::cout << "error: " << e.what() << std::endl;
        }
    }
    ::close(0);  // ends the reader's getline if /quit came first
    reader.join();
}

}  // namespace chat::client
