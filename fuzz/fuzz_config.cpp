// Fuzz target: the plugin's plugin_opt_* parsing (parse_config), the sidecar's and the bridge's
// command lines, the bridge's durations and its reading of mosquitto.conf, from arbitrary text.
#include "bridge/config.h"
#include "broker-plugin/config.h"
#include "sidecar/config.h"
#include "temp_dir.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

// The input is text: its first line names the parser, each further line is one option or
// argument (for the bridge, the lines after "#conf" are its mosquitto.conf). Seeds stay readable.
std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == text.npos) nl = text.size();
        lines.emplace_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

// "key=value" lines, as mosquitto hands plugin_opt_key value to the plugin.
void plugin_options(const std::vector<std::string>& lines) {
    std::map<std::string, std::string> options;
    for (size_t i = 1; i < lines.size(); ++i) {
        auto eq = lines[i].find('=');
        options[lines[i].substr(0, eq)] = eq == std::string::npos ? "" : lines[i].substr(eq + 1);
    }
    try {
        auto c = chat::broker::parse_config(options);
        require(c.max_payload >= 1 && c.max_payload <= 256u * 1024 * 1024);
        require(c.acl_refresh_ms >= 1 && c.acl_refresh_ms <= 60000);
        require(c.max_pending >= 0);
        require(c.bridge_user.empty() == c.bridge_password.empty());
    } catch (const std::invalid_argument&) {
    }
}

void sidecar_args(const std::vector<std::string>& lines) {
    chat::sidecar::SidecarConfig c;
    if (chat::sidecar::parse_args({lines.begin() + 1, lines.end()}, c)) return;  // refused with a message
    require(c.port >= 0 && c.port < 65536);
    require(c.threads >= 1 && c.threads <= 1024);  // parse_args' bound
    require(c.max_media_bytes > 0 && c.upload_ttl_ms > 0);
    require(c.register_per_phone.window_ms > 0 && c.register_per_address.window_ms > 0 &&
            c.verify_per_address.window_ms > 0);
    require(c.register_per_phone.limit >= 0 && c.register_per_address.limit >= 0 && c.verify_per_address.limit >= 0);
}

void bridge_args(const std::vector<std::string>& lines, const std::filesystem::path& conf) {
    std::vector<std::string> args;
    std::ofstream file(conf, std::ios::binary | std::ios::trunc);
    bool in_conf = false;
    for (size_t i = 1; i < lines.size(); ++i) {
        if (lines[i] == "#conf") {
            in_conf = true;
        } else if (in_conf) {
            file << lines[i] << '\n';
        } else {
            args.push_back(lines[i]);
        }
    }
    file.close();
    // The mosquitto.conf the input wrote: never a path the input names (it could be /dev/zero).
    for (size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--mosquitto-conf") args[i + 1] = conf.string();
    }
    try {
        auto c = chat::bridge::parse_args(args);
        require(!c.user.empty() && !c.password.empty() && c.port >= 0 && c.port <= 65535);
        require(c.sweep_ms > 0 && c.expiry_ms >= 0 && c.retention_ms >= 0 && c.push_debounce_ms >= 0);
    } catch (const std::invalid_argument&) {
    }
}

void durations(const std::vector<std::string>& lines) {
    for (size_t i = 1; i < lines.size(); ++i) {
        try {
            require(chat::bridge::parse_duration_ms(lines[i]) >= 0);
        } catch (const std::invalid_argument&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const chat::fuzz::TempDir dir;
    auto lines = lines_of(std::string_view(reinterpret_cast<const char*>(data), size));
    const std::string& parser = lines[0];
    if (parser == "plugin") {
        plugin_options(lines);
    } else if (parser == "sidecar") {
        sidecar_args(lines);
    } else if (parser == "bridge") {
        bridge_args(lines, dir.path() / "mosquitto.conf");
    } else if (parser == "duration") {
        durations(lines);
    }
    return 0;
}
