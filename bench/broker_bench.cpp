// chat-bench-broker: 64-byte QoS 1 direct messages through mosquitto + chat plugin against bare
// mosquitto with the same config, in the same run: saturation rate, whole-process broker CPU per
// message, and latency at half of bare's saturation rate. The broker is pinned to one core and
// the lean load clients (load_client.h, each its own process) to the other.
#include "callback_cost.h"
#include "load_client.h"
#include "backend.h"
#include "result.h"
#include "support/broker_fixture.h"
#include "support/process.h"

#include <mosquitto.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using chat::bench::LoadResult;
using chat::bench::LoadSpec;
using chat::testing::BrokerFixture;
using chat::testing::BrokerOptions;

namespace {

// The broker gets the last core, the clients the others (on this 2-core machine: 1 and 0).
int broker_core() { return static_cast<int>(std::thread::hardware_concurrency()) - 1; }

void pin_task(pid_t tid, int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    if (sched_setaffinity(tid, sizeof set, &set) != 0) throw std::runtime_error("sched_setaffinity failed");
}

// Every thread of `pid` (threads started later inherit from the one that starts them).
void pin_process(pid_t pid, int core) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        pin_task(static_cast<pid_t>(std::stol(task.path().filename().string())), core);
    }
}

void pin_clients_here() {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < broker_core(); ++c) CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) throw std::runtime_error("sched_setaffinity failed");
}

// CPU seconds used so far by each thread of `pid`, by role: the main thread (mosquitto's loop,
// which runs the plugin's callbacks), the plugin's importer, and the rest (the WAL checkpointer).
std::map<std::string, double> thread_cpu(pid_t pid) {
    std::map<std::string, double> seconds;
    const auto ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::string name = chat::testing::read_file(task.path() / "comm");
        name = name.substr(0, name.find('\n'));
        if (task.path().filename() == std::to_string(pid)) {
            name = "broker thread";
        } else if (name == "mosquitto") {
            name = "other threads";
        }
        std::string stat = chat::testing::read_file(task.path() / "stat");
        // After the parenthesised name: utime and stime are the 12th and 13th fields.
        std::istringstream rest(stat.substr(stat.rfind(')') + 2));
        std::string field;
        for (int i = 1; i <= 13 && rest >> field; ++i) {
            if (i >= 12) seconds[name] += std::stod(field) / ticks_per_s;
        }
    }
    return seconds;
}

// A file descriptor, closed on destruction.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) close(fd_);
    }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            if (fd_ >= 0) close(fd_);
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

// Both ends of a new pipe (close-on-exec: only what posix_spawn dup2s reaches the child).
std::pair<Fd, Fd> make_pipe() {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    return {Fd(ends[0]), Fd(ends[1])};
}

// One load client process (this binary with --load-client), talking over its stdin and stdout:
// it says "ready" once connected and subscribed, starts on "go", ends with a "result" line.
class ClientProcess {
public:
    explicit ClientProcess(const LoadSpec& spec) {
        auto [child_stdin, to_child] = make_pipe();
        auto [from_child, child_stdout] = make_pipe();
        std::vector<std::string> words = {"/proc/self/exe", "--load-client"};
        for (auto& w : chat::bench::to_args(spec)) words.push_back(w);
        std::vector<char*> argv;
        for (auto& w : words) argv.push_back(w.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, child_stdin.get(), 0);
        posix_spawn_file_actions_adddup2(&actions, child_stdout.get(), 1);
        int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::runtime_error("cannot start a load client");
        to_child_ = std::move(to_child);
        from_child_.reset(fdopen(from_child.get(), "r"));
        if (!from_child_) throw std::runtime_error("fdopen failed");
        from_child.release();  // the FILE owns it now
    }
    ~ClientProcess() {
        if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    ClientProcess(const ClientProcess&) = delete;
    ClientProcess& operator=(const ClientProcess&) = delete;

    std::string line() {
        char buf[256];
        if (!fgets(buf, sizeof buf, from_child_.get())) throw std::runtime_error("a load client ended early (see stderr)");
        return buf;
    }
    void go() {
        if (write(to_child_.get(), "go\n", 3) != 3) throw std::runtime_error("cannot start a load client");
    }

private:
    struct Fclose {
        void operator()(FILE* f) const { fclose(f); }
    };
    pid_t pid_ = -1;
    Fd to_child_;
    std::unique_ptr<FILE, Fclose> from_child_;
};

int load_client_main(const std::vector<std::string>& args) {
    pin_clients_here();
    auto spec = chat::bench::spec_from_args(args);
    auto r = chat::bench::run_load(spec, [] {
        std::printf("ready\n");
        std::fflush(stdout);
        char buf[16];
        if (!fgets(buf, sizeof buf, stdin)) throw std::runtime_error("no go from the bench");
    });
    std::printf("result %lld %lld %lld %lld %lld %lld\n", static_cast<long long>(r.start_ns),
                static_cast<long long>(r.end_ns), static_cast<long long>(r.arrivals), static_cast<long long>(r.p50_ns),
                static_cast<long long>(r.p99_ns), static_cast<long long>(r.cpu_ns));
    return 0;
}

struct Pair {
    std::string pub_id, pub_user, pub_pass, sub_id, sub_user, sub_pass, topic, filter;
};

struct Target {
    std::string name;
    const BrokerFixture* broker;
    std::vector<Pair> pairs;  // one per client process
    size_t payload = 64;      // bytes per message
    bool binary = false;      // not UTF-8 (an encrypted body) instead of text
};

struct Result {
    double msgs_per_s = 0;
    double p50_ms = 0, p99_ms = 0;  // of the first client process
    double broker_cpu_us = 0;       // whole broker process, all threads, per message
    double broker_busy = 0;         // the broker's CPU time over the run's wall time (1 = its core)
    double client_cpu_us = 0;       // all load client processes, per message
    std::map<std::string, double> thread_us;  // broker CPU per message by thread role
};

// `processes` load clients, each publishing `count` messages at `rate` / processes per second.
Result run(const Target& t, int processes, int count, double rate) {
    std::vector<std::unique_ptr<ClientProcess>> clients;
    for (int i = 0; i < processes; ++i) {
        const Pair& p = t.pairs.at(static_cast<size_t>(i));
        LoadSpec spec{t.broker->port(), p.pub_id, p.pub_user, p.pub_pass, p.sub_id, p.sub_user, p.sub_pass,
                      p.topic, p.filter, count, rate / processes};
        spec.payload = t.payload;
        spec.binary = t.binary;
        clients.push_back(std::make_unique<ClientProcess>(spec));
    }
    for (auto& c : clients) {
        if (c->line() != "ready\n") throw std::runtime_error("a load client did not get ready");
    }
    double cpu_before = t.broker->cpu_seconds();
    auto threads_before = thread_cpu(t.broker->pid());
    for (auto& c : clients) c->go();
    std::vector<LoadResult> results;
    for (auto& c : clients) {
        std::istringstream in(c->line());
        std::string word;
        LoadResult r;
        if (!(in >> word >> r.start_ns >> r.end_ns >> r.arrivals >> r.p50_ns >> r.p99_ns >> r.cpu_ns) ||
            word != "result") {
            throw std::runtime_error("a load client failed");
        }
        results.push_back(r);
    }
    // What the broker still does for these messages (the plugin's import into SQLite lags by up
    // to its interval) is counted; bare gets the same pause.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    double cpu = t.broker->cpu_seconds() - cpu_before;
    auto threads_after = thread_cpu(t.broker->pid());
    int64_t start = results[0].start_ns, end = results[0].end_ns, total = 0, client_cpu_ns = 0;
    for (const auto& r : results) {
        start = std::min(start, r.start_ns), end = std::max(end, r.end_ns), total += r.arrivals;
        client_cpu_ns += r.cpu_ns;
    }
    Result out;
    out.msgs_per_s = static_cast<double>(total) * 1e9 / static_cast<double>(end - start);
    out.broker_cpu_us = cpu * 1e6 / static_cast<double>(total);
    out.broker_busy = cpu * 1e9 / static_cast<double>(end - start + 100'000'000);
    out.client_cpu_us = static_cast<double>(client_cpu_ns) / 1e3 / static_cast<double>(total);
    for (const auto& [name, after] : threads_after) {
        out.thread_us[name] = (after - threads_before[name]) * 1e6 / static_cast<double>(total);
    }
    out.p50_ms = static_cast<double>(results[0].p50_ns) / 1e6;
    out.p99_ms = static_cast<double>(results[0].p99_ns) / 1e6;
    return out;
}

void print(const std::string& phase, const std::string& name, const Result& r) {
    std::printf("%-26s %-15s %7.0f msg/s  p50 %7.3f ms  p99 %7.3f ms  broker CPU %5.1f us/msg, busy %3.0f%%  "
                "clients %5.1f us/msg\n",
                phase.c_str(), name.c_str(), r.msgs_per_s, r.p50_ms, r.p99_ms, r.broker_cpu_us, 100 * r.broker_busy,
                r.client_cpu_us);
    if (r.thread_us.size() > 1) {
        std::printf("%-26s %-15s by thread:", "", "");
        for (const auto& [thread, us] : r.thread_us) std::printf("  %s %.1f us/msg", thread.c_str(), us);
        std::printf("\n");
    }
    std::fflush(stdout);
}

Result median_of(const std::vector<Result>& runs) {
    auto median = [&](double Result::*figure) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r.*figure);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    Result m;
    m.msgs_per_s = median(&Result::msgs_per_s);
    m.p50_ms = median(&Result::p50_ms);
    m.p99_ms = median(&Result::p99_ms);
    m.broker_cpu_us = median(&Result::broker_cpu_us);
    m.broker_busy = median(&Result::broker_busy);
    m.client_cpu_us = median(&Result::client_cpu_us);
    for (const auto& [thread, us] : runs[0].thread_us) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r.thread_us.count(thread) ? r.thread_us.at(thread) : 0.0);
        std::sort(v.begin(), v.end());
        m.thread_us[thread] = v[v.size() / 2];
    }
    return m;
}

// Runs each target `rounds` times, which goes first alternating; prints every run and the medians.
std::vector<Result> compare(const std::string& phase, const std::vector<const Target*>& targets, int processes,
                            int count, double rate, int rounds) {
    std::vector<std::vector<Result>> runs(targets.size());
    for (int round = 0; round < rounds; ++round) {
        for (size_t k = 0; k < targets.size(); ++k) {
            size_t i = round % 2 == 0 ? k : targets.size() - 1 - k;
            runs[i].push_back(run(*targets[i], processes, count, rate));
            print(phase, targets[i]->name, runs[i].back());
        }
    }
    std::vector<Result> medians;
    for (size_t i = 0; i < targets.size(); ++i) {
        medians.push_back(median_of(runs[i]));
        print(phase + " median", targets[i]->name, medians.back());
    }
    return medians;
}

void plugin_only(int count) {
    for (int users : {2, 1000}) {
        auto cost = chat::bench::measure_callback_cost(count, users);
        std::printf("plugin CPU per direct message, in-process (no broker), %d users: callback %.1f us on the broker "
                    "thread, %.1f us in the background (journal import, checkpoints); %.1f us wall per message "
                    "until all are imported\n",
                    users, cost.callback_us, cost.background_us, cost.imported_wall_us);
        auto name = "broker.plugin_only_" + std::to_string(users) + "_users";
        chat::bench::print_result(name + "_callback", cost.callback_us, "us/msg");
        chat::bench::print_result(name + "_background", cost.background_us, "us/msg");
        chat::bench::print_result(name + "_imported_wall", cost.imported_wall_us, "us/msg");
    }
}

int flag(const std::vector<std::string>& args, const std::string& name, int def) {
    auto it = std::find(args.begin(), args.end(), name);
    return it != args.end() && it + 1 != args.end() ? std::stoi(*(it + 1)) : def;
}

// Issue 12: ciphertext bodies (not UTF-8) against text bodies of the same size through the same
// chat broker, alternating; to a JSON device (which gets body64) and to a compact device (binary).
int binary_vs_text(int count, int rounds) {
    const std::string shared_config = "max_inflight_messages 100\n";
    BrokerFixture chat(BrokerOptions{true, {{"max_pending", "1000000000000"}}, shared_config, false});
    pin_process(chat.pid(), broker_core());
    pin_clients_here();
    auto target = [&](const std::string& name, int index, bool binary, bool compact) {
        std::string from = std::to_string(15560001 + 2 * index), to = std::to_string(15560002 + 2 * index);
        Target t{name, &chat, {{from + "/d1", from, chat.add_device(from, "d1"), to + "/d1", to,
                                chat.add_device(to, "d1"), "m/" + to, "u/" + to + "/i"}}, 200, binary};
        if (compact && chat.chatctl({"device", "encoding", to, "d1", "compact"}) != 0) {
            throw std::runtime_error("chatctl device encoding failed");
        }
        return t;
    };
    Target text_json = target("text, JSON", 0, false, false), binary_json = target("binary, JSON", 1, true, false);
    Target text_compact = target("text, compact", 2, false, true), binary_compact = target("binary, compact", 3, true, true);
    std::printf("direct messages through mosquitto+chat, QoS 1, 200-byte bodies, window 64; %d messages per run, "
                "median of %d runs; broker pinned to core %d\n", count, rounds, broker_core());
    run(text_json, 1, count / 10, 0);  // warm-up
    auto json = compare("saturate, to a JSON device", {&text_json, &binary_json}, 1, count, 0, rounds);
    auto compact = compare("saturate, to a compact device", {&text_compact, &binary_compact}, 1, count, 0, rounds);
    std::printf("binary/text throughput: to a JSON device %.3f, to a compact device %.3f (target >= 0.95)\n",
                json[1].msgs_per_s / json[0].msgs_per_s, compact[1].msgs_per_s / compact[0].msgs_per_s);
    using chat::bench::print_result;
    print_result("broker.binary_200_json", json[1].msgs_per_s, "msg/s", json[0].msgs_per_s, ">=0.95");
    print_result("broker.binary_200_compact", compact[1].msgs_per_s, "msg/s", compact[0].msgs_per_s, ">=0.95");
    return 0;
}

int run_bench(const std::vector<std::string>& args) {
    if (!args.empty() && args[0] == "--load-client") return load_client_main({args.begin() + 1, args.end()});
    // The plugin's database: the fixtures read CHAT_TEST_DB (postgres: a throwaway cluster of this
    // process, initdb'd at the first fixture; fsync off, as for the tests).
    std::printf("database: %s\n", chat::bench::select_backend(args) == "postgres" ? "PostgreSQL 15 (fsync off)" : "SQLite");
    if (!args.empty() && args[0] == "--binary-vs-text") {
        return binary_vs_text(args.size() > 1 && args[1][0] != '-' ? std::stoi(args[1]) : 30000, flag(args, "--rounds", 3));
    }
    if (!args.empty() && args[0] == "--plugin-only") {
        plugin_only(args.size() > 1 && args[1][0] != '-' ? std::stoi(args[1]) : 50000);
        return 0;
    }
    const int count = !args.empty() && args[0][0] != '-' ? std::stoi(args[0]) : 100000;
    const int rounds = flag(args, "--rounds", 3);
    if (std::thread::hardware_concurrency() < 2) throw std::runtime_error("the bench needs two cores to pin apart");

    // Both log what the repo's mosquitto.conf logs; a client may have 100 QoS 1 messages in flight.
    const std::string shared_config = "max_inflight_messages 100\n";
    BrokerFixture bare(BrokerOptions{false, {}, shared_config, false});
    // The bench's recipients never ack: no cap on their undelivered entries.
    BrokerFixture chat(BrokerOptions{true, {{"max_pending", "1000000000000"}}, shared_config, false});
    pin_process(bare.pid(), broker_core());
    pin_process(chat.pid(), broker_core());
    pin_clients_here();

    Target bare_t{"bare mosquitto", &bare, {}}, chat_t{"mosquitto+chat", &chat, {}};
    for (int i = 0; i < 2; ++i) {
        std::string from = std::to_string(15550001 + 2 * i), to = std::to_string(15550002 + 2 * i);
        std::string n = std::to_string(i);
        bare_t.pairs.push_back({"pub" + n, "", "", "sub" + n, "", "", "m/" + to, "m/" + to});
        chat_t.pairs.push_back({from + "/d1", from, chat.add_device(from, "d1"), to + "/d1", to,
                                chat.add_device(to, "d1"), "m/" + to, "u/" + to + "/i"});
    }
    std::printf("direct messages, QoS 1, 64-byte payload, window 64; broker pinned to core %d, load clients to the "
                "others; %d messages per client process and run, median of %d runs\n",
                broker_core(), count, rounds);
    run(bare_t, 1, count / 10, 0);  // warm-up
    run(chat_t, 1, count / 10, 0);

    auto one = compare("saturate, 1 client", {&bare_t, &chat_t}, 1, count, 0, rounds);
    // The client is not what saturates if a second client process does not raise the rate.
    auto two = compare("saturate, 2 clients", {&bare_t}, 2, count, 0, rounds);
    double half = one[0].msgs_per_s / 2;
    std::printf("paced at %.0f msg/s (half of bare's saturation), one client, three seconds per run:\n", half);
    auto paced = compare("half of bare's rate", {&bare_t, &chat_t}, 1, static_cast<int>(half * 3), half, rounds);

    std::printf("a second client process raises bare's rate by %.2fx (1.00: the broker, not the client, saturates)\n",
                two[0].msgs_per_s / one[0].msgs_per_s);
    std::printf("throughput chat/bare %.2f; broker CPU per message chat/bare %.2f (target <= 1.4); p99 at half of "
                "bare's rate chat/bare %.2f (target <= 2)\n",
                one[1].msgs_per_s / one[0].msgs_per_s, one[1].broker_cpu_us / one[0].broker_cpu_us,
                paced[1].p99_ms / paced[0].p99_ms);
    using chat::bench::print_result;
    print_result("broker.bare_saturate_2_clients", two[0].msgs_per_s, "msg/s", one[0].msgs_per_s, "<=1.05");
    print_result("broker.saturate", one[1].msgs_per_s, "msg/s", one[0].msgs_per_s);
    print_result("broker.cpu_per_msg", one[1].broker_cpu_us, "us", one[0].broker_cpu_us, "<=1.4");
    print_result("broker.p99_half_bare_rate", paced[1].p99_ms, "ms", paced[0].p99_ms, "<=2");
    // Where chat's extra CPU goes: its broker thread next to bare's, and the plugin's own threads.
    print_result("broker.cpu_per_msg_broker_thread", one[1].thread_us["broker thread"], "us",
                 one[0].thread_us["broker thread"]);
    print_result("broker.cpu_per_msg_importer", one[1].thread_us["chat-importer"], "us");
    print_result("broker.cpu_per_msg_other_threads", one[1].thread_us["other threads"], "us");
    return 0;
}

}  // namespace

// Usage: chat-bench-broker [messages] [--rounds 3] [--backend sqlite|postgres]   bare against mosquitto+chat, pinned
//        chat-bench-broker --plugin-only [messages] [--backend sqlite|postgres]   the plugin's own CPU per message
//        chat-bench-broker --binary-vs-text [messages] [--rounds 3]   200-byte binary against text bodies
int main(int argc, char** argv) {
    try {
        mosquitto_lib_init();
        int rc = run_bench({argv + 1, argv + argc});
        mosquitto_lib_cleanup();
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat-bench-broker: %s\n", e.what());
        return 1;
    }
}
