// MosqDevice: libmosquitto in threaded mode, driven by our own mosquitto_loop thread.
#include "mosq_device.h"

#include <mosquitto.h>

#include <stdexcept>

namespace chat::testing {
namespace {

std::once_flag lib_ready;

}  // namespace

void MosqDevice::Destroy::operator()(mosquitto* m) const { mosquitto_destroy(m); }

MosqDevice::MosqDevice(std::string client_id, std::string user, std::string password, bool v5) {
    std::call_once(lib_ready, [] { mosquitto_lib_init(); });
    mosq_.reset(mosquitto_new(client_id.c_str(), true, this));
    if (!mosq_) throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(mosq_.get(), MOSQ_OPT_PROTOCOL_VERSION, v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    // Our thread runs the loop: libmosquitto then queues packets instead of writing them at once.
    mosquitto_threaded_set(mosq_.get(), true);
    mosquitto_username_pw_set(mosq_.get(), user.c_str(), password.c_str());
    mosquitto_connect_callback_set(mosq_.get(), on_connect);
    mosquitto_publish_callback_set(mosq_.get(), on_ack);
    mosquitto_subscribe_callback_set(mosq_.get(), on_subscribe);
    mosquitto_message_callback_set(mosq_.get(), on_message);
}

MosqDevice::~MosqDevice() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

bool MosqDevice::open(int port) {
    if (mosquitto_connect(mosq_.get(), "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) return false;
    alive_ = true;
    return true;
}

void MosqDevice::start() {
    thread_ = std::thread([this] { loop(); });
}

void MosqDevice::loop() noexcept {
    while (!stop_) {
        // Returns early when a packet is queued (libmosquitto wakes it through its socket pair).
        if (mosquitto_loop(mosq_.get(), 20, 1) != MOSQ_ERR_SUCCESS) break;
    }
    mark_lost();
}

void MosqDevice::mark_lost() noexcept {
    alive_ = false;
    std::lock_guard lock(mu_);
    changed_.notify_all();
}

void MosqDevice::close() {
    if (alive_) {
        mosquitto_disconnect(mosq_.get());
        std::unique_lock lock(mu_);
        changed_.wait_for(lock, std::chrono::seconds(2), [&] { return !alive_; });
    }
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void MosqDevice::on_connect(mosquitto*, void* self, int rc) {
    auto* d = static_cast<MosqDevice*>(self);
    try {
        std::lock_guard lock(d->mu_);
        d->connack_ = rc;
        d->changed_.notify_all();
    } catch (...) {
        // A mutex that cannot be locked: the waiter times out, which the caller reports.
    }
}

void MosqDevice::on_ack(mosquitto*, void* self, int id) {
    auto* d = static_cast<MosqDevice*>(self);
    try {
        std::lock_guard lock(d->mu_);
        d->acked_.insert(id);
        d->changed_.notify_all();
    } catch (...) {
        // Out of memory while recording: the waiter times out, which the caller reports.
    }
}

void MosqDevice::on_subscribe(mosquitto* m, void* self, int id, int count, const int* granted) {
    for (int i = 0; i < count; ++i) {
        if (granted[i] >= 0x80) return;  // refused: wait_ack reports false
    }
    on_ack(m, self, id);
}

void MosqDevice::on_message(mosquitto*, void* self, const mosquitto_message* message) {
    auto* d = static_cast<MosqDevice*>(self);
    try {
        DeviceMessage m{message->topic, std::string(static_cast<const char*>(message->payload),
                                                    static_cast<size_t>(message->payloadlen))};
        std::lock_guard lock(d->mu_);
        d->inbox_.push_back(std::move(m));
        d->changed_.notify_all();
    } catch (...) {
        // Out of memory: the message is missing, which the caller's count shows.
    }
}

int MosqDevice::wait_connack(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return connack_ >= 0 || !alive_; });
    return connack_;
}

int MosqDevice::subscribe(const std::vector<std::string>& filters) {
    std::vector<char*> list;
    for (const auto& f : filters) list.push_back(const_cast<char*>(f.c_str()));
    int id = 0;
    int rc = mosquitto_subscribe_multiple(mosq_.get(), &id, static_cast<int>(list.size()), list.data(), 1, 0, nullptr);
    return rc == MOSQ_ERR_SUCCESS ? id : -1;
}

int MosqDevice::publish(const std::string& topic, const std::string& payload, int qos) {
    int id = 0;
    int rc = mosquitto_publish(mosq_.get(), &id, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos,
                               false);
    return rc == MOSQ_ERR_SUCCESS ? id : -1;
}

bool MosqDevice::wait_ack(int id, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return acked_.contains(id) || !alive_; }) && acked_.contains(id);
}

std::optional<DeviceMessage> MosqDevice::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return !inbox_.empty() || !alive_; });
    if (inbox_.empty()) return std::nullopt;
    DeviceMessage m = std::move(inbox_.front());
    inbox_.pop_front();
    return m;
}

}  // namespace chat::testing
