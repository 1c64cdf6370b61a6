// ChatBroker::on_message: stamping, storing before PUBACK, and rewriting client publishes.
#include "broker.h"

#include "common/base64.h"
#include "common/identity.h"
#include "common/lean.h"
#include "topic.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <unordered_set>

namespace chat::broker {
namespace {

using Verdict = MessageResult::Verdict;

MessageResult deny(Refusal refusal, std::string reason) {
    MessageResult r;
    r.verdict = Verdict::deny;
    r.reason = std::move(reason);
    r.refusal = refusal;
    return r;
}

MessageResult rewrite(std::string topic, std::string payload) {
    MessageResult r;
    r.verdict = Verdict::rewrite;
    r.rewritten = Publish{std::move(topic), std::move(payload)};
    return r;
}

std::string inbox_topic(std::string_view user) { return "u/" + std::string(user) + "/i"; }

std::string packed(const Entry& e) {
    auto bytes = to_msgpack(e);
    return std::string(bytes.begin(), bytes.end());
}

// The compact form of an entry object: the same object, to be sent as MessagePack, with the
// body as binary (receipt and notice fields stay inline, as in to_msgpack; body64 is decoded).
nlohmann::json compact_object(nlohmann::json j) {
    if (j.contains("body") && j["body"].is_string()) {
        const auto& body = j["body"].get_ref<const std::string&>();
        j["body"] = nlohmann::json::binary(std::vector<uint8_t>(body.begin(), body.end()));
    } else if (j.contains("body64") && j["body64"].is_string()) {
        auto body = from_base64(j["body64"].get<std::string>());
        if (!body) throw std::invalid_argument("body64 is not base64");
        j.erase("body64");
        j["body"] = nlohmann::json::binary(std::vector<uint8_t>(body->begin(), body->end()));
    }
    return j;
}

std::string msgpack_text(const nlohmann::json& j) {
    auto bytes = nlohmann::json::to_msgpack(j);
    return std::string(bytes.begin(), bytes.end());
}

// A device topic of one user's device: where JSON and compact replays and own copies go.
std::string device_topic(std::string_view user, std::string_view device) {
    return "u/" + std::string(user) + "/d/" + std::string(device);
}

nlohmann::json parse_object(const std::string& payload) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object()) throw std::invalid_argument("expected a JSON object");
    return j;
}

int64_t exp_of(const nlohmann::json& entry) {
    auto it = entry.find("exp");
    return it != entry.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Reads {"<field>": N}, or just the digits of N (the short form), with N a non-negative
// integer; throws invalid_argument otherwise.
int64_t counter_field(const std::string& payload, const char* field) {
    if (!payload.empty() && payload.size() <= 18 && payload.find_first_not_of("0123456789") == std::string::npos) {
        return std::stoll(payload);
    }
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains(field) || !j[field].is_number_integer() || j[field].get<int64_t>() < 0) {
        throw std::invalid_argument(std::string("expected N or JSON {\"") + field + "\":N} with N >= 0");
    }
    return j[field].get<int64_t>();
}

constexpr size_t max_receipt_ids = 256;

// Accepts {"read":[ids]} or {"delivered":[ids]} (at most max_receipt_ids) and returns it parsed.
nlohmann::json receipt_body(const std::string& payload) {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    const char* bad = "expected JSON {\"read\":[ids]} or {\"delivered\":[ids]} with 1 to 256 ids";
    if (!j.is_object() || j.size() != 1) throw std::invalid_argument(bad);
    const std::string& key = j.begin().key();
    const auto& ids = j.begin().value();
    if ((key != "read" && key != "delivered") || !ids.is_array() || ids.empty() || ids.size() > max_receipt_ids) {
        throw std::invalid_argument(bad);
    }
    for (const auto& id : ids) {
        if (!id.is_string() || id.get_ref<const std::string&>().empty()) throw std::invalid_argument(bad);
    }
    return j;
}

TopicKind topic_kind(std::string_view topic) {
    if (topic == "b/fanout") return TopicKind::fanout;
    if (topic == "b/replay") return TopicKind::replay;
    if (topic.size() < 2 || topic[1] != '/') return TopicKind::other;
    switch (topic[0]) {
        case 'm': return TopicKind::direct;
        case 'g': return TopicKind::group;
        case 'r': return TopicKind::receipt;
        case 't': return TopicKind::typing;
        case 'k': return TopicKind::ack;
        case 's': return TopicKind::sync;
        case 'p': return TopicKind::presence;
        default: return TopicKind::other;
    }
}

std::string property(const UserProperties& props, std::string_view name) {
    for (const auto& [k, v] : props) {
        if (k == name) return v;
    }
    return {};
}

}  // namespace

Entry ChatBroker::new_entry(const Session& s, std::string payload, const UserProperties& props) {
    Entry e;
    e.ts = clock_();
    e.id = ids_.next(e.ts);
    e.from = s.user;
    e.body = std::move(payload);
    e.kind = property(props, "kind");
    if (e.kind.empty()) e.kind = "msg";
    if (e.kind != "msg" && e.kind != "edit" && e.kind != "delete" && e.kind != "media") {
        throw std::invalid_argument("user property kind must be msg, edit, delete or media");
    }
    e.ref = property(props, "ref");
    if ((e.kind == "edit" || e.kind == "delete") && e.ref.empty()) {
        throw std::invalid_argument("an edit or delete needs the user property ref");
    }
    if (e.ref.size() > 64) throw std::invalid_argument("user property ref is longer than 64 bytes");
    if (e.kind == "edit") {
        auto original = log_.find_by_id(s.user, e.ref);
        if (!original || original->kind != "sent") throw std::invalid_argument("an edit may only refer to your own message");
    }
    e.cid = property(props, "cid");
    if (e.cid.size() > 64) throw std::invalid_argument("user property cid is longer than 64 bytes");
    // Mosquitto 2.0.11 removes the Message Expiry Interval before plugins see a publish, so a
    // disappearing message states its lifetime (seconds) in the user property ttl as well.
    std::string ttl = property(props, "ttl");
    if (!ttl.empty()) {
        // "0", "00" and so on are refused alike: a lifetime of nothing is not a disappearing message.
        if (ttl.size() > 9 || ttl.find_first_not_of("0123456789") != std::string::npos ||
            ttl.find_first_not_of('0') == std::string::npos) {
            throw std::invalid_argument("user property ttl must be a number of seconds from 1 to 999999999");
        }
        e.expires_ms = e.ts + std::stoll(ttl) * 1000;
    }
    return e;
}

MessageResult ChatBroker::on_message(ClientKey client, std::string_view topic, std::string payload,
                                     const UserProperties& props) {
    metrics_.published(topic_kind(topic));
    MessageResult r = handle_message(client, topic, std::move(payload), props);
    if (r.verdict == Verdict::deny) metrics_.refused(r.refusal);
    return r;
}

MessageResult ChatBroker::handle_message(ClientKey client, std::string_view topic, std::string payload,
                                         const UserProperties& props) {
    auto it = sessions_.find(client);
    if (it == sessions_.end() || it->second.departed) return deny(Refusal::acl, "no session");
    Session& s = it->second;
    // The import holds what it has not written to SQLite yet in memory: past the limit, nothing
    // more is taken. storage::Error makes the plugin close the connection without a PUBACK, so
    // the client (or the bridge) sends it again once it has reconnected.
    if (log_.import_backlog_bytes() > config_.max_import_backlog) {
        throw storage::Error("the import into SQLite is behind by more than plugin_opt_max_import_backlog");
    }
    // A fenced cluster node allocates no seq: its users may be moving to another node.
    if (!node_open()) throw storage::Error("this node's lease has lapsed: its users may have moved");
    if (s.bridge) return bridge_publish(topic, payload);
    if (s.sys_operator) return deny(Refusal::acl, "the operator identity only reads $SYS");
    if (auto refused = rate_limited(s)) return *refused;
    size_t property_bytes = 0;
    for (const auto& [name, value] : props) property_bytes += name.size() + value.size();
    if (props.size() > config_.max_user_properties || property_bytes > config_.max_user_properties_bytes) {
        return deny(Refusal::malformed, "too many or too large user properties");
    }
    Topic t = split_topic(topic);
    try {
        if (t.is("m", 2)) return direct_message(s, t[1], std::move(payload), props);
        if (t.is("g", 2)) return group_message(s, t[1], std::move(payload), props);
        if (t.is("l", 2)) return list_message(s, t[1], std::move(payload), props);
        if (t.is("st", 2)) return status_post(s, payload, props);
        if (t.is("r", 2)) return receipt(s, t[1], payload);
        if (t.is("t", 2)) return typing(s, t[1], payload);
        if (t.is("v", 2)) return call_signal(s, t[1], payload);
        if (t.is("k", 2)) return ack(s, payload);
        if (t.is("s", 2)) return sync_request(s, payload);
        if (t.is("p", 2)) return MessageResult{};
    } catch (const std::invalid_argument& bad) {
        return deny(Refusal::malformed, bad.what());
    }
    return deny(Refusal::acl, "no such topic");
}

MessageResult ChatBroker::direct_message(const Session& s, std::string_view to, std::string payload,
                                         const UserProperties& props) {
    Entry e = new_entry(s, std::move(payload), props);
    if (auto earlier = earlier_copy(s, e, to)) return redeliver_duplicate(s, *earlier);
    e.to = std::string(to);
    if (Where w = where(e.to); w != Where::here) {
        if (w == Where::nobody) return deny(Refusal::unknown_recipient, "unknown recipient " + e.to);
        Entry sent = sent_copy(s, e);
        return relay(s, &sent, e, "m/" + e.to);
    }
    if (over_cap(e.to)) return deny(Refusal::pending_cap, "recipient " + e.to + " has too many undelivered messages");
    Entry sent = sent_copy(s, e);
    storage::InboxLog::Batch batch(log_);
    if (!batch.add(e.to, e)) return deny(Refusal::unknown_recipient, "unknown recipient " + e.to);
    batch.add(s.user, sent);
    if (e.kind == "delete") {
        batch.add_redaction(e.to, e.ref, s.user);
        batch.add_redaction(s.user, e.ref, s.user);
    }
    batch.commit();
    MessageResult r = rewrite(inbox_topic(e.to), json_.write(e));
    r.extra = copies_to_own_devices(s, sent);
    add_live_extras(e.to, e, r);
    return r;
}

MessageResult ChatBroker::group_message(const Session& s, std::string_view gid, std::string payload,
                                        const UserProperties& props) {
    Entry e = new_entry(s, std::move(payload), props);
    if (auto earlier = earlier_copy(s, e, gid)) return redeliver_duplicate(s, *earlier);
    e.gid = std::string(gid);
    if (config_.max_pending > 0 && policy_.member_at_cap(e.gid, s.user, config_.max_pending)) {
        return deny(Refusal::pending_cap, "a member of " + e.gid + " has too many undelivered messages");
    }
    Entry sent = sent_copy(s, e);
    return journal_for_fanout(s, sent, e, "g/" + e.gid);
}

// The sender's `sent` copy and the shared outbox record are durable in one journal batch before
// the PUBACK; the publish goes on to `topic` for the bridge's fan-out.
MessageResult ChatBroker::journal_for_fanout(const Session& s, Entry& sent, Entry& shared,
                                             std::string topic) {
    storage::InboxLog::Batch batch(log_);
    batch.add(s.user, sent);
    batch.add_outbox(shared);
    batch.commit();
    MessageResult r = rewrite(std::move(topic), json_.write(shared));
    r.extra = copies_to_own_devices(s, sent);
    return r;
}

// The bridge hands `shared` to the recipient's home as a direct b/fanout batch; a delete's
// redactions happen there and, for the sender's copy, when the bridge finishes it.
MessageResult ChatBroker::relay(const Session& s, Entry* sent, Entry& shared, std::string topic) {
    metrics_.relayed.inc();
    if (sent) return journal_for_fanout(s, *sent, shared, std::move(topic));
    storage::InboxLog::Batch batch(log_);
    batch.add_outbox(shared);
    batch.commit();
    return rewrite(std::move(topic), json_.write(shared));
}

// One publish to a broadcast list: the sender's own `sent` copy names the list in `to`, and
// one group_outbox record (its gid the list id) lets the bridge write a 1:1 copy per member
// through b/fanout, as for a group; the publish goes on to l/{list} for the bridge.
MessageResult ChatBroker::list_message(const Session& s, std::string_view list, std::string payload,
                                       const UserProperties& props) {
    Entry e = new_entry(s, std::move(payload), props);
    if (auto earlier = earlier_copy(s, e, list)) return redeliver_duplicate(s, *earlier);
    e.to = std::string(list);
    // As for a group: no copy while a member's queue is full (the other members would get theirs).
    if (config_.max_pending > 0 && policy_.list_member_at_cap(s.user, e.to, config_.max_pending)) {
        return deny(Refusal::pending_cap, "a member of list " + e.to + " has too many undelivered messages");
    }
    Entry sent = sent_copy(s, e);
    Entry shared = std::move(e);
    shared.to.clear();
    shared.gid = std::string(list);
    return journal_for_fanout(s, sent, shared, "l/" + shared.gid);
}

// The sender's stored copy of an earlier publish with the same cid to the same recipient or
// group (a client's retry); the same cid elsewhere is a new message.
std::optional<Entry> ChatBroker::earlier_copy(const Session& s, const Entry& e, std::string_view conversation) {
    if (e.cid.empty()) return std::nullopt;
    return log_.find_by_cid(s.user, e.cid, std::string(conversation));
}

// The sender's own `sent` entry keeps the cid and the sending device; the recipient's copy does not.
Entry ChatBroker::sent_copy(const Session& s, Entry& e) {
    Entry sent = e;
    sent.kind = "sent";
    sent.device = s.device;
    e.cid.clear();
    return sent;
}

// A retry of a publish we already stored (same cid): deliver the stored entry again, and
// confirm it again to a lean sender, whose first confirmation may be what it missed.
MessageResult ChatBroker::redeliver_duplicate(const Session& s, const Entry& sent) {
    bool list = is_list_id(sent.to);  // a broadcast: its shared copy is in the outbox, like a group's
    // A direct message to a user homed on another node went through the outbox too.
    bool remote = sent.gid.empty() && !list && where(sent.to) != Where::here;
    auto original = sent.gid.empty() && !list && !remote ? log_.find_by_id(sent.to, sent.id) : log_.find_outbox(sent.id);
    if (!original) return deny(Refusal::malformed, "duplicate of an expired message");
    std::string topic = list     ? "l/" + sent.to
                        : remote ? "m/" + sent.to
                        : sent.gid.empty() ? inbox_topic(sent.to)
                                           : "g/" + sent.gid;
    MessageResult r = rewrite(std::move(topic), json_.write(*original));
    if (s.encoding == Encoding::lean) {
        r.extra.push_back(DirectPublish{client_id_of(s), {lean::confirmation_topic, lean::confirmation(sent)}});
    }
    return r;
}

MessageResult ChatBroker::receipt(const Session& s, std::string_view to, const std::string& payload) {
    Entry e;
    e.ts = clock_();
    e.id = ids_.next(e.ts);
    e.kind = "receipt";
    e.from = s.user;
    e.to = std::string(to);
    auto body = receipt_body(payload);
    // A receipt speaks only of messages its sender really got from the receipt's recipient.
    for (const auto& id : body.begin().value()) {
        auto got = log_.find_by_id(s.user, id.get_ref<const std::string&>());
        if (!got || got->from != e.to) throw std::invalid_argument("a receipt names a message you did not get from " + e.to);
    }
    e.body = body.dump();
    if (where(e.to) == Where::elsewhere) return relay(s, nullptr, e, "r/" + e.to);
    storage::InboxLog::Batch batch(log_);
    if (!batch.add(e.to, e)) return deny(Refusal::unknown_recipient, "unknown recipient " + e.to);
    batch.commit();
    MessageResult r = rewrite(inbox_topic(e.to), json_.write(e));
    add_live_extras(e.to, e, r);
    return r;
}

MessageResult ChatBroker::typing(const Session& s, std::string_view to, const std::string& payload) {
    if (!is_valid_utf8(payload)) throw std::invalid_argument("typing state must be UTF-8 text");
    nlohmann::json j = {{"kind", "typing"}, {"from", s.user}, {"ts", clock_()}, {"body", payload}};
    std::string recipient(to);
    if (where(recipient) == Where::elsewhere) {  // a bridge sends it on to the recipient's home
        metrics_.relayed.inc();
        return rewrite("t/" + recipient, j.dump());
    }
    // Sent as the plugin's own QoS 0 publish; the client's publish goes on to t/{to}, where nobody
    // can subscribe, so its PUBACK is the same whether the recipient is online or not.
    MessageResult r;
    r.extra.push_back(DirectPublish{"", {"u/" + std::string(to) + "/e", j.dump()}, 0, 0});
    return r;
}

MessageResult ChatBroker::ack(const Session& s, const std::string& payload) {
    int64_t seq = counter_field(payload, "seq");
    auto acked = log_.ack(s.user, s.device, seq);
    // "ts": when the ack arrived, which the bridge's receipts carry; a redelivered forward
    // then yields the same receipt ids, which the plugin stores once.
    nlohmann::json j = {{"seq", seq}, {"device", s.device}, {"prev", acked.previous_delivered},
                        {"delivered", acked.delivered}, {"ts", clock_()}};
    return rewrite("k/" + s.user, j.dump());
}

MessageResult ChatBroker::sync_request(const Session& s, const std::string& payload) {
    int64_t after = counter_field(payload, "after");
    // Past the inbox's end: the device saw seqs a failed cluster node never wrote to the
    // database (its entries come back with new seqs, same ids), so the replay starts from the
    // device's cursor as stored (docs/PROTOCOL.md "Cluster"). A rare read.
    if (after > log_.last_seq(s.user)) {
        auto row = accounts_.find_device(s.user, s.device);
        after = row ? std::min(after, row->cursor) : 0;
    }
    DirectPublish forward = sync_forward(s.user, s.device, after);
    return rewrite(std::move(forward.message.topic), std::move(forward.message.payload));
}

DirectPublish ChatBroker::sync_forward(const std::string& user, const std::string& device, int64_t after) {
    // "upto": what the bridge waits to see imported into SQLite before it replays.
    nlohmann::json j = {{"after", after}, {"device", device}, {"upto", log_.last_seq(user)}};
    return DirectPublish{"", {"s/" + user, j.dump()}};
}

std::vector<DirectPublish> ChatBroker::copies_to_own_devices(const Session& s, const Entry& sent) {
    std::vector<DirectPublish> out;
    if (!s.state) return out;
    std::string json, msgpack, lean;  // each encoding made once, when a device first needs it
    for (const auto& [device, key] : s.state->devices) {
        auto other = sessions_.find(key);
        Encoding encoding = other != sessions_.end() ? other->second.encoding : Encoding::json;
        std::string client_id = s.user + "/" + device;
        if (device == s.device) {
            if (encoding == Encoding::lean) {
                out.push_back(DirectPublish{client_id, {lean::confirmation_topic, lean::confirmation(sent)}});
            }
            continue;
        }
        if (encoding == Encoding::lean) {
            if (lean.empty()) lean = lean::entry(sent, s.user);
            out.push_back(DirectPublish{client_id, {lean::entry_topic, lean}});
            continue;
        }
        bool compact = encoding == Encoding::compact;
        std::string& bytes = compact ? msgpack : json;
        if (bytes.empty()) bytes = compact ? packed(sent) : json_.write(sent);
        out.push_back(DirectPublish{client_id, {device_topic(s.user, device), bytes}});
    }
    return out;
}

// The bridge's batches, expanded here; the batch itself then passes on to its bridge-only
// topic, where nobody can subscribe, so the bridge gets a plain PUBACK.
MessageResult ChatBroker::bridge_publish(std::string_view topic, const std::string& payload) {
    try {
        if (topic == "b/fanout") return expand_fanout(payload);
        if (topic == "b/replay") return expand_replay(payload);
        if (topic == "b/live") return expand_live(payload);
    } catch (const storage::Error&) {
        throw;  // not stored: the plugin drops the connection and the bridge sends it again
    } catch (const std::exception& bad) {
        // A malformed batch is the bridge's bug: refuse it (the bridge logs the PUBACK).
        return deny(Refusal::malformed, std::string("bad batch on ") + std::string(topic) + ": " + bad.what());
    }
    return MessageResult{};
}

std::optional<uint32_t> ChatBroker::expiry_left(int64_t expires_ms) const {
    if (expires_ms <= 0) return 0u;
    int64_t left_ms = expires_ms - clock_();
    if (left_ms <= 0) return std::nullopt;
    return static_cast<uint32_t>(std::min<int64_t>((left_ms + 999) / 1000, UINT32_MAX));
}

// {"entry": {...without seq...}, "to": [user, ...]}: stores the entry once in each listed inbox
// that does not have its id yet (a retried batch adds nothing twice), with that user's seq, as
// one durable write before the bridge's PUBACK; then routes each new copy to u/{user}/i.
MessageResult ChatBroker::expand_fanout(const std::string& payload) {
    auto json = parse_object(payload);
    const auto& to = json.at("to");
    if (!json.at("entry").is_object() || !to.is_array()) throw std::invalid_argument("expected {\"entry\":{},\"to\":[]}");
    Entry shared = entry_from_object(json["entry"]);
    // A `sent` entry handed off from a restarted cluster node keeps its sending device.
    if (auto device = json["entry"].find("device"); device != json["entry"].end()) shared.device = device->get<std::string>();
    bool direct = json.value("direct", false);  // a broadcast list's message: 1:1 to each member
    std::vector<std::pair<std::string, Entry>> stored;  // member, their copy
    storage::InboxLog::Batch batch(log_);
    std::unordered_set<std::string_view> listed;  // a member listed twice gets one copy, one seq
    for (const auto& user : to) {
        const auto& member = user.get_ref<const std::string&>();
        if (!is_user_id(member)) throw std::invalid_argument("not a user id: " + member);
        // Routed before the member moved (this node's lease had lapsed meanwhile): no PUBACK, so
        // the bridge routes the batch again, to the member's new home.
        // Only the cache is asked (a move is always cached, see rehome()): no read per member.
        if (auto home = homed_here_.find(member); home != homed_here_.end() && !home->second) {
            throw storage::Error("user " + member + " is homed on another node now");
        }
        if (!listed.insert(member).second || log_.has_entry(member, shared.id)) continue;
        Entry copy = shared;
        if (direct) copy.to = member;
        if (!batch.add(member, copy)) continue;  // the user is gone
        if (copy.kind == "delete") batch.add_redaction(member, copy.ref, copy.from);
        stored.emplace_back(member, std::move(copy));
    }
    batch.commit();
    MessageResult r;
    auto expiry = expiry_left(shared.expires_ms);
    if (!expiry) return r;  // expired in transit: stored copies are swept, nothing goes live
    r.extra.reserve(stored.size());
    for (const auto& [member, copy] : stored) {
        r.extra.push_back(DirectPublish{"", {inbox_topic(member), json_.write(copy)}, *expiry});
        add_live_extras(member, copy, r);
    }
    return r;
}

// {"user","device","entries":[...]}: straight to that device's connection (it gets them even
// before it subscribes, and no other device sees them) in its encoding: JSON entry by entry,
// compact and lean as one page. An entry's "device" (the sending device of a `sent` entry) is
// never passed on: the lean device that sent it gets a confirmation in its place.
MessageResult ChatBroker::expand_replay(const std::string& payload) {
    auto batch = parse_object(payload);
    const auto& user = batch.at("user").get_ref<const std::string&>();
    const auto& device = batch.at("device").get_ref<const std::string&>();
    auto& entries = batch.at("entries");  // taken apart in place: each entry is used once
    if (!is_user_id(user) || !is_device_id(device) || !entries.is_array()) {
        throw std::invalid_argument("expected {\"user\",\"device\",\"entries\":[]}");
    }
    MessageResult r;
    auto state = users_.find(user);
    if (state == users_.end()) return r;
    auto connection = state->second.devices.find(device);
    if (connection == state->second.devices.end()) return r;  // gone: it syncs again on reconnect
    auto session = sessions_.find(connection->second);
    Encoding encoding = session != sessions_.end() ? session->second.encoding : Encoding::json;
    std::string client_id = user + "/" + device;
    lean::PageWriter lean_page(user);
    auto compact_page = nlohmann::json::array();
    for (auto& e : entries) {
        if (!e.is_object()) throw std::invalid_argument("an entry is not an object");
        std::string sent_by = e.contains("device") ? e["device"].get<std::string>() : std::string();
        e.erase("device");
        auto expiry = expiry_left(exp_of(e));
        if (!expiry) continue;
        if (encoding == Encoding::json) {
            r.extra.push_back(DirectPublish{client_id, {device_topic(user, device), e.dump()}, *expiry});
        } else if (encoding == Encoding::compact) {
            compact_page.push_back(compact_object(std::move(e)));
        } else {
            Entry entry = entry_from_object(e);
            if (entry.kind == "sent" && sent_by == device) {
                lean_page.add_confirmation(entry);
            } else {
                lean_page.add_entry(entry);
            }
        }
    }
    if (!compact_page.empty()) {
        r.extra.push_back(DirectPublish{client_id, {device_topic(user, device), msgpack_text(compact_page)}});
    }
    if (!lean_page.empty()) r.extra.push_back(DirectPublish{client_id, {lean::page_topic, lean_page.finish()}});
    return r;
}

// {"topic": "u/{user}/e" | "p/{user}", "payload", "qos", "retain"}: published here as the plugin's
// own message, routed normally (READ-checked, so blocks apply) and marked relayed.
MessageResult ChatBroker::expand_live(const std::string& payload) {
    auto j = parse_object(payload);
    const auto& topic = j.at("topic").get_ref<const std::string&>();
    Topic t = split_topic(topic);
    bool typing = t.count == 3 && !t.too_deep && t[0] == "u" && is_user_id(t[1]) && t[2] == "e";
    bool presence = t.is("p", 2) && is_user_id(t[1]);
    int qos = j.value("qos", 0);
    if ((!typing && !presence) || (qos != 0 && qos != 1)) {
        throw std::invalid_argument("b/live carries only u/{user}/e or p/{user}, at QoS 0 or 1");
    }
    DirectPublish d{"", {topic, j.at("payload").get<std::string>()}, 0, qos};
    d.retain = presence && j.value("retain", false);
    d.relayed = true;
    MessageResult r;
    r.extra.push_back(std::move(d));
    return r;
}

void ChatBroker::add_live_extras(const std::string& user, const Entry& e, MessageResult& r) {
    auto it = users_.find(user);
    if (it == users_.end() || it->second.devices.empty()) {
        // Nobody is connected: a bridge turns this signal into a (debounced) push, off this thread.
        if (!bridge_clients_.empty()) {
            const std::string& bridge = bridge_clients_[next_bridge_++ % bridge_clients_.size()];
            // The count from memory: SQLite only has it once the journal is imported.
            nlohmann::json signal = {{"pending", log_.pending(user)}};
            // The conversation, so the push hook can honour a mute: the group, else the other user.
            signal["conversation"] = !e.gid.empty() ? e.gid : e.from == user ? e.to : e.from;
            r.extra.push_back(DirectPublish{bridge, {"b/push/" + user, signal.dump()}});
        }
        return;
    }
    std::string msgpack, lean;  // each made once, when a device first needs it
    for (const auto& [device, key] : it->second.devices) {
        auto session = sessions_.find(key);
        if (session == sessions_.end()) continue;
        if (session->second.encoding == Encoding::compact) {
            if (msgpack.empty()) msgpack = packed(e);
            r.extra.push_back(DirectPublish{user + "/" + device, {inbox_topic(user), msgpack}});
        } else if (session->second.encoding == Encoding::lean) {
            if (lean.empty()) lean = lean::entry(e, user);
            r.extra.push_back(DirectPublish{user + "/" + device, {lean::entry_topic, lean}});
        }
    }
}

std::optional<MessageResult> ChatBroker::rate_limited(Session& s) {
    if (publish_limits_.allow(s.user, clock_())) {
        s.refused_in_a_row = 0;
        return std::nullopt;
    }
    // Mosquitto 2.0.11 lets a plugin refuse a publish only as "not authorised" (v5 0x87; a
    // v3.1.1 client gets a plain PUBACK), so a client that keeps going is disconnected.
    if (++s.refused_in_a_row == config_.refusals_before_kick) {
        kicks_.push_back(client_id_of(s));
        metrics_.kicked(Kick::rate_limit);
    }
    return deny(Refusal::rate_limit, "message rate too high for " + s.user);
}

bool ChatBroker::over_cap(const std::string& user) {
    return config_.max_pending > 0 && log_.pending(user) >= config_.max_pending;
}

}  // namespace chat::broker
