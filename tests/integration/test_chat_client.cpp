// Integration tests of chat-client processes against the real stack (mosquitto + plugin,
// chat-bridge, sidecar): end-to-end encrypted 1:1 both ways with ticks, the sender's second
// device, no plaintext in the server's database, a broker restart, altered ciphertext, exhausted
// prekeys.
#include "e2e/envelope.h"
#include "sidecar_harness.h"
#include "storage/db.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <regex>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

// The real stack and one state file per client device.
struct Stack {
    explicit Stack(BrokerOptions options = {}) : broker(std::move(options)) {}
    BrokerFixture broker;
    BridgeProcess bridge{broker};
    SidecarHarness sidecar{broker.db_path()};
    TempDir clients;

    // chat-client's command line with the state file `who`.
    std::vector<std::string> argv(const std::string& who, const std::vector<std::string>& args) {
        std::vector<std::string> all = {CHAT_CLIENT_PATH, "--state", (clients.path() / (who + ".db")).string(),
                                        "--http-port", std::to_string(sidecar.port()), "--mqtt-port",
                                        std::to_string(broker.port())};
        all.insert(all.end(), args.begin(), args.end());
        return all;
    }
    // Runs chat-client with the state file `who`; returns its exit code, output in `out`.
    int run(const std::string& who, std::vector<std::string> args, std::string& out) {
        return run_command(argv(who, args), out);
    }
    // Starts chat-client in the background (a callee waiting for a call), output in a log.
    std::unique_ptr<Process> start(const std::string& who, const std::vector<std::string>& args) {
        return std::make_unique<Process>(argv(who, args), clients.path() / (who + "-" + args.front() + ".log"));
    }
    std::string ok(const std::string& who, std::vector<std::string> args) {
        std::string out;
        int rc = run(who, args, out);
        INFO(who << ": " << out << "\nbroker log:\n" << broker.log());
        REQUIRE(rc == 0);
        return out;
    }
    void register_phone(const std::string& who, const std::string& phone) {
        ok(who, {"register", phone, "--sms-outbox", (sidecar.data_dir() / "sms-outbox.log").string()});
    }
    // Every inbox body of `user` stored so far.
    // Every stored body of the user's inbox, or only those of one kind of entry.
    std::vector<std::string> bodies(const std::string& user, const std::string& kind = "") {
        chat::storage::Database db(broker.db_path().string());
        chat::storage::Statement s(db, "SELECT body FROM inbox WHERE user_id = ? AND body IS NOT NULL "
                                       "AND (? = '' OR kind = ?) ORDER BY seq");
        s.bind(1, user).bind(2, kind).bind(3, kind);
        std::vector<std::string> out;
        while (s.step()) out.push_back(s.blob_at(0));
        return out;
    }
};

std::string sent_cid(const std::string& out) {
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("sent (\\S+)")));
    return m[1];
}

}  // namespace

TEST_CASE("chat-client: 1:1 both ways with ticks, the sender's second device, no plaintext on the server") {
    Stack s;
    s.register_phone("alice", "+15550201");
    s.register_phone("alice-laptop", "+15550201");
    s.register_phone("bob", "+15550202");

    auto cid = sent_cid(s.ok("alice", {"send", "15550202", "hello bob, the password is swordfish"}));
    auto bob_got = s.ok("bob", {"recv", "--count", "1", "--timeout", "20"});
    CHECK(bob_got.find(" 15550201 hello bob, the password is swordfish\n") != std::string::npos);
    // The sender sees delivered (bob's ack) and read (bob's receipt) for what it sent.
    auto ticks = s.ok("alice", {"recv", "--count", "0", "--ticks", "2", "--timeout", "20"});
    CHECK(ticks.find("delivered " + cid + " 15550202") != std::string::npos);
    CHECK(ticks.find("read " + cid + " 15550202") != std::string::npos);
    // Alice's other device reads the sent copy.
    auto laptop = s.ok("alice-laptop", {"recv", "--count", "1", "--timeout", "20"});
    CHECK(laptop.find("sent-copy ") != std::string::npos);
    CHECK(laptop.find(" 15550202 hello bob, the password is swordfish\n") != std::string::npos);

    // And back: bob answers, both of alice's devices read it.
    s.ok("bob", {"send", "15550201", "got it, swordfish noted"});
    CHECK(s.ok("alice", {"recv", "--count", "1", "--timeout", "20"}).find(" 15550202 got it, swordfish noted\n") !=
          std::string::npos);
    CHECK(s.ok("alice-laptop", {"recv", "--count", "1", "--timeout", "20"}).find(" 15550202 got it, swordfish noted\n") !=
          std::string::npos);

    // Both users compare the same safety number (all of alice's device keys against bob's).
    auto alice_number = s.ok("alice", {"verify", "15550202"});
    CHECK(alice_number.size() == 60 + 11 + 1);
    CHECK(alice_number == s.ok("bob", {"verify", "15550201"}));

    // The server stored both messages, in every inbox, only as ciphertext.
    REQUIRE(eventually([&] { return s.bodies("15550201").size() >= 2 && s.bodies("15550202").size() >= 2; }));
    for (const auto* user : {"15550201", "15550202"}) {
        for (const auto& body : s.bodies(user)) CHECK(body.find("swordfish") == std::string::npos);
    }
    for (const auto* file : {"chat.db", "chat.db-wal"}) {
        auto path = s.broker.data_dir() / file;
        if (std::filesystem::exists(path)) CHECK(read_file(path).find("swordfish") == std::string::npos);
    }
}

TEST_CASE("chat-client: a waiting client survives a broker restart: it reconnects, syncs, gets each message once, with ticks") {
    Stack s;
    s.register_phone("alice", "+15550271");
    s.register_phone("bob", "+15550272");
    auto bob = s.start("bob", {"recv", "--count", "2", "--timeout", "60"});
    auto first = sent_cid(s.ok("alice", {"send", "15550272", "before the restart"}));
    REQUIRE(eventually([&] { return bob->log().find(" 15550271 before the restart\n") != std::string::npos; }));
    // Bob's read receipt is stored before the crash: one still in flight then is lost (the
    // client does not keep receipts to send again).
    REQUIRE(eventually([&] {
        for (const auto& body : s.bodies("15550271", "receipt")) {
            if (body.find("\"read\"") != std::string::npos) return true;
        }
        return false;
    }));

    s.broker.crash();  // bob's connection drops; his client reconnects on its own
    s.broker.start();
    auto second = sent_cid(s.ok("alice", {"send", "15550272", "after the restart"}));
    REQUIRE(eventually([&] { return !bob->running(); }, std::chrono::seconds(60)));
    const auto bob_log = bob->log();
    INFO(bob_log << "\nbroker log:\n" << s.broker.log());
    auto times = [&](const std::string& text) {
        size_t n = 0;
        for (auto at = bob_log.find(text); at != std::string::npos; at = bob_log.find(text, at + 1)) ++n;
        return n;
    };
    CHECK(times(" 15550271 before the restart\n") == 1);
    CHECK(times(" 15550271 after the restart\n") == 1);
    CHECK(times("undecryptable") == 0);

    // Alice, syncing from her last seq, sees both messages delivered and read.
    auto ticks = s.ok("alice", {"recv", "--count", "0", "--ticks", "4", "--timeout", "30"});
    for (const auto& cid : {first, second}) {
        CHECK(ticks.find("delivered " + cid + " 15550272\n") != std::string::npos);
        CHECK(ticks.find("read " + cid + " 15550272\n") != std::string::npos);
    }
    // Another recv of bob's finds nothing new: everything was handled once and acked.
    std::string again;
    CHECK(s.run("bob", {"recv", "--count", "1", "--timeout", "3"}, again) == 1);
    CHECK(again.find("restart") == std::string::npos);
}

TEST_CASE("chat-client: a ciphertext altered in storage is reported as undecryptable") {
    Stack s;
    s.register_phone("alice", "+15550211");
    s.register_phone("bob", "+15550212");
    s.ok("alice", {"send", "15550212", "first"});
    REQUIRE(eventually([&] { return s.bodies("15550212").size() == 1; }));
    {
        chat::storage::Database db(s.broker.db_path().string());
        auto body = s.bodies("15550212")[0];
        body.back() = static_cast<char>(body.back() ^ 0x01);  // the last ciphertext's MAC
        chat::storage::Statement update(db, "UPDATE inbox SET body = ? WHERE user_id = ?");
        update.bind_blob(1, body).bind(2, "15550212").run();
    }
    auto out = s.ok("bob", {"recv", "--count", "1", "--timeout", "20"});
    CHECK(out.find("undecryptable ") != std::string::npos);
    CHECK(out.find("first") == std::string::npos);
}

TEST_CASE("chat-client: with every one-time prekey used up, the signed prekey still starts a session") {
    Stack s;
    s.register_phone("alice", "+15550221");
    s.register_phone("bob", "+15550222");
    auto drainer = s.sidecar.register_device("+15550223");
    for (int i = 0; i < 60; ++i) {  // bob uploaded 50
        auto r = s.sidecar.http().Get("/v1/keys/15550222", SidecarHarness::auth(drainer.token));
        REQUIRE(r->status == 200);
    }
    auto status = body_of(s.sidecar.http().Get("/v1/keys/15550222", SidecarHarness::auth(drainer.token)));
    REQUIRE_FALSE(status["devices"][0].contains("prekey"));
    s.ok("alice", {"send", "15550222", "no one-time prekey needed"});
    CHECK(s.ok("bob", {"recv", "--count", "1", "--timeout", "20"}).find(" 15550221 no one-time prekey needed\n") !=
          std::string::npos);
    s.ok("bob", {"send", "15550221", "and back"});
    CHECK(s.ok("alice", {"recv", "--count", "1", "--timeout", "20"}).find(" 15550222 and back\n") != std::string::npos);
}

TEST_CASE("chat-client: a group of three, a removed member is not in the next message's envelope") {
    Stack s;
    s.register_phone("alice", "+15550231");
    s.register_phone("bob", "+15550232");
    s.register_phone("carol", "+15550233");
    std::smatch m;
    auto created = s.ok("alice", {"group-create", "trio", "15550232", "15550233"});
    REQUIRE(std::regex_search(created, m, std::regex("group (\\S+)")));
    const std::string gid = m[1];

    s.ok("alice", {"group-send", gid, "before the removal"});
    for (const auto* who : {"bob", "carol"}) {
        CHECK(s.ok(who, {"recv", "--count", "1", "--timeout", "20"}).find(" 15550231@" + gid + " before the removal\n") !=
              std::string::npos);
    }
    s.ok("alice", {"group-remove", gid, "15550233"});
    s.ok("alice", {"group-send", gid, "after the removal"});
    CHECK(s.ok("bob", {"recv", "--count", "1", "--timeout", "20"}).find(" 15550231@" + gid + " after the removal\n") !=
          std::string::npos);
    // The envelope bob received names no device of carol's: she has nothing to decrypt.
    auto stored = s.bodies("15550232", "msg");  // the membership notice may land after it
    auto envelope = chat::e2e::unpack(stored.back());
    REQUIRE(envelope);
    for (const auto& c : envelope->recipients) CHECK(c.user != "15550233");
    std::string out;
    CHECK(s.run("carol", {"recv", "--count", "1", "--timeout", "3"}, out) == 1);
    CHECK(out.find("after the removal") == std::string::npos);
}

TEST_CASE("chat-client: a file sealed before upload arrives intact, the stored blob is ciphertext") {
    Stack s;
    s.register_phone("alice", "+15550241");
    s.register_phone("bob", "+15550242");
    std::string content(700 * 1024 + 3, '\0');  // three upload chunks
    for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>("secret plans "[i % 13]);
    auto source = s.clients.path() / "plans.txt";
    {
        std::ofstream out(source, std::ios::binary);
        out << content;
    }
    s.ok("alice", {"send-file", "15550242", source.string()});
    auto inbox = s.clients.path() / "bob-files";
    std::filesystem::create_directory(inbox);
    auto out = s.ok("bob", {"recv-file", "--dir", inbox.string(), "--count", "1", "--timeout", "30"});
    CHECK(out.find("file ") != std::string::npos);
    CHECK(read_file(inbox / "plans.txt") == content);
    int blobs = 0;
    for (const auto& blob : std::filesystem::recursive_directory_iterator(s.sidecar.data_dir())) {
        if (!blob.is_regular_file() || blob.file_size() < content.size()) continue;
        ++blobs;
        CHECK(read_file(blob.path()).find("secret plans") == std::string::npos);
    }
    CHECK(blobs == 1);  // the stored upload, sealed
}

TEST_CASE("chat-client: MQTT over the broker's TLS listener with its CA, and a broker signed by another CA is refused") {
    TempDir secrets, other;
    for (const auto* dir : {&secrets, &other}) {
        std::string out;
        REQUIRE(run_command({CHAT_SOURCE_DIR "/scripts/make-secrets.sh", dir->path().string()}, out) == 0);
    }
    const int tls_port = free_port();
    BrokerOptions options;
    options.extra_config = "listener " + std::to_string(tls_port) + " 127.0.0.1\ncertfile " +
                           (secrets.path() / "tls/server.crt").string() + "\nkeyfile " +
                           (secrets.path() / "tls/server.key").string() + "\n";
    Stack s(options);
    REQUIRE(wait_for_port(tls_port, 5s));
    s.register_phone("alice", "+15550251");
    s.register_phone("bob", "+15550252");
    const std::string broker = "ssl://127.0.0.1:" + std::to_string(tls_port);
    auto over_tls = [&](const TempDir& ca, std::vector<std::string> args) {
        std::vector<std::string> all{"--broker", broker, "--ca-file", (ca.path() / "tls/ca.crt").string()};
        all.insert(all.end(), args.begin(), args.end());
        return all;
    };

    s.ok("alice", over_tls(secrets, {"send", "15550252", "sent over TLS"}));
    CHECK(s.ok("bob", over_tls(secrets, {"recv", "--count", "1", "--timeout", "20"})).find(" 15550251 sent over TLS\n") !=
          std::string::npos);
    // The client checks the broker's certificate: with another CA it does not connect, nothing is sent.
    std::string out;
    CHECK(s.run("alice", over_tls(other, {"send", "15550252", "must not leave"}), out) == 1);
    CHECK(out.find("sent ") == std::string::npos);
    // A CA file without ssl:// is a usage error.
    CHECK(s.run("alice", {"--ca-file", (secrets.path() / "tls/ca.crt").string(), "send", "15550252", "x"}, out) == 2);
}

TEST_CASE("chat-client: /call rings the callee, shows ringing, the answer and the hangup, and a rejected call ends") {
    Stack s;
    s.register_phone("alice", "+15550261");
    s.register_phone("bob", "+15550262");
    auto bob = s.start("bob", {"answer-call", "--timeout", "30"});
    REQUIRE(eventually([&] { return bob->log().find("waiting for a call") != std::string::npos; }));

    auto out = s.ok("alice", {"call", "15550262", "--media", "video", "--hold", "1", "--timeout", "20"});
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("calling (\\S+) 15550262 video\n")));
    const std::string call = m[1];
    CHECK(out.find("ringing " + call + " 15550262\n") != std::string::npos);
    CHECK(out.find("answer " + call + " 15550262\n") != std::string::npos);
    CHECK(out.find("hung-up " + call + "\n") != std::string::npos);
    // The callee's side: the offer (from the server-stamped caller), its answer, the caller's hangup.
    REQUIRE(eventually([&] { return !bob->running(); }, std::chrono::seconds(20)));
    auto bob_log = bob->log();
    INFO(bob_log);
    CHECK(bob_log.find("offer " + call + " 15550261 video\n") != std::string::npos);
    CHECK(bob_log.find("answered " + call + "\n") != std::string::npos);
    CHECK(bob_log.find("hangup " + call + " 15550261\n") != std::string::npos);

    // Rejected: the caller sees the reject and exits 1 (not answered).
    auto rejecting = s.start("bob", {"reject-call", "--timeout", "30"});
    REQUIRE(eventually([&] { return rejecting->log().find("waiting for a call") != std::string::npos; }));
    std::string rejected;
    CHECK(s.run("alice", {"call", "15550262", "--timeout", "20"}, rejected) == 1);
    CHECK(std::regex_search(rejected, m, std::regex("reject (\\S+) 15550262\n")));
    CHECK(rejected.find("answer ") == std::string::npos);
}
