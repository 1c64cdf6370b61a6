// Prometheus metrics shared by every process: counters, gauges and histograms on atomics,
// registered once under one naming scheme and rendered as Prometheus text.
// Counter/Gauge/Histogram updates are lock-free and safe from any thread; Registry's methods
// are thread-safe (one mutex, taken to register a series and to render, never to update one).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace chat::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
public:
    void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> value_{0};
};

class Gauge {
public:
    void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<int64_t> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending), with their sum.
class Histogram {
public:
    static constexpr size_t max_buckets = 16;
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double v) noexcept;

    struct Snapshot {
        std::vector<double> upper_bounds;
        std::vector<uint64_t> cumulative;  // per bound, then +Inf last
        double sum = 0;
    };
    Snapshot snapshot() const;

private:
    std::vector<double> bounds_;
    std::array<std::atomic<uint64_t>, max_buckets + 1> counts_{};  // +Inf in counts_[bounds_.size()]
    std::atomic<double> sum_{0};
};

// Bucket bounds in seconds for durations from 100 µs to 10 s; in records for batch sizes.
std::vector<double> duration_buckets();
std::vector<double> size_buckets();

// The naming scheme (README "Metrics"): chat_<process>_<what>[_<unit>][_total], lowercase
// letters, digits and underscores; counters end in _total; reasons and kinds are labels.
// Registering a name outside the scheme, or one name with two types, throws std::invalid_argument.
class Registry {
public:
    // Series owned by the registry; the same name and labels give the same object back, whose
    // address stays valid as long as the registry. Look it up once, then only update it.
    Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
    Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
    Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds,
                         const Labels& labels = {});
    // Series owned by a component (e.g. storage's importer); it must outlive every render().
    void expose(const std::string& name, const std::string& help, const Counter& c, const Labels& labels = {});
    void expose(const std::string& name, const std::string& help, const Gauge& g, const Labels& labels = {});
    void expose(const std::string& name, const std::string& help, const Histogram& h, const Labels& labels = {});

    // Runs before each render (on the rendering thread): for gauges computed from a
    // component's state, e.g. how long the oldest unimported record has waited.
    void collect(std::function<void()> update);

    // Prometheus text exposition format 0.0.4, families in name order.
    std::string render() const;

private:
    using Series = std::variant<const Counter*, const Gauge*, const Histogram*>;
    struct Family {
        std::string help;
        int type = 0;  // the Series alternative every series of the family holds
        std::vector<std::pair<Labels, Series>> series;
    };
    // The series of `name` with `labels`, or null; registers the family (checking the scheme).
    const Series* find(const std::string& name, const std::string& help, int type, const Labels& labels);
    void add(const std::string& name, const std::string& help, const Labels& labels, Series s);

    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
    std::vector<std::function<void()>> collectors_;
    std::deque<Counter> counters_;
    std::deque<Gauge> gauges_;
    std::deque<std::unique_ptr<Histogram>> histograms_;
};

}  // namespace chat::metrics
