// Unit tests of call signalling: CallTable's rules and ChatBroker's relaying of v/{to}.
#include "broker-plugin/broker.h"
#include "broker-plugin/calls.h"
#include "broker_world.h"
#include "storage/inbox.h"
#include "storage/social.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

namespace {

std::string signal(const std::string& type, const std::string& call = "c1", nlohmann::json extra = {}) {
    nlohmann::json j = {{"type", type}, {"call", call}};
    if (extra.is_object()) j.update(extra);
    return j.dump();
}

// The publishes of a result that go to `client_id`, parsed.
std::vector<nlohmann::json> sent_to(const std::vector<DirectPublish>& out, const std::string& client_id,
                                    const std::string& topic) {
    std::vector<nlohmann::json> found;
    for (const auto& d : out) {
        if (d.client_id == client_id && d.message.topic == topic) found.push_back(nlohmann::json::parse(d.message.payload));
    }
    return found;
}

}  // namespace

TEST_CASE("call signals parse only known types, call ids and media") {
    CHECK(parse_call_signal(signal("offer", "a-b_9", {{"sdp", "v=0"}, {"media", "video"}})).type == "offer");
    CHECK_THROWS_AS(parse_call_signal("not json"), std::invalid_argument);
    CHECK_THROWS_AS(parse_call_signal(signal("dial")), std::invalid_argument);
    CHECK_THROWS_AS(parse_call_signal(signal("offer", "")), std::invalid_argument);
    CHECK_THROWS_AS(parse_call_signal(signal("offer", "has space")), std::invalid_argument);
    CHECK_THROWS_AS(parse_call_signal(signal("offer", std::string(65, 'a'))), std::invalid_argument);
    CHECK_THROWS_AS(parse_call_signal(signal("offer", "c1", {{"media", "fax"}})), std::invalid_argument);
}

TEST_CASE("the call table: first answer wins, the caller's device is the only one on its side") {
    CallTable calls(CallLimits{});
    auto offer = calls.on_signal("a", "p", "b", parse_call_signal(signal("offer")), 0);
    REQUIRE(offer.refused.empty());
    CHECK(offer.to_user == "b");
    CHECK(offer.to_device.empty());  // every device of the callee rings
    CHECK_FALSE(calls.on_signal("a", "p", "b", parse_call_signal(signal("offer")), 1).refused.empty());
    // The caller's other device cannot speak for this call.
    CHECK_FALSE(calls.on_signal("a", "q", "b", parse_call_signal(signal("ice")), 1).refused.empty());
    CHECK_FALSE(calls.on_signal("a", "p", "b", parse_call_signal(signal("answer")), 1).refused.empty());
    auto ringing = calls.on_signal("b", "d2", "a", parse_call_signal(signal("ringing")), 2);
    CHECK(ringing.to_user == "a");
    CHECK(ringing.to_device == "p");
    auto answer = calls.on_signal("b", "d1", "a", parse_call_signal(signal("answer")), 3);
    REQUIRE(answer.refused.empty());
    CHECK(answer.to_device == "p");
    CHECK(answer.others_reason == "answered_elsewhere");
    CHECK(answer.except_device == "d1");
    CHECK_FALSE(calls.on_signal("b", "d2", "a", parse_call_signal(signal("answer")), 4).refused.empty());
    CHECK_FALSE(calls.on_signal("b", "d2", "a", parse_call_signal(signal("ice")), 4).refused.empty());
    auto ice = calls.on_signal("a", "p", "b", parse_call_signal(signal("ice")), 5);
    CHECK(ice.to_device == "d1");  // after the answer only the answering device hears the caller
    auto hangup = calls.on_signal("b", "d1", "a", parse_call_signal(signal("hangup")), 6);
    CHECK(hangup.refused.empty());
    CHECK_FALSE(hangup.missed);
    CHECK(calls.size() == 0);
    CHECK_FALSE(calls.on_signal("a", "p", "b", parse_call_signal(signal("ice")), 7).refused.empty());
}

TEST_CASE("the call table is bounded and rings out after its timeout") {
    CallLimits limits;
    limits.max_calls = 3;
    limits.max_calls_per_user = 2;
    limits.ring_timeout_ms = 100;
    CallTable calls(limits);
    CHECK(calls.on_signal("a", "p", "b", parse_call_signal(signal("offer", "1")), 0).refused.empty());
    CHECK(calls.on_signal("a", "p", "c", parse_call_signal(signal("offer", "1")), 0).refused.empty());
    CHECK_FALSE(calls.on_signal("a", "p", "d", parse_call_signal(signal("offer", "1")), 0).refused.empty());
    CHECK(calls.on_signal("e", "p", "b", parse_call_signal(signal("offer", "1")), 50).refused.empty());
    CHECK_FALSE(calls.on_signal("f", "p", "b", parse_call_signal(signal("offer", "1")), 50).refused.empty());
    CHECK(calls.on_signal("b", "x", "a", parse_call_signal(signal("answer", "1")), 60).refused.empty());
    auto ended = calls.expire(100);
    REQUIRE(ended.size() == 1);  // a->c; a->b was answered, e->b rings until 150
    CHECK(ended[0].callee == "c");
    CHECK(ended[0].answered_device.empty());
    CHECK(calls.expire(149).empty());
    CHECK(calls.expire(150).size() == 1);
    CHECK(calls.size() == 1);
    // A caller's count is given back when its legs end.
    CHECK(calls.on_signal("a", "p", "c", parse_call_signal(signal("offer", "2")), 200).refused.empty());
}

TEST_CASE("an offer rings every connected device of the callee, stamped, and nothing is stored") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    REQUIRE(w.login(2, "15550002/d2"));
    auto r = w.broker->on_message(w.key(0), "v/15550002",
                                  signal("offer", "c1", {{"sdp", "v=0 secret-sdp"}, {"from", "forged"}}), {});
    REQUIRE(r.verdict == Verdict::pass);
    for (std::string device : {"15550002/d1", "15550002/d2"}) {
        auto got = sent_to(r.extra, device, "u/15550002/v");
        REQUIRE(got.size() == 1);
        CHECK(got[0]["from"] == "15550001");
        CHECK(got[0]["sdp"] == "v=0 secret-sdp");
        CHECK(got[0]["media"] == "voice");
    }
    // d2 answers first: the caller hears it, d1 is hung up.
    auto answer = w.broker->on_message(w.key(2), "v/15550001", signal("answer", "c1", {{"sdp", "v=0 answer"}}), {});
    REQUIRE(answer.verdict == Verdict::pass);
    auto to_caller = sent_to(answer.extra, "15550001/d1", "u/15550001/v");
    REQUIRE(to_caller.size() == 1);
    CHECK(to_caller[0]["type"] == "answer");
    CHECK(to_caller[0]["from"] == "15550002");
    auto to_d1 = sent_to(answer.extra, "15550002/d1", "u/15550002/v");
    REQUIRE(to_d1.size() == 1);
    CHECK(to_d1[0]["type"] == "hangup");
    CHECK(to_d1[0]["reason"] == "answered_elsewhere");
    CHECK(sent_to(answer.extra, "15550002/d2", "u/15550002/v").empty());
    CHECK(w.broker->on_message(w.key(1), "v/15550001", signal("answer"), {}).verdict == Verdict::deny);

    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    CHECK(inbox.entries_after("15550001", 0, 10).empty());
    CHECK(inbox.entries_after("15550002", 0, 10).empty());
}

TEST_CASE("calls obey blocks and group membership") {
    World w;
    {
        auto db = w.open();
        chat::storage::Blocks(db).block("15550002", "15550001");
    }
    REQUIRE(w.login(0, "15550001/d1"));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "v/15550002", 10));
    CHECK(w.broker->acl(w.key(0), Access::write, "v/15550003", 10));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "v/15550001", 10));
    // A group call's offer names a group the caller is in.
    CHECK(w.broker->on_message(w.key(0), "v/15550003", signal("offer", "g", {{"gid", "gabc"}}), {}).verdict ==
          Verdict::deny);
}

TEST_CASE("an unanswered offer rings out into a missed-call notice in both inboxes and pushes an absent callee") {
    World w([](Config& c) { c.call_ring_timeout_ms = 1000; });
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.auth(w.key(5), "chat-bridge-1", "bridge", "pw"));
    auto r = w.broker->on_message(w.key(0), "v/15550002", signal("offer", "c9", {{"media", "video"}}), {});
    REQUIRE(r.verdict == Verdict::pass);
    auto push = sent_to(r.extra, "chat-bridge-1", "b/push/15550002");
    REQUIRE(push.size() == 1);
    CHECK(push[0]["call"]["id"] == "c9");
    CHECK(push[0]["call"]["media"] == "video");
    w.now += 999;
    w.broker->tick();
    CHECK(w.broker->take_publishes().empty());
    w.now += 1;
    w.broker->tick();
    auto out = w.broker->take_publishes();
    auto hangup = sent_to(out, "15550001/d1", "u/15550001/v");
    REQUIRE(hangup.size() == 1);
    CHECK(hangup[0]["reason"] == "timeout");
    auto notices = sent_to(out, "", "u/15550002/i");
    REQUIRE(notices.size() == 1);
    CHECK(notices[0]["kind"] == "notice");
    CHECK(notices[0]["call"] == "c9");
    CHECK(notices[0]["media"] == "video");
    CHECK(notices[0]["missed"] == true);
    CHECK(notices[0]["from"] == "15550001");
    CHECK(sent_to(out, "", "u/15550001/i").size() == 1);
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    CHECK(inbox.entries_after("15550002", 0, 10).size() == 1);
    CHECK(inbox.entries_after("15550001", 0, 10).size() == 1);
    // The call is over: later signals for it are refused.
    CHECK(w.broker->on_message(w.key(0), "v/15550002", signal("hangup", "c9"), {}).verdict == Verdict::deny);
}
