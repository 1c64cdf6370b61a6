// Structured logs: one line per event, "event=NAME key=value ...", with a level that each process
// sets (--log-level, plugin_opt_log_level). A field marked secret (a token, a code, a password, a
// message body) is written as key=<redacted>: its value never reaches a line.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace chat::log {

enum class Level { debug, info, notice, warning, error };

// "debug", "info", "notice", "warning", "error"; nullopt otherwise.
std::optional<Level> parse_level(std::string_view name);
const char* level_name(Level level);

struct Field {
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
    template <typename Number, typename = std::enable_if_t<std::is_arithmetic_v<Number>>>
    Field(std::string_view k, Number n) : key(k), value(std::to_string(n)) {}

    std::string key;
    std::string value;
    bool secret = false;
};

// A field whose value is never written (key=<redacted>), e.g. secret("token", t).
Field secret(std::string_view key, std::string_view value);

// The line without its level: "event=NAME k=v k2="v with spaces"" (values with spaces, quotes,
// '=' or control characters are quoted and escaped, so one event stays one line).
std::string format(std::string_view event, std::initializer_list<Field> fields);

// Where lines go: stderr by default; the plugin hands them to mosquitto_log_printf.
using Sink = std::function<void(Level, const std::string& line)>;

// The process's log settings, made once at start before any thread logs (main(), the plugin's
// init); every log() call reads them. The one piece of process-wide state: a logger handed down
// to every component (storage's importer included) would touch every constructor for nothing.
void configure(Level min_level, Sink sink);
// Lines to stderr as "level=L event=...".
Sink stderr_sink();

// Writes the event if `level` is at or above the configured level. Safe from any thread; never throws.
void log(Level level, std::string_view event, std::initializer_list<Field> fields = {}) noexcept;

}  // namespace chat::log
