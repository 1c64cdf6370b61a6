// Integration tests of the prekey directory over real HTTP: uploads, bundles that hand out each
// one-time prekey once (also to concurrent requests), exhaustion, replenishing, rotation,
// identity changes and revoked devices.
#include "sidecar_harness.h"
#include "storage/accounts.h"
#include "storage/db.h"

#include <catch2/catch.hpp>
#include <sodium.h>

#include <mutex>
#include <set>
#include <thread>

using namespace chat::testing;
using nlohmann::json;

namespace {

std::string b64(const std::string& raw) {
    std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);
    return out;
}

// A serialised Curve25519 public key as the Signal protocol writes it: type 0x05, then 32 bytes.
std::string signal_key(unsigned char fill) { return b64(std::string(1, '\x05') + std::string(32, static_cast<char>(fill))); }

json prekeys(int first, int count) {
    json list = json::array();
    for (int id = first; id < first + count; ++id) {
        list.push_back({{"id", id}, {"key", signal_key(static_cast<unsigned char>(id))}});
    }
    return list;
}

json bundle_upload(unsigned char identity, int signed_id, int first_prekey, int count) {
    return {{"identity_key", signal_key(identity)},
            {"registration_id", 1000 + identity},
            {"signed_prekey", {{"id", signed_id}, {"key", signal_key(200)}, {"signature", b64(std::string(64, 's'))}}},
            {"prekeys", prekeys(first_prekey, count)}};
}

httplib::Result put(SidecarHarness& sc, const Device& d, const json& body) {
    return sc.http().Put("/v1/keys", SidecarHarness::auth(d.token), body.dump(), "application/json");
}

json bundles(SidecarHarness& sc, const Device& asker, const std::string& user) {
    auto r = sc.http().Get(("/v1/keys/" + user).c_str(), SidecarHarness::auth(asker.token));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return body_of(r);
}

}  // namespace

TEST_CASE("prekeys: upload a bundle, hand out each one-time prekey once, then the signed prekey alone") {
    SidecarHarness sc;
    auto alice = sc.register_device("+15550101");
    auto bob = sc.register_device("+15550102");
    auto up = put(sc, alice, bundle_upload(1, 7, 1, 3));
    REQUIRE(up->status == 200);
    CHECK(body_of(up)["prekeys_left"] == 3);

    std::vector<int> handed;
    for (int i = 0; i < 3; ++i) {
        auto j = bundles(sc, bob, alice.user);
        REQUIRE(j["devices"].size() == 1);
        const auto& d = j["devices"][0];
        CHECK(d["device"] == alice.device);
        CHECK(d["identity_key"] == signal_key(1));
        CHECK(d["registration_id"] == 1001);
        CHECK(d["signed_prekey"]["id"] == 7);
        REQUIRE(d.contains("prekey"));
        CHECK(d["prekey"]["key"] == signal_key(static_cast<unsigned char>(d["prekey"]["id"].get<int>())));
        handed.push_back(d["prekey"]["id"]);
    }
    CHECK(handed == std::vector<int>{1, 2, 3});
    auto empty = bundles(sc, bob, alice.user)["devices"][0];
    CHECK_FALSE(empty.contains("prekey"));
    CHECK(empty["signed_prekey"]["id"] == 7);

    auto status = sc.http().Get("/v1/keys", SidecarHarness::auth(alice.token));
    REQUIRE(status->status == 200);
    CHECK(body_of(status) == json{{"device", alice.device}, {"prekeys_left", 0}, {"signed_prekey_id", 7}});

    // Replenish (identity key and prekeys only) and rotate the signed prekey.
    auto more = put(sc, alice, {{"identity_key", signal_key(1)}, {"prekeys", prekeys(10, 2)}});
    REQUIRE(more->status == 200);
    CHECK(body_of(more)["prekeys_left"] == 2);
    auto rotated = bundle_upload(1, 8, 12, 0);
    REQUIRE(put(sc, alice, rotated)->status == 200);
    auto after = bundles(sc, bob, alice.user)["devices"][0];
    CHECK(after["signed_prekey"]["id"] == 8);
    CHECK(after["prekey"]["id"] == 10);  // rotation keeps the one-time prekeys of the same identity
}

TEST_CASE("prekeys: refused uploads change nothing, a new identity drops the old prekeys") {
    SidecarHarness sc;
    auto alice = sc.register_device("+15550111");
    auto bob = sc.register_device("+15550112");
    // Prekeys before any signed prekey, bad sizes and types, too many at once.
    CHECK(put(sc, alice, {{"identity_key", signal_key(1)}, {"prekeys", prekeys(1, 2)}})->status == 400);
    auto bad_type = bundle_upload(1, 7, 1, 1);
    bad_type["prekeys"][0]["key"] = b64(std::string(33, '\x06'));
    CHECK(put(sc, alice, bad_type)->status == 400);
    auto short_signature = bundle_upload(1, 7, 1, 1);
    short_signature["signed_prekey"]["signature"] = b64(std::string(63, 's'));
    CHECK(put(sc, alice, short_signature)->status == 400);
    auto no_registration = bundle_upload(1, 7, 1, 1);
    no_registration.erase("registration_id");
    CHECK(put(sc, alice, no_registration)->status == 400);
    CHECK(put(sc, alice, bundle_upload(1, 7, 1, 101))->status == 400);
    CHECK(bundles(sc, bob, alice.user)["devices"].empty());

    REQUIRE(put(sc, alice, bundle_upload(1, 7, 1, 100))->status == 200);
    REQUIRE(put(sc, alice, bundle_upload(1, 7, 101, 100))->status == 200);
    auto over = put(sc, alice, bundle_upload(1, 7, 201, 1));
    CHECK(over->status == 409);
    CHECK(body_of(over)["prekeys_left"] == 200);

    // A reinstalled device (new identity key): prekeys of the old identity are never handed out.
    REQUIRE(put(sc, alice, bundle_upload(2, 1, 500, 1))->status == 200);
    auto d = bundles(sc, bob, alice.user)["devices"][0];
    CHECK(d["identity_key"] == signal_key(2));
    CHECK(d["prekey"]["id"] == 500);
    CHECK_FALSE(bundles(sc, bob, alice.user)["devices"][0].contains("prekey"));
}

TEST_CASE("prekeys: a bundle per live device, a revoked device is absent, the version-1 call still works") {
    SidecarHarness sc;
    auto phone = sc.register_device("+15550121");
    auto laptop = sc.register_device("+15550121");
    auto old_client = sc.register_device("+15550121");
    auto bob = sc.register_device("+15550122");
    REQUIRE(put(sc, phone, bundle_upload(1, 1, 1, 5))->status == 200);
    REQUIRE(put(sc, laptop, bundle_upload(2, 1, 1, 5))->status == 200);
    REQUIRE(put(sc, old_client, {{"identity_key", b64(std::string(32, 'k'))}})->status == 204);
    auto all = bundles(sc, bob, phone.user)["devices"];
    REQUIRE(all.size() == 3);
    CHECK(all[0]["prekey"]["id"] == 1);
    CHECK(all[1]["prekey"]["id"] == 1);
    CHECK(all[2] == json{{"device", old_client.device}, {"identity_key", b64(std::string(32, 'k'))}});
    // A device asking for its own user's bundles (to reach its other devices) is not among them.
    auto others = bundles(sc, phone, phone.user)["devices"];
    REQUIRE(others.size() == 2);
    CHECK(others[0]["device"] == laptop.device);
    // Devices the asker already has sessions with are listed without a bundle, and keep their prekeys.
    auto known = sc.http().Get(("/v1/keys/" + phone.user + "?known=" + phone.device + "," + laptop.device).c_str(),
                               SidecarHarness::auth(bob.token));
    REQUIRE(known->status == 200);
    CHECK(body_of(known)["devices"][0] == json{{"device", phone.device}, {"identity_key", signal_key(1)}});
    CHECK(body_of(known)["devices"][1] == json{{"device", laptop.device}, {"identity_key", signal_key(2)}});
    CHECK(body_of(sc.http().Get("/v1/keys", SidecarHarness::auth(laptop.token)))["prekeys_left"] == 3);
    CHECK(sc.http().Get(("/v1/keys/" + phone.user + "?known=D1!").c_str(), SidecarHarness::auth(bob.token))->status == 400);

    {
        chat::storage::Database db(sc.db_path().string());
        REQUIRE(chat::storage::Accounts(db).revoke_device(laptop.user, laptop.device));
    }
    auto live = bundles(sc, bob, phone.user)["devices"];
    REQUIRE(live.size() == 2);
    CHECK(live[0]["device"] == phone.device);
    CHECK(live[1]["device"] == old_client.device);
}

TEST_CASE("prekeys: concurrent bundle requests never hand out a one-time prekey twice") {
    SidecarHarness sc;
    auto alice = sc.register_device("+15550131");
    auto alice2 = sc.register_device("+15550131");
    REQUIRE(put(sc, alice, bundle_upload(1, 1, 1, 100))->status == 200);
    REQUIRE(put(sc, alice, bundle_upload(1, 1, 101, 50))->status == 200);
    REQUIRE(put(sc, alice2, bundle_upload(2, 1, 1, 100))->status == 200);
    const int threads = 6, requests = 30;  // 180 requests for 150 + 100 prekeys: both devices run dry
    std::vector<Device> askers;
    for (int i = 0; i < threads; ++i) askers.push_back(sc.register_device("+1555014" + std::to_string(i)));

    std::mutex mutex;
    std::multiset<std::pair<std::string, int>> handed;
    int failures = 0, without_prekey = 0;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            httplib::Client http("127.0.0.1", sc.port());
            http.set_read_timeout(30, 0);
            for (int i = 0; i < requests; ++i) {
                auto r = http.Get(("/v1/keys/" + alice.user).c_str(), SidecarHarness::auth(askers[t].token));
                std::lock_guard<std::mutex> lock(mutex);
                if (!r || r->status != 200) {
                    ++failures;
                    continue;
                }
                const auto answer = json::parse(r->body);
                for (const auto& d : answer["devices"]) {
                    if (d.contains("prekey")) {
                        handed.insert({d["device"].get<std::string>(), d["prekey"]["id"].get<int>()});
                    } else {
                        ++without_prekey;
                    }
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    CHECK(failures == 0);
    std::set<std::pair<std::string, int>> distinct(handed.begin(), handed.end());
    CHECK(distinct.size() == handed.size());  // nothing twice
    CHECK(handed.size() == 250);              // and every prekey handed out
    CHECK(without_prekey == 2 * threads * requests - 250);
    auto status = sc.http().Get("/v1/keys", SidecarHarness::auth(alice.token));
    CHECK(body_of(status)["prekeys_left"] == 0);
}
