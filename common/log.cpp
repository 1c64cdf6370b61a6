// Formatting and the process's sink for structured log lines.
#include "log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace chat::log {
namespace {

constexpr const char* names[] = {"debug", "info", "notice", "warning", "error"};

struct Settings {
    std::atomic<int> min_level{static_cast<int>(Level::info)};
    std::mutex mu;  // guards sink (replaced at start only) and serialises stderr lines
    Sink sink;
};

Settings& settings() {
    static Settings s;
    return s;
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v) {
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return true;
    }
    return false;
}

void append_value(std::string& out, std::string_view v) {
    if (!needs_quotes(v)) {
        out += v;
        return;
    }
    out += '"';
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += '"';
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
    for (int i = 0; i < 5; ++i) {
        if (name == names[i]) return static_cast<Level>(i);
    }
    return std::nullopt;
}

const char* level_name(Level level) { return names[static_cast<int>(level)]; }

Field secret(std::string_view key, std::string_view) {
    Field f(key, std::string_view());
    f.secret = true;
    return f;
}

std::string format(std::string_view event, std::initializer_list<Field> fields) {
    std::string out = "event=";
    append_value(out, event);
    for (const auto& f : fields) {
        out += ' ';
        out += f.key;
        out += '=';
        if (f.secret) {
            out += "<redacted>";
        } else {
            append_value(out, f.value);
        }
    }
    return out;
}

void configure(Level min_level, Sink sink) {
    auto& s = settings();
    std::lock_guard lock(s.mu);
    s.min_level = static_cast<int>(min_level);
    s.sink = std::move(sink);
}

Sink stderr_sink() {
    return [](Level level, const std::string& line) {
        std::fprintf(stderr, "level=%s %s\n", level_name(level), line.c_str());
        std::fflush(stderr);
    };
}

void log(Level level, std::string_view event, std::initializer_list<Field> fields) noexcept {
    auto& s = settings();
    if (static_cast<int>(level) < s.min_level.load(std::memory_order_relaxed)) return;
    try {
        std::string line = format(event, fields);
        std::lock_guard lock(s.mu);
        if (s.sink) {
            s.sink(level, line);
        } else {
            std::fprintf(stderr, "level=%s %s\n", level_name(level), line.c_str());
        }
    } catch (...) {
        // A line that cannot be written (out of memory) is lost; the caller goes on.
    }
}

}  // namespace chat::log
