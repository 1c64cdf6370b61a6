// The lean load client (see load_client.h). A message's latency is from just before its publish
// to its arrival; one publisher, one subscriber, QoS 1 and clean sessions deliver in publish
// order, so the n-th arrival is the n-th publish and the subscriber reads nothing from the payload.
#include "load_client.h"

#include <mosquitto.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <stdexcept>

namespace chat::bench {
namespace {

int64_t clock_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t now_ns() { return clock_ns(CLOCK_MONOTONIC); }

// What the callbacks of both clients update; only the loop's thread touches it.
struct LoadState {
    bool pub_connected = false, sub_connected = false, subscribed = false;
    int refused = 0;  // a CONNACK return code or SUBACK reason code that said no
    int64_t acked = 0, arrivals = 0;
    std::vector<int64_t> sent_ns, latencies;
};

struct MosqDeleter {
    void operator()(mosquitto* m) const { mosquitto_destroy(m); }
};
using Mosq = std::unique_ptr<mosquitto, MosqDeleter>;

Mosq make_client(const std::string& id, const std::string& user, const std::string& pass, int window,
                 LoadState& state) {
    Mosq m(mosquitto_new(id.c_str(), true, &state));
    if (!m) throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(m.get(), MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(m.get(), MOSQ_OPT_SEND_MAXIMUM, window);  // libmosquitto never holds one back
    if (!user.empty()) mosquitto_username_pw_set(m.get(), user.c_str(), pass.c_str());
    return m;
}

void connect(mosquitto* m, int port) {
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) throw std::runtime_error("cannot connect");
}

// Reads every whole packet waiting on the socket: libmosquitto's loop_read reads one packet per
// call when nothing of its own is queued, which would cost the subscriber a poll per message.
int read_all(mosquitto* m) {
    int rc, waiting = 0;
    do {
        rc = mosquitto_loop_read(m, 1);
    } while (rc == MOSQ_ERR_SUCCESS && ioctl(mosquitto_socket(m), FIONREAD, &waiting) == 0 && waiting > 0);
    return rc;
}

// One pass: waits up to `timeout_ns` for either socket, then lets libmosquitto read and write.
void pump(mosquitto* pub, mosquitto* sub, int64_t timeout_ns) {
    mosquitto* clients[] = {pub, sub};
    pollfd fds[2];
    for (int i = 0; i < 2; ++i) {
        fds[i].fd = mosquitto_socket(clients[i]);
        fds[i].events = static_cast<short>(POLLIN | (mosquitto_want_write(clients[i]) ? POLLOUT : 0));
        fds[i].revents = 0;
    }
    timespec timeout{timeout_ns / 1'000'000'000, timeout_ns % 1'000'000'000};
    if (ppoll(fds, 2, &timeout, nullptr) < 0) throw std::runtime_error("poll failed");
    for (int i = 0; i < 2; ++i) {
        int rc = MOSQ_ERR_SUCCESS;
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) rc = read_all(clients[i]);
        if (rc == MOSQ_ERR_SUCCESS && (fds[i].revents & POLLOUT)) rc = mosquitto_loop_write(clients[i], 1);
        if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error(std::string("connection lost: ") + mosquitto_strerror(rc));
    }
}

int64_t percentile(std::vector<int64_t>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

LoadResult run_load(const LoadSpec& spec, const std::function<void()>& ready) {
    LoadState state;
    state.sent_ns.resize(static_cast<size_t>(spec.count));
    state.latencies.reserve(static_cast<size_t>(spec.count));
    Mosq sub = make_client(spec.sub_id, spec.sub_user, spec.sub_pass, spec.window, state);
    Mosq pub = make_client(spec.pub_id, spec.pub_user, spec.pub_pass, spec.window, state);
    // Callbacks run inside libmosquitto's C code: they only record.
    mosquitto_connect_callback_set(sub.get(), [](mosquitto*, void* obj, int rc) {
        auto* s = static_cast<LoadState*>(obj);
        s->sub_connected = rc == 0;
        if (rc != 0) s->refused = rc;
    });
    mosquitto_connect_callback_set(pub.get(), [](mosquitto*, void* obj, int rc) {
        auto* s = static_cast<LoadState*>(obj);
        s->pub_connected = rc == 0;
        if (rc != 0) s->refused = rc;
    });
    mosquitto_subscribe_callback_set(sub.get(), [](mosquitto*, void* obj, int, int count, const int* granted) {
        auto* s = static_cast<LoadState*>(obj);
        s->subscribed = count == 1 && granted[0] <= 2;
        if (!s->subscribed) s->refused = count == 1 ? granted[0] : -1;
    });
    mosquitto_publish_callback_set(pub.get(), [](mosquitto*, void* obj, int) { ++static_cast<LoadState*>(obj)->acked; });
    mosquitto_message_callback_set(sub.get(), [](mosquitto*, void* obj, const mosquitto_message*) {
        auto* s = static_cast<LoadState*>(obj);
        int64_t now = now_ns();
        if (static_cast<size_t>(s->arrivals++) < s->sent_ns.size()) {
            s->latencies.push_back(now - s->sent_ns[s->latencies.size()]);
        }
    });
    connect(sub.get(), spec.port);
    connect(pub.get(), spec.port);
    auto give_up = now_ns() + 10'000'000'000;
    bool subscribe_sent = false;
    while (!(state.pub_connected && state.subscribed)) {
        if (state.sub_connected && !subscribe_sent) {
            mosquitto_subscribe(sub.get(), nullptr, spec.filter.c_str(), 1);
            subscribe_sent = true;
        }
        if (state.refused != 0) throw std::runtime_error("connect or subscribe refused: " + std::to_string(state.refused));
        if (now_ns() > give_up) throw std::runtime_error("no CONNACK or SUBACK within 10 s");
        pump(pub.get(), sub.get(), 10'000'000);
    }
    ready();

    const std::string payload = payload_of(spec);
    const auto count = static_cast<int64_t>(spec.count);
    int64_t sent = 0, last_progress = now_ns(), progress_mark = 0;
    const int64_t start = now_ns(), cpu_start = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    while (state.arrivals < count) {
        int64_t now = now_ns();
        int64_t wait = 50'000'000;  // nothing due: wait for the network
        while (sent < count && sent - state.acked < spec.window) {
            if (spec.rate > 0) {
                auto due = start + static_cast<int64_t>(1e9 * static_cast<double>(sent) / spec.rate);
                if (due > now) {
                    wait = due - now;
                    break;
                }
            }
            state.sent_ns[static_cast<size_t>(sent)] = now_ns();
            int rc = mosquitto_publish(pub.get(), nullptr, spec.topic.c_str(), static_cast<int>(payload.size()),
                                       payload.data(), 1, false);
            if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error(std::string("publish: ") + mosquitto_strerror(rc));
            ++sent;
        }
        pump(pub.get(), sub.get(), wait);
        if (state.arrivals != progress_mark) {
            progress_mark = state.arrivals;
            last_progress = now;
        } else if (now - last_progress > 30'000'000'000) {
            throw std::runtime_error("no arrival for 30 s: " + std::to_string(state.arrivals) + " of " +
                                     std::to_string(count));
        }
    }
    LoadResult r;
    r.start_ns = start;
    r.end_ns = now_ns();
    r.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    r.arrivals = state.arrivals;
    mosquitto_disconnect(pub.get());
    mosquitto_disconnect(sub.get());
    if (state.arrivals != count) throw std::runtime_error("more arrivals than publishes");
    r.p50_ns = percentile(state.latencies, 0.50);
    r.p99_ns = percentile(state.latencies, 0.99);
    return r;
}

std::vector<std::string> to_args(const LoadSpec& s) {
    auto word = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
    return {std::to_string(s.port), word(s.pub_id), word(s.pub_user), word(s.pub_pass), word(s.sub_id),
            word(s.sub_user), word(s.sub_pass), s.topic, s.filter, std::to_string(s.count), std::to_string(s.rate),
            std::to_string(s.window), std::to_string(s.payload), s.binary ? "binary" : "text"};
}

std::string payload_of(const LoadSpec& spec) {
    if (!spec.binary) return std::string(spec.payload, 'x');
    std::string bytes(spec.payload, '\0');
    uint32_t state = 2463534242u;  // xorshift32: the same bytes in every run
    for (auto& b : bytes) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        b = static_cast<char>(state & 0xff);
    }
    if (!bytes.empty()) bytes[0] = static_cast<char>(0x84);  // fixmap of 4, never a UTF-8 lead byte
    return bytes;
}

LoadSpec spec_from_args(const std::vector<std::string>& a) {
    if (a.size() != 14) throw std::invalid_argument("a load client takes 14 arguments");
    auto word = [](const std::string& v) { return v == "-" ? std::string() : v; };
    LoadSpec s;
    s.port = std::stoi(a[0]);
    s.pub_id = word(a[1]), s.pub_user = word(a[2]), s.pub_pass = word(a[3]);
    s.sub_id = word(a[4]), s.sub_user = word(a[5]), s.sub_pass = word(a[6]);
    s.topic = a[7], s.filter = a[8];
    s.count = std::stoi(a[9]);
    s.rate = std::stod(a[10]);
    s.window = std::stoi(a[11]);
    s.payload = std::stoul(a[12]);
    s.binary = a[13] == "binary";
    return s;
}

}  // namespace chat::bench
