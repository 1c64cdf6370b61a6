// chat-bench-sidecar: registrations per second to a working MQTT connection, and media upload
// MB/s against a plain file write of the same bytes, all in one run on loopback.
#include "result.h"
#include "sidecar/server.h"
#include "sidecar/file_util.h"
#include "support/broker_fixture.h"
#include "support/mosq_login.h"

#include <fcntl.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

using namespace chat;
using Clock = std::chrono::steady_clock;

namespace {

// Hands codes straight to the benchmark instead of a file: the SMS path is not what is measured.
class CaptureSender : public sidecar::SmsSender {
public:
    void send(const std::string& phone, const std::string& code) override {
        std::lock_guard lock(m_);
        codes_[phone] = code;
    }
    std::string code(const std::string& phone) {
        std::lock_guard lock(m_);
        return codes_.at(phone);
    }

private:
    std::mutex m_;
    std::map<std::string, std::string> codes_;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int64_t flag(const std::vector<std::string>& args, const std::string& name, int64_t def) {
    auto it = std::find(args.begin(), args.end(), name);
    return it != args.end() && it + 1 != args.end() ? std::stoll(*(it + 1)) : def;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const int registrations = static_cast<int>(flag(args, "--registrations", 300));
    const int workers = static_cast<int>(flag(args, "--concurrency", 4));
    const int64_t media_mb = flag(args, "--media-mb", 64);
    const int rounds = static_cast<int>(flag(args, "--rounds", 3));
    if (sodium_init() < 0) return 1;

    testing::BrokerFixture broker;
    testing::TempDir dir;
    sidecar::SidecarConfig config;
    config.port = 0;
    config.data_dir = dir.path() / "data";
    config.db_path = broker.db_path();
    config.register_per_phone.limit = config.register_per_address.limit = config.verify_per_address.limit = 0;
    config.max_media_bytes = (media_mb + 1) * 1024 * 1024;
    auto sms = std::make_unique<CaptureSender>();
    auto* codes = sms.get();
    sidecar::Sidecar server(config, std::move(sms));
    int port = server.start();

    // 1. register -> code -> verify -> MQTT CONNACK accepted, per phone, `workers` phones at a time.
    std::atomic<int> next{0}, failures{0};
    std::vector<std::vector<double>> latencies(static_cast<size_t>(workers)), http_ms(static_cast<size_t>(workers));
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            httplib::Client http("127.0.0.1", port);
            for (int i; (i = next++) < registrations;) {
                auto t0 = Clock::now();
                std::string phone = "+1666" + std::to_string(1000000 + i);
                nlohmann::json reg = {{"phone", phone}};
                auto r = http.Post("/v1/register", reg.dump(), "application/json");
                nlohmann::json ver = {{"phone", phone}, {"code", r && r->status == 202 ? codes->code(phone) : ""}};
                auto v = http.Post("/v1/verify", ver.dump(), "application/json");
                if (!v || v->status != 200) {
                    ++failures;
                    continue;
                }
                http_ms[static_cast<size_t>(w)].push_back(seconds_since(t0) * 1000);
                auto creds = nlohmann::json::parse(v->body);
                if (testing::mosquitto_login(broker.port(), creds["client_id"], creds["user"], creds["token"]) != 0) {
                    ++failures;
                }
                latencies[static_cast<size_t>(w)].push_back(seconds_since(t0) * 1000);
            }
        });
    }
    for (auto& t : threads) t.join();
    double reg_s = seconds_since(start);
    std::vector<double> all, http_all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    for (auto& l : http_ms) http_all.insert(http_all.end(), l.begin(), l.end());
    std::cout << "verify-and-connect: " << registrations << " phones, " << workers << " at a time, " << failures
              << " failures: " << static_cast<int>(registrations / reg_s) << " registrations/s to a working MQTT "
              << "connection; per registration p50 " << percentile(all, 0.5) << " ms, p99 " << percentile(all, 0.99)
              << " ms (HTTP register+verify alone p50 " << percentile(http_all, 0.5) << " ms, p99 "
              << percentile(http_all, 0.99) << " ms)\n";
    bench::print_result("sidecar.verify_and_connect", registrations / reg_s, "registrations/s");
    bench::print_result("sidecar.verify_and_connect_p99", percentile(all, 0.99), "ms");

    // 2. media: the same fresh random bytes written to a plain file (write + fdatasync, as the
    //    store does) and uploaded with POST /v1/media; then the same bytes again (dedupe hit).
    const size_t bytes = static_cast<size_t>(media_mb) * 1024 * 1024;
    const double mb = static_cast<double>(bytes) / (1024.0 * 1024.0);
    std::string token;
    {
        httplib::Client http("127.0.0.1", port);
        nlohmann::json reg = {{"phone", "+16660000001"}};
        http.Post("/v1/register", reg.dump(), "application/json");
        nlohmann::json ver = {{"phone", "+16660000001"}, {"code", codes->code("+16660000001")}};
        token = nlohmann::json::parse(http.Post("/v1/verify", ver.dump(), "application/json")->body)["token"];
    }
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(120, 0);
    http.set_write_timeout(120, 0);
    httplib::Headers auth = {{"Authorization", "Bearer " + token}};
    std::vector<double> plain, upload, dedupe;
    std::string data(bytes, '\0');
    for (int r = 0; r < rounds; ++r) {
        randombytes_buf(data.data(), data.size());
        auto t0 = Clock::now();
        {
            auto fd = sidecar::open_file(dir.path() / "plain.bin", O_WRONLY | O_CREAT | O_TRUNC);
            sidecar::write_all(fd, data.data(), data.size());
            sidecar::sync_file(fd);
        }
        plain.push_back(mb / seconds_since(t0));
        std::filesystem::remove(dir.path() / "plain.bin");
        t0 = Clock::now();
        auto res = http.Post("/v1/media", auth, data, "application/octet-stream");
        if (!res || res->status != 201) {
            std::cerr << "upload failed: " << (res ? res->body : httplib::to_string(res.error())) << '\n';
            return 1;
        }
        upload.push_back(mb / seconds_since(t0));
        t0 = Clock::now();
        res = http.Post("/v1/media", auth, data, "application/octet-stream");
        if (!res || res->status != 201 || !nlohmann::json::parse(res->body)["deduplicated"].get<bool>()) return 1;
        dedupe.push_back(mb / seconds_since(t0));
    }
    double p = percentile(plain, 0.5), u = percentile(upload, 0.5), d = percentile(dedupe, 0.5);
    std::cout << "media " << media_mb << " MiB, median of " << rounds << ": plain file write+fdatasync " << p
              << " MB/s; POST /v1/media (new bytes) " << u << " MB/s = " << u / p
              << "x of plain; same bytes again (dedupe hit) " << d << " MB/s\n";
    bench::print_result("sidecar.media_upload", u, "MB/s", p);
    server.stop();
    return failures == 0 ? 0 : 1;
}
