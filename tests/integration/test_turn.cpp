// Integration test of TURN credentials: a real coturn relay (turnserver) on a free loopback
// port with the repository's turnserver.conf and a secret made by scripts/make-secrets.sh, the
// real sidecar issuing GET /v1/turn, and coturn's own client (turnutils_uclient) allocating.
#include "common/identity.h"
#include "sidecar/turn_credentials.h"
#include "sidecar_harness.h"
#include "support/process.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace chat::testing;

namespace {

// turnserver.conf with the secret filled in and this test's port and files.
std::string relay_config(const std::string& secret, int port, const std::filesystem::path& dir) {
    std::istringstream in(read_file(CHAT_SOURCE_DIR "/turnserver.conf"));
    std::string out;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("listening-port=", 0) == 0) line = "listening-port=" + std::to_string(port);
        if (line.rfind("userdb=", 0) == 0) line = "userdb=" + (dir / "turndb").string();
        if (line.rfind("pidfile=", 0) == 0) line = "pidfile=" + (dir / "turnserver.pid").string();
        auto at = line.find("@TURN_SECRET@");
        if (at != std::string::npos) line.replace(at, 13, secret);
        out += line + "\n";
    }
    return out;
}

// A relay allocation with these credentials, by coturn's test client (which also sends a few
// packets through the relay); returns its exit code and output.
int allocate(int port, const std::string& username, const std::string& password, std::string& output) {
    return run_command({"turnutils_uclient", "-p", std::to_string(port), "-u", username, "-w", password, "-n", "1",
                        "-m", "1", "-l", "64", "-e", "127.0.0.1", "-y", "127.0.0.1"},
                       output);
}

}  // namespace

TEST_CASE("coturn relays with the credentials the sidecar issues and refuses tampered and expired ones") {
    TempDir dir;
    std::string out;
    REQUIRE(run_command({CHAT_SOURCE_DIR "/scripts/make-secrets.sh", dir.path().string()}, out) == 0);
    auto secret_file = dir.path() / "turn.secret";
    std::string secret = read_file(secret_file);
    secret = secret.substr(0, secret.find('\n'));
    REQUIRE(secret.size() >= 32);

    int port = free_port();
    {
        std::ofstream conf(dir.path() / "turnserver.conf");
        conf << relay_config(secret, port, dir.path());
    }
    Process relay({"turnserver", "-c", (dir.path() / "turnserver.conf").string()}, dir.path() / "turnserver.log");
    REQUIRE(wait_for_port(port, std::chrono::seconds(10)));

    SidecarHarness sidecar({}, [&](chat::sidecar::SidecarConfig& c) {
        c.turn_secret_file = secret_file.string();
        c.turn_uris = {"turn:127.0.0.1:" + std::to_string(port) + "?transport=udp"};
        c.turn_ttl_s = 600;
    });
    auto device = sidecar.register_device("+15550001");
    CHECK(sidecar.http().Get("/v1/turn")->status == 401);
    auto res = sidecar.http().Get("/v1/turn", SidecarHarness::auth(device.token));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    auto creds = nlohmann::json::parse(res->body);
    std::string username = creds["username"], password = creds["password"];
    CHECK(creds["ttl"] == 600);
    CHECK(creds["uris"][0] == "turn:127.0.0.1:" + std::to_string(port) + "?transport=udp");
    CHECK(username.substr(username.find(':') + 1) == device.user);
    int64_t expiry = std::stoll(username.substr(0, username.find(':')));
    CHECK(expiry > chat::now_ms() / 1000);
    CHECK(expiry <= chat::now_ms() / 1000 + 600);

    INFO(relay.log());
    CHECK(allocate(port, username, password, out) == 0);
    INFO(out);
    CHECK(out.find("Total lost packets 0") != std::string::npos);

    // A password that is not the secret's, a username changed after signing, and credentials
    // whose expiry has passed are all refused by the relay.
    std::string tampered = password;
    tampered[0] = tampered[0] == 'A' ? 'B' : 'A';
    CHECK(allocate(port, username, tampered, out) != 0);
    CHECK(out.find("Cannot complete Allocation") != std::string::npos);
    CHECK(allocate(port, std::to_string(expiry) + ":15550002", password, out) != 0);
    CHECK(out.find("Cannot complete Allocation") != std::string::npos);
    auto expired = chat::sidecar::turn_credentials(secret, device.user, chat::now_ms() / 1000 - 120, 60);
    CHECK(allocate(port, expired.username, expired.password, out) != 0);
    CHECK(out.find("Cannot complete Allocation") != std::string::npos);
}

TEST_CASE("TURN credentials are HMAC-SHA1 of the username in base64, and absent without a secret") {
    // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
    CHECK(chat::sidecar::turn_password("Jefe", "what do ya want for nothing?") == "7/zfauXrL6LSdBbV8YTfnCWafHk=");
    auto c = chat::sidecar::turn_credentials("k", "15550001", 1000, 60);
    CHECK(c.username == "1060:15550001");
    CHECK(c.ttl_s == 60);
    SidecarHarness sidecar;
    auto device = sidecar.register_device("+15550001");
    auto res = sidecar.http().Get("/v1/turn", SidecarHarness::auth(device.token));
    REQUIRE(res);
    CHECK(res->status == 503);
    CHECK(nlohmann::json::parse(res->body)["error"] == "no TURN relay configured");
}
