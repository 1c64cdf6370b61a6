// Unit tests of the client's end-to-end layer: two Signal devices on their own state files build
// sessions from bundles, talk both ways, and refuse altered or replayed ciphertext.
#include "e2e/device.h"
#include "e2e/envelope.h"
#include "e2e/fingerprint.h"
#include "e2e/media.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using chat::e2e::CipherType;
using chat::e2e::RemoteBundle;
using chat::e2e::SignalContext;
using chat::e2e::SignalDevice;

namespace {

struct Peer {
    Peer(const SignalContext& context, const std::filesystem::path& file, const std::string& user)
        : state(file.string()) {
        state.save_account(chat::e2e::new_identity(context, user, "d1", "token"));
        device = std::make_unique<SignalDevice>(context, state);
        upload = device->new_keys(3, true);
    }
    // What the directory would hand out: the signed prekey and the next one-time prekey.
    RemoteBundle bundle(bool with_prekey) {
        RemoteBundle b{device->account().user, "d1", upload.identity_key, upload.registration_id, upload.signed_id,
                       upload.signed_key, upload.signature, std::nullopt};
        if (with_prekey) b.prekey = upload.prekeys.at(next++);
        return b;
    }
    chat::storage::ClientState state;
    std::unique_ptr<SignalDevice> device;
    chat::e2e::KeyUpload upload;
    size_t next = 0;
};

}  // namespace

TEST_CASE("two devices: X3DH from a bundle, then messages both ways") {
    chat::testing::TempDir dir;
    SignalContext context;
    Peer alice(context, dir.path() / "alice.db", "15550001");
    Peer bob(context, dir.path() / "bob.db", "15550002");
    CHECK(alice.upload.identity_key.size() == 33);
    CHECK(alice.upload.signature.size() == 64);
    CHECK(alice.upload.prekeys.size() == 3);

    alice.device->start_session(bob.bundle(true));
    auto first = alice.device->encrypt("15550002", "d1", "hello bob");
    CHECK(first.type == CipherType::prekey);
    CHECK(first.bytes.find("hello bob") == std::string::npos);
    std::string why;
    auto got = bob.device->decrypt("15550001", "d1", first.type, first.bytes, &why);
    REQUIRE(got);
    CHECK(*got == "hello bob");
    CHECK_FALSE(bob.state.prekey(bob.upload.prekeys[0].id));  // a one-time prekey is used once

    auto reply = bob.device->encrypt("15550001", "d1", "hi alice");
    CHECK(reply.type == CipherType::normal);
    auto back = alice.device->decrypt("15550002", "d1", reply.type, reply.bytes, &why);
    REQUIRE(back);
    CHECK(*back == "hi alice");
    auto second = alice.device->encrypt("15550002", "d1", "second");
    CHECK(second.type == CipherType::normal);
    CHECK(bob.device->decrypt("15550001", "d1", second.type, second.bytes, &why) == std::string("second"));

    // The same ciphertext again is refused (forward secrecy: its key is gone).
    CHECK_FALSE(bob.device->decrypt("15550001", "d1", second.type, second.bytes, &why));
    CHECK(why == "duplicate");
}

TEST_CASE("an altered ciphertext is reported, and the session still works afterwards") {
    chat::testing::TempDir dir;
    SignalContext context;
    Peer alice(context, dir.path() / "alice.db", "15550001");
    Peer bob(context, dir.path() / "bob.db", "15550002");
    alice.device->start_session(bob.bundle(false));  // no one-time prekey left: signed prekey only
    auto first = alice.device->encrypt("15550002", "d1", "one");
    std::string why;
    REQUIRE(bob.device->decrypt("15550001", "d1", first.type, first.bytes, &why) == std::string("one"));
    auto reply = bob.device->encrypt("15550001", "d1", "ack");
    REQUIRE(alice.device->decrypt("15550002", "d1", reply.type, reply.bytes, &why));

    auto next = alice.device->encrypt("15550002", "d1", "two");
    auto altered = next.bytes;
    altered[altered.size() / 2] = static_cast<char>(altered[altered.size() / 2] ^ 0x01);
    CHECK_FALSE(bob.device->decrypt("15550001", "d1", next.type, altered, &why));
    CHECK_FALSE(why.empty());
    CHECK(bob.device->decrypt("15550001", "d1", next.type, next.bytes, &why) == std::string("two"));
}

TEST_CASE("the state file is private and keeps sessions across restarts") {
    chat::testing::TempDir dir;
    SignalContext context;
    auto file = dir.path() / "alice.db";
    {
        Peer alice(context, file, "15550001");
        Peer bob(context, dir.path() / "bob.db", "15550002");
        alice.device->start_session(bob.bundle(true));
    }
    struct stat st {};
    REQUIRE(stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    chat::storage::ClientState state(file.string());
    SignalDevice again(context, state);
    CHECK(again.has_session("15550002", "d1"));
    CHECK_FALSE(again.has_session("15550003", "d1"));
}

TEST_CASE("envelope: MessagePack round trip, anything else is no envelope") {
    chat::e2e::Envelope e{"d2", {{"15550002", "d1", CipherType::prekey, std::string("\x00\xff\x01", 3)},
                                 {"15550001", "d1", CipherType::normal, "abc"}}};
    auto bytes = chat::e2e::pack(e);
    auto back = chat::e2e::unpack(bytes);
    REQUIRE(back);
    CHECK(back->sender_device == "d2");
    REQUIRE(back->recipients.size() == 2);
    CHECK(back->recipients[0].bytes == std::string("\x00\xff\x01", 3));
    CHECK(back->recipients[0].type == CipherType::prekey);
    CHECK(chat::e2e::find(*back, "15550001", "d1")->bytes == "abc");
    CHECK(chat::e2e::find(*back, "15550001", "d9") == nullptr);
    CHECK_FALSE(chat::e2e::unpack("hello"));
    CHECK_FALSE(chat::e2e::unpack(bytes.substr(0, bytes.size() - 1)));
}

TEST_CASE("a changed identity key of a known device is flagged until reported") {
    chat::testing::TempDir dir;
    SignalContext context;
    Peer alice(context, dir.path() / "alice.db", "15550001");
    Peer bob(context, dir.path() / "bob.db", "15550002");
    alice.device->start_session(bob.bundle(true));
    CHECK(alice.state.changed_identities("15550002/").empty());
    Peer reinstalled(context, dir.path() / "bob-again.db", "15550002");  // same user and device id, new keys
    alice.device->start_session(reinstalled.bundle(true));
    CHECK(alice.state.changed_identities("15550002/") == std::vector<std::string>{"15550002/d1"});
    alice.state.clear_changed("15550002/");
    CHECK(alice.state.changed_identities("15550002/").empty());
}

TEST_CASE("safety number: the same 60 digits on both sides, another one for another key") {
    std::string a1(33, 'a'), a2(33, 'A'), b1(33, 'b'), mallory(33, 'm');
    auto alice_view = chat::e2e::safety_number("15550001", {a1, a2}, "15550002", {b1});
    auto bob_view = chat::e2e::safety_number("15550002", {b1}, "15550001", {a2, a1});
    CHECK(alice_view == bob_view);
    CHECK(alice_view.size() == 60 + 11);  // 12 groups of 5 digits
    CHECK(alice_view.find_first_not_of("0123456789 ") == std::string::npos);
    CHECK(chat::e2e::safety_number("15550001", {a1, a2}, "15550002", {mallory}) != alice_view);
}

TEST_CASE("media: sealed with a fresh key, opened only intact and whole") {
    std::string file(200 * 1024 + 17, '\0');
    for (size_t i = 0; i < file.size(); ++i) file[i] = static_cast<char>(i * 31 % 251);
    auto sealed = chat::e2e::seal_file(file);
    CHECK(sealed.ciphertext.find(file.substr(1000, 64)) == std::string::npos);
    CHECK(chat::e2e::open_file(sealed.ciphertext, sealed.key, sealed.hash) == file);
    CHECK(chat::e2e::seal_file(file).key != sealed.key);
    auto altered = sealed.ciphertext;
    altered[70000] = static_cast<char>(altered[70000] ^ 1);
    CHECK_FALSE(chat::e2e::open_file(altered, sealed.key, sealed.hash));
    CHECK_FALSE(chat::e2e::open_file(sealed.ciphertext.substr(0, 24 + 65536 + 17), sealed.key, sealed.hash));
    CHECK_FALSE(chat::e2e::open_file(sealed.ciphertext, std::string(32, 'k'), sealed.hash));
    CHECK(chat::e2e::media_id_of("abc").size() == 64);
    auto empty = chat::e2e::seal_file("");
    CHECK(chat::e2e::open_file(empty.ciphertext, empty.key, empty.hash) == std::string());
}
