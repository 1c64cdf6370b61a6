// Registry, the metric types and the Prometheus text rendering.
#include "registry.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace chat::metrics {
namespace {

enum Type { counter_type = 0, gauge_type = 1, histogram_type = 2 };
constexpr const char* type_names[] = {"counter", "gauge", "histogram"};

bool is_name_part(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

void check_scheme(const std::string& name, int type, const Labels& labels) {
    if (!name.starts_with("chat_") || !is_name_part(name)) {
        throw std::invalid_argument("metric " + name + ": names are chat_ then lowercase letters, digits and _");
    }
    if ((type == counter_type) != name.ends_with("_total")) {
        throw std::invalid_argument("metric " + name + ": counters, and only counters, end in _total");
    }
    for (const auto& [key, value] : labels) {
        if (!is_name_part(key) || key == "le") throw std::invalid_argument("metric " + name + ": bad label " + key);
    }
}

// Label values may hold anything; \, " and newlines are escaped as the format says.
void write_labels(std::ostream& out, const Labels& labels, const std::string& le = {}) {
    if (labels.empty() && le.empty()) return;
    out << '{';
    bool first = true;
    for (const auto& [key, value] : labels) {
        out << (first ? "" : ",") << key << "=\"";
        for (char c : value) {
            if (c == '\\' || c == '"') out << '\\' << c;
            else if (c == '\n') out << "\\n";
            else out << c;
        }
        out << '"';
        first = false;
    }
    if (!le.empty()) out << (first ? "" : ",") << "le=\"" << le << '"';
    out << '}';
}

std::string number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    std::ostringstream s;
    s.precision(12);
    s << v;
    return s.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
    if (bounds_.empty() || bounds_.size() > max_buckets || !std::is_sorted(bounds_.begin(), bounds_.end())) {
        throw std::invalid_argument("a histogram needs 1 to 16 ascending bucket bounds");
    }
}

void Histogram::observe(double v) noexcept {
    size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s{bounds_, {}, sum_.load(std::memory_order_relaxed)};
    uint64_t total = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        total += counts_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(total);
    }
    return s;
}

std::vector<double> duration_buckets() { return {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}; }

std::vector<double> size_buckets() { return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}; }

const Registry::Series* Registry::find(const std::string& name, const std::string& help, int type,
                                       const Labels& labels) {
    auto it = families_.find(name);
    if (it == families_.end()) {
        check_scheme(name, type, labels);
        families_.emplace(name, Family{help, type, {}});
        return nullptr;
    }
    if (it->second.type != type) throw std::invalid_argument("metric " + name + " registered with two types");
    for (const auto& [l, s] : it->second.series) {
        if (l == labels) return &s;
    }
    check_scheme(name, type, labels);
    return nullptr;
}

void Registry::add(const std::string& name, const std::string& help, const Labels& labels, Series s) {
    std::lock_guard lock(mu_);
    if (find(name, help, static_cast<int>(s.index()), labels)) {
        throw std::invalid_argument("metric " + name + " exposed twice with the same labels");
    }
    families_[name].series.emplace_back(labels, s);
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(mu_);
    if (auto s = find(name, help, counter_type, labels)) return const_cast<Counter&>(*std::get<const Counter*>(*s));
    Counter& c = counters_.emplace_back();
    families_[name].series.emplace_back(labels, &c);
    return c;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard lock(mu_);
    if (auto s = find(name, help, gauge_type, labels)) return const_cast<Gauge&>(*std::get<const Gauge*>(*s));
    Gauge& g = gauges_.emplace_back();
    families_[name].series.emplace_back(labels, &g);
    return g;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds,
                               const Labels& labels) {
    auto fresh = std::make_unique<Histogram>(std::move(upper_bounds));  // checks the bounds first
    std::lock_guard lock(mu_);
    if (auto s = find(name, help, histogram_type, labels)) {
        return const_cast<Histogram&>(*std::get<const Histogram*>(*s));
    }
    Histogram& h = *histograms_.emplace_back(std::move(fresh));
    families_[name].series.emplace_back(labels, &h);
    return h;
}

void Registry::expose(const std::string& name, const std::string& help, const Counter& c, const Labels& labels) {
    add(name, help, labels, &c);
}

void Registry::expose(const std::string& name, const std::string& help, const Gauge& g, const Labels& labels) {
    add(name, help, labels, &g);
}

void Registry::expose(const std::string& name, const std::string& help, const Histogram& h, const Labels& labels) {
    add(name, help, labels, &h);
}

void Registry::collect(std::function<void()> update) {
    std::lock_guard lock(mu_);
    collectors_.push_back(std::move(update));
}

std::string Registry::render() const {
    std::vector<std::function<void()>> collectors;
    {
        std::lock_guard lock(mu_);
        collectors = collectors_;
    }
    for (const auto& update : collectors) update();
    std::ostringstream out;
    std::lock_guard lock(mu_);
    for (const auto& [name, family] : families_) {
        out << "# HELP " << name << ' ' << family.help << "\n# TYPE " << name << ' ' << type_names[family.type] << '\n';
        for (const auto& [labels, series] : family.series) {
            if (auto c = std::get_if<const Counter*>(&series)) {
                out << name;
                write_labels(out, labels);
                out << ' ' << (*c)->value() << '\n';
            } else if (auto g = std::get_if<const Gauge*>(&series)) {
                out << name;
                write_labels(out, labels);
                out << ' ' << (*g)->value() << '\n';
            } else {
                auto snap = std::get<const Histogram*>(series)->snapshot();
                for (size_t i = 0; i < snap.cumulative.size(); ++i) {
                    double bound = i < snap.upper_bounds.size() ? snap.upper_bounds[i] : INFINITY;
                    out << name << "_bucket";
                    write_labels(out, labels, number(bound));
                    out << ' ' << snap.cumulative[i] << '\n';
                }
                out << name << "_sum";
                write_labels(out, labels);
                out << ' ' << number(snap.sum) << '\n' << name << "_count";
                write_labels(out, labels);
                out << ' ' << snap.cumulative.back() << '\n';
            }
        }
    }
    return out.str();
}

}  // namespace chat::metrics
