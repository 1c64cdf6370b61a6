// Mosquitto plugin entry points: registers callbacks that translate mosquitto's
// structs into ChatBroker calls. No logic lives here.
#include <mosquitto_broker.h>
#include <mosquitto.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "broker_version.h"
#include "common/identity.h"
#include "common/log.h"
#include "metrics/endpoint.h"

#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <thread>

namespace {

using chat::broker::Access;
using chat::broker::ChatBroker;
using Verdict = chat::broker::MessageResult::Verdict;
using chat::log::Level;

int mosquitto_level(Level level) {
    int mosq_level = MOSQ_LOG_INFO;
    switch (level) {
        case Level::debug: mosq_level = MOSQ_LOG_DEBUG; break;
        case Level::info: mosq_level = MOSQ_LOG_INFO; break;
        case Level::notice: mosq_level = MOSQ_LOG_NOTICE; break;
        case Level::warning: mosq_level = MOSQ_LOG_WARNING; break;
        case Level::error: mosq_level = MOSQ_LOG_ERR; break;
    }
    return mosq_level;
}

// The plugin's log lines go to mosquitto's log. mosquitto_log_printf is for the broker's own
// thread (it may publish to $SYS/broker/log): lines of the plugin's background threads
// (importer, checkpointer) go to stderr, where they went before.
chat::log::Sink mosquitto_sink() {
    return [broker_thread = std::this_thread::get_id()](Level level, const std::string& line) {
        if (std::this_thread::get_id() != broker_thread) {
            std::fprintf(stderr, "chat: level=%s %s\n", chat::log::level_name(level), line.c_str());
            return;
        }
        mosquitto_log_printf(mosquitto_level(level), "chat: %s", line.c_str());
    };
}

struct PluginState {
    mosquitto_plugin_id_t* id = nullptr;
    std::unique_ptr<ChatBroker> broker;
    // After the broker: stopped first, since it renders the broker's metrics on its own thread.
    std::unique_ptr<chat::metrics::Endpoint> metrics_endpoint;
    bool broker_frees_replaced_fields = false;  // see broker_version.h
};

PluginState& state_of(void* userdata) { return *static_cast<PluginState*>(userdata); }

ChatBroker& broker_of(void* userdata) { return *static_cast<PluginState*>(userdata)->broker; }

std::string_view view(const char* s) { return s ? std::string_view(s) : std::string_view(); }

// Queued by the broker and sent on its next loop pass. An empty client id means normal
// routing (READ-checked per subscriber); the broker takes ownership of the properties.
void publish(ChatBroker& broker, const chat::broker::DirectPublish& d) {
    mosquitto_property* props = nullptr;
    if (d.expiry_s) mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, d.expiry_s);
    // A bridge never relays a message marked so (docs/PROTOCOL.md "Cluster"): no loops.
    if (d.relayed) mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "relayed", "1");
    int rc = mosquitto_broker_publish_copy(d.client_id.empty() ? nullptr : d.client_id.c_str(),
                                           d.message.topic.c_str(), static_cast<int>(d.message.payload.size()),
                                           d.message.payload.data(), d.qos, d.retain, props);
    if (rc != MOSQ_ERR_SUCCESS) {
        mosquitto_property_free_all(&props);  // still ours when the broker refused it
        broker.live_copy_dropped();
        // Only the live copy is lost: the entry is stored and the next sync replays it.
        chat::log::log(Level::warning, "live_copy_not_queued", {{"topic", d.message.topic}, {"error", mosquitto_strerror(rc)}});
    }
}

int on_basic_auth(int, void* event_data, void* userdata) {
    try {
        auto* ev = static_cast<mosquitto_evt_basic_auth*>(event_data);
        auto result = broker_of(userdata).authenticate(ev->client, view(mosquitto_client_id(ev->client)),
                                                       view(ev->username), view(ev->password),
                                                       view(mosquitto_client_address(ev->client)));
        for (const auto& d : broker_of(userdata).take_publishes()) publish(broker_of(userdata), d);
        switch (result) {
            case chat::broker::AuthResult::accepted: return MOSQ_ERR_SUCCESS;
            case chat::broker::AuthResult::refused: return MOSQ_ERR_AUTH;
            case chat::broker::AuthResult::unavailable: break;
        }
        chat::log::log(Level::notice, "connect_throttled", {{"address", mosquitto_client_address(ev->client)}});
        return MOSQ_ERR_UNKNOWN;
    } catch (const std::exception& e) {
        // Storage trouble (e.g. a full disk) is not the client's fault: mosquitto 2.0.11 closes the
        // connection without a CONNACK for any error but MOSQ_ERR_AUTH, which a client takes as a
        // passing fault, where "not authorised" would read as a revoked token.
        chat::log::log(Level::error, "auth_failed", {{"error", e.what()}});
        return MOSQ_ERR_UNKNOWN;
    } catch (...) {
        return MOSQ_ERR_UNKNOWN;
    }
}

int on_acl_check(int, void* event_data, void* userdata) {
    try {
        auto* ev = static_cast<mosquitto_evt_acl_check*>(event_data);
        Access access;
        switch (ev->access) {
            case MOSQ_ACL_READ: access = Access::read; break;
            case MOSQ_ACL_WRITE: access = Access::write; break;
            case MOSQ_ACL_SUBSCRIBE: access = Access::subscribe; break;
            default: return MOSQ_ERR_SUCCESS;  // unsubscribing is always fine
        }
        return broker_of(userdata).acl(ev->client, access, view(ev->topic), ev->payloadlen) ? MOSQ_ERR_SUCCESS
                                                                                             : MOSQ_ERR_ACL_DENIED;
    } catch (...) {
        return MOSQ_ERR_ACL_DENIED;
    }
}

chat::broker::UserProperties user_properties(const mosquitto_property* props) {
    chat::broker::UserProperties out;
    char* name = nullptr;
    char* value = nullptr;
    for (auto* p = mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &name, &value, false); p;
         p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, true)) {
        out.emplace_back(name, value);
        // Strings handed out by the broker are ours to free.
        mosquitto_free(name);
        mosquitto_free(value);
    }
    return out;
}

// Mosquitto up to 2.0.14 leaves a replaced topic and property list to the plugin; 2.0.15+ frees
// them itself. Which one runs is read from the broker at start, not from the headers we built with.
void replace_topic(mosquitto_evt_message* ev, const std::string& topic, bool broker_frees) {
    if (!broker_frees) mosquitto_free(ev->topic);
    ev->topic = mosquitto_strdup(topic.c_str());
}

// A rewritten publish carries the entry, which holds everything the recipient may see: the
// sender's own properties (cid, ttl, anything else) do not travel on.
void drop_properties(mosquitto_evt_message* ev, bool broker_frees) {
    if (!ev->properties) return;
    if (!broker_frees) mosquitto_property_free_all(&ev->properties);
    ev->properties = nullptr;
}

void replace_payload(mosquitto_evt_message* ev, const std::string& payload) {
    void* buf = mosquitto_malloc(payload.size() ? payload.size() : 1);
    std::memcpy(buf, payload.data(), payload.size());
    ev->payload = buf;
    ev->payloadlen = static_cast<uint32_t>(payload.size());
}

int on_message(int, void* event_data, void* userdata) {
    auto* ev = static_cast<mosquitto_evt_message*>(event_data);
    try {
        std::string payload(static_cast<const char*>(ev->payload), ev->payloadlen);
        auto result = broker_of(userdata).on_message(ev->client, view(ev->topic), std::move(payload),
                                                     user_properties(ev->properties));
        if (result.verdict == Verdict::deny) {
            chat::log::log(Level::notice, "publish_refused",
                           {{"client", mosquitto_client_id(ev->client)}, {"topic", ev->topic}, {"reason", result.reason}});
            return MOSQ_ERR_ACL_DENIED;
        }
        if (result.verdict == Verdict::rewrite) {
            bool frees = state_of(userdata).broker_frees_replaced_fields;
            replace_topic(ev, result.rewritten.topic, frees);
            replace_payload(ev, result.rewritten.payload);
            drop_properties(ev, frees);
            ev->retain = false;
        }
        for (const auto& d : result.extra) publish(broker_of(userdata), d);
        return MOSQ_ERR_SUCCESS;
    } catch (const std::exception& e) {
        // Not stored: drop the connection so no PUBACK goes out and the client retries.
        chat::log::log(Level::error, "publish_not_stored", {{"topic", ev->topic}, {"error", e.what()}});
        return MOSQ_ERR_UNKNOWN;
    } catch (...) {
        return MOSQ_ERR_UNKNOWN;
    }
}

int on_disconnect(int, void* event_data, void* userdata) {
    try {
        broker_of(userdata).on_disconnect(static_cast<mosquitto_evt_disconnect*>(event_data)->client);
    } catch (const std::exception& e) {
        chat::log::log(Level::error, "disconnect_failed", {{"error", e.what()}});
    } catch (...) {
    }
    return MOSQ_ERR_SUCCESS;
}

int on_tick(int, void*, void* userdata) {
    try {
        broker_of(userdata).tick();
        for (const auto& d : broker_of(userdata).take_publishes()) publish(broker_of(userdata), d);  // e.g. calls rung out
        for (const auto& client_id : broker_of(userdata).take_kicks()) {
            chat::log::log(Level::notice, "client_kicked", {{"client", client_id}});
            mosquitto_kick_client_by_clientid(client_id.c_str(), false);
        }
    } catch (const std::exception& e) {
        chat::log::log(Level::error, "permission_refresh_failed", {{"error", e.what()}});
    } catch (...) {
    }
    return MOSQ_ERR_SUCCESS;
}

struct Registration {
    int event;
    MOSQ_FUNC_generic_callback callback;
};

constexpr Registration callbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, on_basic_auth}, {MOSQ_EVT_ACL_CHECK, on_acl_check}, {MOSQ_EVT_MESSAGE, on_message},
    {MOSQ_EVT_DISCONNECT, on_disconnect}, {MOSQ_EVT_TICK, on_tick},
};

// The running broker's patch level, from its own executable; the headers' when unreadable.
int broker_patch_level() {
    std::ifstream exe("/proc/self/exe", std::ios::binary);
    std::string image((std::istreambuf_iterator<char>(exe)), std::istreambuf_iterator<char>());
    if (auto level = chat::broker::mosquitto_2_0_patch_level(image)) return *level;
    chat::log::log(Level::warning, "broker_version_unknown",
                   {{"assumed", std::to_string(LIBMOSQUITTO_MAJOR) + "." + std::to_string(LIBMOSQUITTO_MINOR) + "." +
                                    std::to_string(LIBMOSQUITTO_REVISION)}});
    return LIBMOSQUITTO_REVISION;
}

}  // namespace

extern "C" {

int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
    for (int i = 0; i < supported_version_count; ++i) {
        if (supported_versions[i] == 5) return 5;
    }
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata, struct mosquitto_opt* options,
                          int option_count) {
    try {
        std::map<std::string, std::string> opts;
        for (int i = 0; i < option_count; ++i) opts[options[i].key] = options[i].value ? options[i].value : "";
        // Each SQLite commit frees and re-grows the top of the heap; with glibc's default 128 KiB
        // trim threshold that is a brk() pair per message (measured: ~30% of a commit's cost).
        // Keeping up to 64 MiB of freed heap is a fair trade for a long-running broker.
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        mallopt(M_TOP_PAD, 16 << 20);
        auto state = std::make_unique<PluginState>();
        state->id = identifier;
        state->broker_frees_replaced_fields = chat::broker::frees_replaced_message_fields(broker_patch_level());
        chat::log::configure(Level::info, mosquitto_sink());  // storage logs through it too
        auto config = chat::broker::parse_config(opts);
        chat::log::configure(config.log_level, mosquitto_sink());
        int metrics_port = config.metrics_port;
        state->broker = std::make_unique<ChatBroker>(std::move(config), chat::now_ms);
        if (metrics_port > 0) {
            const ChatBroker& broker = *state->broker;
            state->metrics_endpoint = std::make_unique<chat::metrics::Endpoint>(
                broker.metrics(), metrics_port, [&broker] { return broker.health(); });
        }
        for (const auto& r : callbacks) {
            if (mosquitto_callback_register(identifier, r.event, r.callback, nullptr, state.get()) != MOSQ_ERR_SUCCESS) {
                throw std::runtime_error("cannot register callback");
            }
        }
        *userdata = state.release();
        chat::log::log(Level::info, "plugin_ready");
        return MOSQ_ERR_SUCCESS;
    } catch (const std::exception& e) {
        chat::log::log(Level::error, "plugin_init_failed", {{"error", e.what()}});
        return MOSQ_ERR_UNKNOWN;
    }
}

int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt*, int) {
    std::unique_ptr<PluginState> state(static_cast<PluginState*>(userdata));
    if (!state) return MOSQ_ERR_SUCCESS;
    for (const auto& r : callbacks) mosquitto_callback_unregister(state->id, r.event, r.callback, nullptr);
    return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
