// A phone's MQTT connection over libmosquitto, with its own network thread and a message queue,
// for benchmarks and tests that control each packet's moment (pipelining, links that get cut).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace chat::testing {

struct DeviceMessage {
    std::string topic;
    std::string payload;
};

// One connection; it is not reopened after it is lost (make a new MosqDevice for that).
// The member functions may be called from any one thread while the network thread runs;
// libmosquitto's callbacks only record into the fields guarded by mu_.
class MosqDevice {
public:
    MosqDevice(std::string client_id, std::string user, std::string password, bool v5 = true);
    ~MosqDevice();
    MosqDevice(const MosqDevice&) = delete;
    MosqDevice& operator=(const MosqDevice&) = delete;

    // Opens TCP to 127.0.0.1:port and queues CONNECT; the network thread starts sending only at
    // start(), so packets queued in between leave in one flight with it. False if TCP failed.
    bool open(int port);
    void start();
    // open() + start().
    bool connect(int port) { return open(port) && (start(), true); }

    // The CONNACK reason code, or -1 if none arrived within `timeout` or the link dropped.
    int wait_connack(std::chrono::milliseconds timeout);
    // One SUBSCRIBE packet for all filters at QoS 1; returns its packet id, or -1.
    int subscribe(const std::vector<std::string>& filters);
    // Publishes; returns the packet id, or -1.
    int publish(const std::string& topic, const std::string& payload, int qos = 1);
    // True once the SUBACK / PUBACK of packet `id` arrived, false on timeout or a dropped link.
    bool wait_ack(int id, std::chrono::milliseconds timeout);
    // The next message received, or nothing after `timeout` or once the link dropped and the
    // queue is empty.
    std::optional<DeviceMessage> next(std::chrono::milliseconds timeout);
    bool alive() const { return alive_; }
    // Sends DISCONNECT (if still connected) and stops the network thread.
    void close();

private:
    static void on_connect(mosquitto*, void* self, int rc);
    static void on_ack(mosquitto*, void* self, int id);
    static void on_subscribe(mosquitto*, void* self, int id, int count, const int* granted);
    static void on_message(mosquitto*, void* self, const mosquitto_message* message);
    void loop() noexcept;
    void mark_lost() noexcept;

    struct Destroy {
        void operator()(mosquitto* m) const;
    };
    std::unique_ptr<mosquitto, Destroy> mosq_;
    std::atomic<bool> alive_{false};
    std::atomic<bool> stop_{false};

    std::mutex mu_;
    std::condition_variable changed_;
    int connack_ = -1;                 // guarded by mu_
    std::set<int> acked_;              // guarded by mu_
    std::deque<DeviceMessage> inbox_;  // guarded by mu_

    std::thread thread_;
};

}  // namespace chat::testing
