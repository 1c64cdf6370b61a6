// Fuzz target: ChatBroker::on_message, the plugin's handler of every client publish, with
// arbitrary payloads and user properties, on a real SQLite database and journal. The input is
// text: the topic on the first line, then user properties (name=value) up to an empty line,
// then the payload. Topics under b/ come from the bridge's session, all others from a user's,
// and only after the WRITE check mosquitto makes first. Anything but a verdict is a finding:
// an exception would make the plugin drop the connection, so the client would retry forever.
#include "broker-plugin/broker.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/db.h"
#include "storage/policy.h"
#include "storage/social.h"
#include "temp_dir.h"

#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

void require(bool ok) {
    if (!ok) std::abort();
}

// What mosquitto lets through to the plugin: topics and user properties are UTF-8 without
// control characters (it closes the connection otherwise).
bool mqtt_string(std::string_view s) {
    return mosquitto_validate_utf8(s.data(), static_cast<int>(s.size())) == MOSQ_ERR_SUCCESS;
}

// The broker on a temporary database, built once per process: alice (15550001) publishes with
// d1 (JSON) next to d2 (MessagePack); bob (15550002) is online on two devices, carol
// (15550003) offline; dave (15550004) blocked alice; alice is in gteam, not in gother.
struct World {
    chat::fuzz::TempDir dir;
    std::string db_path = (dir.path() / "chat.db").string();
    int64_t now = 1'795'385'993'000;
    int keys[5] = {};
    std::unique_ptr<ChatBroker> broker;

    ClientKey alice = &keys[0], bridge = &keys[4];

    World() {
        std::map<std::string, std::string> tokens;
        {
            chat::storage::Database db(db_path);
            chat::storage::Accounts accounts(db);
            chat::storage::Policy policy(db);
            for (std::string user : {"15550001", "15550002", "15550003", "15550004"}) {
                accounts.create_user(user, 1);
                for (std::string device : {"d1", "d2"}) {
                    tokens[user + "/" + device] = chat::new_device_token();
                    accounts.add_device(user, device, chat::hash_token(tokens[user + "/" + device]), 1);
                }
            }
            policy.set_encoding("15550001", "d2", chat::Encoding::compact);
            policy.set_encoding("15550002", "d1", chat::Encoding::compact);
            policy.set_encoding("15550003", "d1", chat::Encoding::lean);
            policy.set_encoding("15550001", "d1", chat::Encoding::lean);
            chat::storage::Groups groups(db);
            chat::storage::Transaction tx(db);
            groups.create("gteam", "team", "15550001", {"15550002", "15550003"}, 1);
            groups.create("gother", "other", "15550002", {"15550003"}, 1);
            tx.commit();
            chat::storage::Blocks(db).block("15550004", "15550001");
        }
        Config config;
        config.db_path = db_path;
        config.bridge_user = "bridge";
        config.bridge_password = "bridge-secret";
        config.max_payload = 64 * 1024;
        config.max_pending = 1'000'000;
        config.bridge_clients = {"chat-bridge-1"};
        // The limits would refuse most inputs before their parsers see them.
        config.publish_limit = config.connect_limit = config.address_connect_limit = {1e9, 1e9};
        broker = std::make_unique<ChatBroker>(config, [this] { return now; });
        const char* sessions[] = {"15550001/d1", "15550001/d2", "15550002/d1", "15550002/d2"};
        for (int i = 0; i < 4; ++i) {
            std::string id = sessions[i];
            require(broker->authenticate(&keys[i], id, id.substr(0, id.find('/')), tokens[id]) == AuthResult::accepted);
        }
        require(broker->authenticate(bridge, "chat-bridge-1", "bridge", "bridge-secret") == AuthResult::accepted);
    }
};

struct Input {
    std::string topic;
    UserProperties props;
    std::string payload;
};

Input parse(std::string_view text) {
    Input in;
    size_t blank = text.find("\n\n");
    std::string_view head = text.substr(0, blank);
    in.payload = blank == text.npos ? "" : std::string(text.substr(blank + 2));
    size_t nl = head.find('\n');
    in.topic = head.substr(0, nl);
    while (nl != head.npos) {
        size_t start = nl + 1;
        nl = head.find('\n', start);
        std::string_view line = head.substr(start, nl == head.npos ? head.npos : nl - start);
        size_t eq = line.find('=');
        in.props.emplace_back(line.substr(0, eq), eq == line.npos ? "" : line.substr(eq + 1));
    }
    return in;
}

// Whatever the plugin hands mosquitto must be publishable: a topic without wildcards.
void check_publishable(const Publish& p) {
    require(mqtt_string(p.topic) && mosquitto_pub_topic_check(p.topic.c_str()) == MOSQ_ERR_SUCCESS);
}

void check(const Input& in, const MessageResult& r) {
    if (r.verdict == Verdict::deny) {
        require(!r.reason.empty());
        return;
    }
    if (r.verdict == Verdict::rewrite) {
        check_publishable(r.rewritten);
        // A stored entry goes out as the JSON of PROTOCOL.md, stamped with its sender.
        if (in.topic.starts_with("m/") || in.topic.starts_with("g/") || in.topic.starts_with("r/")) {
            auto entry = chat::entry_from_json(r.rewritten.payload);
            require(!entry.id.empty() && entry.ts > 0);
        }
    }
    for (const auto& extra : r.extra) check_publishable(extra.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    world.now += 10;
    world.broker->tick();
    Input in = parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!mqtt_string(in.topic)) return 0;
    for (const auto& [name, value] : in.props) {
        if (!mqtt_string(name) || !mqtt_string(value)) return 0;
    }
    ClientKey client = in.topic.starts_with("b/") ? world.bridge : world.alice;
    if (!world.broker->acl(client, Access::write, in.topic, static_cast<uint32_t>(in.payload.size()))) return 0;
    check(in, world.broker->on_message(client, in.topic, in.payload, in.props));
    return 0;
}
