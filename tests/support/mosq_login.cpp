// mosquitto_login: a blocking libmosquitto connect that reports the broker's CONNACK code.
#include "mosq_login.h"

#include <mosquitto.h>

#include <chrono>
#include <memory>
#include <mutex>

namespace chat::testing {
namespace {

std::once_flag lib_ready;

struct MosqDeleter {
    void operator()(mosquitto* m) const { mosquitto_destroy(m); }
};

void on_connect(mosquitto*, void* result, int rc) { *static_cast<int*>(result) = rc; }

}  // namespace

int mosquitto_login(int port, const std::string& client_id, const std::string& user, const std::string& password) {
    std::call_once(lib_ready, [] { mosquitto_lib_init(); });
    int result = -1;
    std::unique_ptr<mosquitto, MosqDeleter> m(mosquitto_new(client_id.c_str(), true, &result));
    if (!m) return -1;
    mosquitto_connect_callback_set(m.get(), on_connect);
    mosquitto_username_pw_set(m.get(), user.c_str(), password.c_str());
    if (mosquitto_connect(m.get(), "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) return -1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (result < 0 && std::chrono::steady_clock::now() < deadline) {
        if (mosquitto_loop(m.get(), 100, 1) != MOSQ_ERR_SUCCESS) break;
    }
    mosquitto_disconnect(m.get());
    return result;
}

}  // namespace chat::testing
