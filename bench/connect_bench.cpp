// chat-bench-connect: CONNECT rate, p99 CONNECT->CONNACK latency and broker RSS per idle
// authenticated connection, mosquitto + chat plugin against bare mosquitto (same config, no
// plugin, the same CONNECT packets), measured in the same run. The broker runs on CPU 0, the
// clients on CPU 1, in forked worker processes (each under the per-process open-file limit,
// each from its own loopback source address), each driving many libmosquitto clients from one
// thread with the non-blocking API.
//
//   chat-bench-connect [--rate-conns N] [--runs R] [--window W] [--counts 2000,5000,...] [--per-worker N]
#include "result.h"

#include "broker-plugin/broker.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/db.h"
#include "support/broker_fixture.h"

#include <malloc.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <sqlite3.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono;
using chat::testing::BrokerFixture;
using chat::testing::BrokerOptions;

namespace {

constexpr int broker_cpu = 0;
constexpr int client_cpu = 1;
constexpr int keepalive_s = 3600;  // idle connections stay up without any PINGREQ during the run

int64_t now_ns() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

struct Options {
    int rate_conns = 10000;
    int window = 40;  // CONNECTs in flight per worker (mosquitto listens with a backlog of 100)
    std::vector<int> counts{2000, 5000, 10000, 19500};
    int per_worker = 5000;
    int runs = 3;  // connect-rate runs per broker
};

std::string user_of(int i) { return std::to_string(16'000'000 + i); }
std::string client_id_of(int i) { return user_of(i) + "/d1"; }

void pin(pid_t pid, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(pid, sizeof set, &set) != 0) std::perror("sched_setaffinity");
}

// What one worker reports once its connections are up (or failed).
struct WorkerReport {
    int64_t ok = 0;
    int64_t failed = 0;
    int64_t first_sent_ns = 0;
    int64_t last_connack_ns = 0;
};

bool write_all(int fd, const void* data, size_t len) {
    const char* p = static_cast<const char*>(data);
    while (len) {
        ssize_t n = ::write(fd, p, len);
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool read_all(int fd, void* data, size_t len) {
    char* p = static_cast<char*>(data);
    while (len) {
        ssize_t n = ::read(fd, p, len);
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// One libmosquitto client of a worker: its start time and whether the CONNACK came.
struct Conn {
    mosquitto* m = nullptr;
    int64_t sent_ns = 0;
    int64_t latency_ns = -1;
    bool finished = false;
};

void on_connect(mosquitto*, void* obj, int rc) {
    auto* c = static_cast<Conn*>(obj);
    c->finished = true;
    if (rc == 0) c->latency_ns = now_ns() - c->sent_ns;
}

// Connects clients [first, first + count) with at most `window` in flight, reports, then holds
// them idle until the parent closes `commands`. Runs in a forked child; never returns.
[[noreturn]] void worker(int port, int first, int count, int window, const std::string& bind_address,
                         const std::string& token, int results, int commands) {
    mosquitto_lib_init();
    std::vector<Conn> conns(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        Conn& c = conns[static_cast<size_t>(i)];
        c.m = mosquitto_new(client_id_of(first + i).c_str(), true, &c);
        if (!c.m) _exit(3);
        mosquitto_int_option(c.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
        mosquitto_username_pw_set(c.m, user_of(first + i).c_str(), token.c_str());
        mosquitto_connect_callback_set(c.m, on_connect);
    }
    char go = 0;
    if (!read_all(commands, &go, 1)) _exit(0);
    WorkerReport report;
    std::vector<size_t> in_flight;
    std::vector<pollfd> fds;
    size_t next = 0;
    report.first_sent_ns = now_ns();
    while (next < conns.size() || !in_flight.empty()) {
        while (in_flight.size() < static_cast<size_t>(window) && next < conns.size()) {
            Conn& c = conns[next];
            c.sent_ns = now_ns();
            if (mosquitto_connect_bind_async(c.m, "127.0.0.1", port, keepalive_s, bind_address.c_str()) ==
                MOSQ_ERR_SUCCESS) {
                in_flight.push_back(next);
            } else {
                ++report.failed;
            }
            ++next;
        }
        fds.clear();
        for (size_t i : in_flight) {
            mosquitto* m = conns[i].m;
            short events = POLLIN;
            if (mosquitto_want_write(m)) events |= POLLOUT;
            fds.push_back(pollfd{mosquitto_socket(m), events, 0});
        }
        if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
        std::vector<size_t> still;
        for (size_t k = 0; k < in_flight.size(); ++k) {
            Conn& c = conns[in_flight[k]];
            int rc = MOSQ_ERR_SUCCESS;
            if (fds[k].revents & POLLOUT) rc = mosquitto_loop_write(c.m, 1);
            if (rc == MOSQ_ERR_SUCCESS && (fds[k].revents & (POLLIN | POLLERR | POLLHUP))) {
                rc = mosquitto_loop_read(c.m, 1);
            }
            if (c.finished || rc != MOSQ_ERR_SUCCESS) {
                if (c.latency_ns >= 0) {
                    ++report.ok;
                    report.last_connack_ns = std::max(report.last_connack_ns, c.sent_ns + c.latency_ns);
                } else {
                    ++report.failed;
                }
            } else {
                still.push_back(in_flight[k]);
            }
        }
        in_flight.swap(still);
    }
    std::vector<int64_t> latencies;
    for (const auto& c : conns) {
        if (c.latency_ns >= 0) latencies.push_back(c.latency_ns);
    }
    write_all(results, &report, sizeof report);
    write_all(results, latencies.data(), latencies.size() * sizeof(int64_t));
    // Idle until told to go: the connections stay open, as a phone's would between messages.
    while (::read(commands, &go, 1) > 0) {
    }
    _exit(0);  // the sockets close with the process
}

// A forked worker process; stopped (its connections closed) on destruction.
class Worker {
public:
    Worker(int port, int first, int count, int window, const std::string& bind_address, const std::string& token) {
        int res[2], cmd[2];
        if (::pipe(res) != 0 || ::pipe(cmd) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            // Only its own two ends: an inherited end of another worker's command pipe would keep
            // that worker from ever seeing the parent close it.
            int keep_low = std::min(res[1], cmd[0]), keep_high = std::max(res[1], cmd[0]);
            ::close_range(3, static_cast<unsigned>(keep_low - 1), 0);
            ::close_range(static_cast<unsigned>(keep_low + 1), static_cast<unsigned>(keep_high - 1), 0);
            ::close_range(static_cast<unsigned>(keep_high + 1), ~0U, 0);
            worker(port, first, count, window, bind_address, token, res[1], cmd[0]);
        }
        ::close(res[1]);
        ::close(cmd[0]);
        results_ = res[0];
        commands_ = cmd[1];
    }
    ~Worker() {
        ::close(commands_);  // EOF: the worker exits
        ::close(results_);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void go() { write_all(commands_, "g", 1); }
    // Blocks until the worker's connections are up; appends its latencies.
    WorkerReport wait(std::vector<int64_t>& latencies) {
        WorkerReport r;
        if (!read_all(results_, &r, sizeof r)) throw std::runtime_error("a worker died");
        std::vector<int64_t> mine(static_cast<size_t>(r.ok));
        if (!read_all(results_, mine.data(), mine.size() * sizeof(int64_t))) throw std::runtime_error("a worker died");
        latencies.insert(latencies.end(), mine.begin(), mine.end());
        return r;
    }

private:
    pid_t pid_ = -1;
    int results_ = -1;
    int commands_ = -1;
};

// Opens `count` connections from [first, first+count), in workers of at most `per_worker`, each
// from its own loopback address; returns when all answered.
struct Wave {
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<int64_t> latencies;
    int64_t ok = 0, failed = 0;
    double seconds = 0;
};

void open_connections(Wave& wave, int port, int first, int count, const Options& o, const std::string& token,
                      int& next_address) {
    size_t from = wave.workers.size();
    for (int at = 0; at < count; at += o.per_worker) {
        int n = std::min(o.per_worker, count - at);
        int n_address = next_address++;
        if (n_address >= 255 * 254) throw std::runtime_error("out of loopback source addresses");
        std::string address = "127.0." + std::to_string(n_address / 254) + "." + std::to_string(1 + n_address % 254);
        wave.workers.push_back(std::make_unique<Worker>(port, first + at, n, o.window, address, token));
    }
    for (size_t i = from; i < wave.workers.size(); ++i) wave.workers[i]->go();
    int64_t start = INT64_MAX, end = 0;
    for (size_t i = from; i < wave.workers.size(); ++i) {
        auto r = wave.workers[i]->wait(wave.latencies);
        wave.ok += r.ok;
        wave.failed += r.failed;
        start = std::min(start, r.first_sent_ns);
        end = std::max(end, r.last_connack_ns);
    }
    wave.seconds = static_cast<double>(end - start) / 1e9;
}

double percentile_ms(std::vector<int64_t> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))]) / 1e6;
}

// "VmRSS" or "RssAnon" of a process, in bytes.
int64_t status_bytes(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
    }
    return 0;
}

struct Memory {
    int count = 0;
    int64_t rss = 0, anon = 0;  // bytes above the idle broker's
};

// The broker's resident memory by mapping, largest first (where the memory per connection is).
std::string rss_by_mapping(pid_t pid) {
    std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
    std::vector<std::pair<int64_t, std::string>> rows;
    std::string name;
    for (std::string line; std::getline(smaps, line);) {
        if (line.find('-') < line.find(' ') && line.find(':') > line.find(' ')) {
            auto slash = line.find('/');
            auto bracket = line.find('[');
            auto at = std::min(slash, bracket);
            name = at == std::string::npos ? "[anonymous]" : line.substr(at);
        } else if (line.rfind("Rss:", 0) == 0) {
            int64_t kb = std::stoll(line.substr(4));
            auto it = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return r.second == name; });
            if (it == rows.end()) rows.emplace_back(kb, name);
            else it->first += kb;
        }
    }
    std::sort(rows.rbegin(), rows.rend());
    std::string out;
    for (size_t i = 0; i < rows.size() && i < 6; ++i) {
        out += "    " + std::to_string(rows[i].first) + " kB  " + rows[i].second + "\n";
    }
    return out;
}

struct Figures {
    double connects_per_s = 0;
    double p50_ms = 0, p99_ms = 0;
    int64_t failed = 0;
    std::vector<Memory> memory;
    std::string mappings;  // at the largest count
};

// Registers devices 0..count-1 of user_of(i)/d1, all with the same token, in one transaction.
void register_devices(const std::string& db_path, int count, const std::string& token_hash) {
    chat::storage::Database db(db_path);
    chat::storage::Accounts accounts(db);
    chat::storage::Transaction tx(db);
    for (int i = 0; i < count; ++i) {
        accounts.create_user(user_of(i), 1);
        accounts.add_device(user_of(i), "d1", token_hash, 1);
    }
    tx.commit();
}

// The plugin's own heap per connection, without a broker: ChatBroker logins in this process,
// the heap in use (mallinfo2) and SQLite's share of it (sqlite3_memory_used) before and after.
struct HeapProfile {
    double heap_per_conn = 0, sqlite_per_conn = 0;
    double peak_per_conn = 0;  // heap taken from the system: what stays in RSS after a burst
};

int64_t heap_from_system() {
    auto m = mallinfo2();
    return static_cast<int64_t>(m.arena + m.hblkhd);
}

HeapProfile plugin_heap(int count, const std::string& token, const std::string& token_hash) {
    chat::testing::TempDir dir;
    std::string db_path = (dir.path() / "chat.db").string();
    chat::broker::Config config;
    config.db_path = db_path;
    config.bridge_user = "bridge";
    config.bridge_password = "unused";
    config.connect_limit = {1e6, 1e6};
    config.address_connect_limit = {1e6, 1e6};
    register_devices(db_path, count, token_hash);
    int64_t clock = 1'000'000;
    chat::broker::ChatBroker broker(config, [&] { return clock; });
    std::vector<char> keys(static_cast<size_t>(count));
    broker.wait_imported();
    auto heap0 = static_cast<int64_t>(mallinfo2().uordblks);
    int64_t system0 = heap_from_system();
    int64_t sqlite0 = sqlite3_memory_used();
    for (int i = 0; i < count; ++i) {
        if (broker.authenticate(&keys[static_cast<size_t>(i)], client_id_of(i), user_of(i), token, "127.0.0.2") !=
            chat::broker::AuthResult::accepted) {
            throw std::runtime_error("login refused in the heap profile");
        }
        if (i % 1000 == 999) broker.tick();
    }
    clock += 2000;
    broker.tick();
    broker.wait_imported();
    HeapProfile p;
    p.heap_per_conn = static_cast<double>(static_cast<int64_t>(mallinfo2().uordblks) - heap0) / count;
    p.sqlite_per_conn = static_cast<double>(sqlite3_memory_used() - sqlite0) / count;
    p.peak_per_conn = static_cast<double>(heap_from_system() - system0) / count;
    return p;
}

// Waits for the broker to settle (journal import, the tick's clean-up) before reading its memory.
void settle() { std::this_thread::sleep_for(milliseconds(1500)); }

// A broker under test; the chat one with every device the run needs registered straight into
// its database, in one transaction, while it is down.
std::unique_ptr<BrokerFixture> make_broker(bool with_plugin, int devices, const std::string& token_hash) {
    BrokerOptions options;
    options.with_plugin = with_plugin;
    options.log_packets = false;
    auto broker = std::make_unique<BrokerFixture>(options);
    if (with_plugin) {
        broker->stop();
        register_devices(broker->db_path().string(), devices, token_hash);
        broker->start();
    }
    return broker;
}

struct RateRun {
    double connects_per_s = 0, p50_ms = 0, p99_ms = 0;
    int64_t failed = 0;
};

// One wave of connections on a freshly started broker; they close when it returns.
RateRun rate_once(BrokerFixture& broker, const Options& o, const std::string& token, int& address) {
    broker.stop();
    broker.start();
    pin(broker.pid(), broker_cpu);
    Wave wave;
    open_connections(wave, broker.port(), 0, o.rate_conns, o, token, address);
    return RateRun{static_cast<double>(wave.ok) / wave.seconds, percentile_ms(wave.latencies, 0.50),
                   percentile_ms(wave.latencies, 0.99), wave.failed};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Memory on a freshly started broker: connections added in steps, the idle broker's figure
// subtracted.
void memory_series(BrokerFixture& broker, const Options& o, const std::string& token, Figures& f, int& address) {
    broker.stop();
    broker.start();
    pin(broker.pid(), broker_cpu);
    settle();
    int64_t rss0 = status_bytes(broker.pid(), "VmRSS"), anon0 = status_bytes(broker.pid(), "RssAnon");
    Wave held;
    int open = 0;
    for (int count : o.counts) {
        open_connections(held, broker.port(), open, count - open, o, token, address);
        open = count;
        settle();
        f.memory.push_back(Memory{count, status_bytes(broker.pid(), "VmRSS") - rss0,
                                  status_bytes(broker.pid(), "RssAnon") - anon0});
    }
    f.failed += held.failed;
    f.mappings = rss_by_mapping(broker.pid());
}

// Rate runs alternate which broker goes first (other load on a shared machine moves single
// runs a lot); the medians are reported. Then each broker's memory series.
void measure(const Options& o, const std::string& token, const std::string& token_hash, Figures& bare, Figures& chat) {
    int devices = std::max(o.rate_conns, o.counts.empty() ? 0 : o.counts.back());
    auto bare_broker = make_broker(false, devices, token_hash);
    auto chat_broker = make_broker(true, devices, token_hash);
    std::vector<double> rate[2], p50[2], p99[2];
    // A fresh source address for every worker of the run: the ports of closed connections wait
    // out TIME_WAIT, and binding port 0 on a crowded address costs the kernel a long search.
    int address = 2;
    for (int run = 0; run < o.runs; ++run) {
        for (int k = 0; k < 2; ++k) {
            int which = (run + k) % 2;  // 0 bare, 1 chat
            auto r = rate_once(which ? *chat_broker : *bare_broker, o, token, address);
            std::printf("  run %d %-5s %8.0f CONNACK/s  p50 %6.2f ms  p99 %6.2f ms\n", run + 1, which ? "chat" : "bare",
                        r.connects_per_s, r.p50_ms, r.p99_ms);
            rate[which].push_back(r.connects_per_s);
            p50[which].push_back(r.p50_ms);
            p99[which].push_back(r.p99_ms);
            (which ? chat : bare).failed += r.failed;
        }
    }
    for (int which = 0; which < 2; ++which) {
        Figures& f = which ? chat : bare;
        f.connects_per_s = median(rate[which]);
        f.p50_ms = median(p50[which]);
        f.p99_ms = median(p99[which]);
    }
    memory_series(*bare_broker, o, token, bare, address);
    memory_series(*chat_broker, o, token, chat, address);
}

std::vector<int> parse_counts(const std::string& s) {
    std::vector<int> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
    std::sort(out.begin(), out.end());
    return out;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--rate-conns") o.rate_conns = std::stoi(value);
        else if (flag == "--window") o.window = std::stoi(value);
        else if (flag == "--counts") o.counts = parse_counts(value);
        else if (flag == "--per-worker") o.per_worker = std::stoi(value);
        else if (flag == "--runs") o.runs = std::stoi(value);
        else throw std::invalid_argument("unknown flag " + flag);
    }
    if ((argc - 1) % 2) throw std::invalid_argument("every flag takes a value");
    if (o.rate_conns <= 0 || o.window <= 0 || o.runs <= 0 || o.per_worker <= 0 || o.per_worker > 19000) {
        throw std::invalid_argument("counts must be positive, --per-worker at most 19000 (open-file limit)");
    }
    return o;
}

// The broker child inherits this: as many descriptors as the hard limit allows.
rlim_t raise_open_files() {
    rlimit l{};
    getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
    return l.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options o = parse(argc, argv);
        std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures show as they come, also through a pipe
        ::signal(SIGPIPE, SIG_IGN);
        rlim_t files = raise_open_files();
        if (!o.counts.empty() && static_cast<rlim_t>(o.counts.back()) + 64 > files) {
            std::fprintf(stderr, "warning: the broker may open %llu files; %d connections need more\n",
                         static_cast<unsigned long long>(files), o.counts.back());
        }
        pin(0, client_cpu);  // this process and its workers; each broker is moved to its own core
        std::string token = chat::new_device_token();
        std::string token_hash = chat::hash_token(token);
        std::printf("chat-bench-connect: broker on CPU %d, clients on CPU %d; open files per process %llu; "
                    "mosquitto max_connections unlimited (default)\n",
                    broker_cpu, client_cpu, static_cast<unsigned long long>(files));
        std::printf("connect: %d connections, %d in flight per worker of <= %d\n", o.rate_conns, o.window, o.per_worker);
        Figures bare, chat;
        measure(o, token, token_hash, bare, chat);

        std::printf("\n%-34s %12s %12s %8s  target\n", "(connect: medians of the runs)", "bare", "chat", "ratio");
        std::printf("%-34s %12.0f %12.0f %8.2f  >= 0.70\n", "CONNACK/s", bare.connects_per_s, chat.connects_per_s,
                    chat.connects_per_s / bare.connects_per_s);
        std::printf("%-34s %12.2f %12.2f %8.2f\n", "p50 CONNECT->CONNACK (ms)", bare.p50_ms, chat.p50_ms,
                    chat.p50_ms / bare.p50_ms);
        std::printf("%-34s %12.2f %12.2f %8.2f  <= 2.00\n", "p99 CONNECT->CONNACK (ms)", bare.p99_ms, chat.p99_ms,
                    chat.p99_ms / bare.p99_ms);
        chat::bench::print_result("connect.rate", chat.connects_per_s, "CONNACK/s", bare.connects_per_s, ">=0.7");
        chat::bench::print_result("connect.p99", chat.p99_ms, "ms", bare.p99_ms, "<=2");
        for (size_t i = 0; i < bare.memory.size() && i < chat.memory.size(); ++i) {
            double n = bare.memory[i].count;
            char label[64];
            std::snprintf(label, sizeof label, "RSS/conn at %d (B)", bare.memory[i].count);
            double b = static_cast<double>(bare.memory[i].rss) / n, c = static_cast<double>(chat.memory[i].rss) / n;
            std::printf("%-34s %12.0f %12.0f %8.2f  <= 1.30\n", label, b, c, c / b);
            std::snprintf(label, sizeof label, "  anonymous RSS/conn at %d (B)", bare.memory[i].count);
            b = static_cast<double>(bare.memory[i].anon) / n;
            c = static_cast<double>(chat.memory[i].anon) / n;
            std::printf("%-34s %12.0f %12.0f %8.2f\n", label, b, c, c / b);
        }
        // What each added connection cost between two counts: no idle baseline in it (the chat
        // broker's idle RSS includes start-up work such as the scan that clears online flags).
        for (size_t i = 1; i < bare.memory.size() && i < chat.memory.size(); ++i) {
            const auto &b0 = bare.memory[i - 1], &b1 = bare.memory[i];
            const auto &c0 = chat.memory[i - 1], &c1 = chat.memory[i];
            double span = b1.count - b0.count;
            char label[64];
            std::snprintf(label, sizeof label, "RSS per added conn %d..%d (B)", b0.count, b1.count);
            double b = static_cast<double>(b1.rss - b0.rss) / span, c = static_cast<double>(c1.rss - c0.rss) / span;
            std::printf("%-34s %12.0f %12.0f %8.2f  <= 1.30\n", label, b, c, c / b);
            chat::bench::print_result("connect.rss_per_added_conn_" + std::to_string(b0.count) + "_" + std::to_string(b1.count),
                                c, "B", b, "<=1.3");
        }
        std::printf("broker RSS by mapping at %d connections, bare:\n%schat:\n%s",
                    o.counts.empty() ? 0 : o.counts.back(), bare.mappings.c_str(), chat.mappings.c_str());
        for (int n : {2000, 20000}) {
            auto heap = plugin_heap(n, token, token_hash);
            std::printf("plugin heap per connection, %5d logins, no broker: %.0f B in use (SQLite's share %.0f B), "
                        "%.0f B taken from the system\n",
                        n, heap.heap_per_conn, heap.sqlite_per_conn, heap.peak_per_conn);
        }
        if (bare.failed || chat.failed) {
            std::printf("failed connections: bare %lld, chat %lld\n", static_cast<long long>(bare.failed),
                        static_cast<long long>(chat.failed));
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat-bench-connect: %s\n", e.what());
        return 1;
    }
}
