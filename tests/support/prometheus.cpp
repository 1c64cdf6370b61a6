// parse_prometheus and scrape.
#include "prometheus.h"

#include <httplib.h>

#include <cstring>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace chat::testing {

std::map<std::string, double> parse_prometheus(const std::string& text) {
    static const std::regex meta(R"(# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*))");
    static const std::regex sample_line(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? ([-+0-9.eE]+|\+Inf|-Inf|NaN))");
    std::map<std::string, double> out;
    std::set<std::string> typed;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (line.empty()) continue;
        if (std::regex_match(line, m, meta)) {
            if (m[1] == "TYPE") {
                static const std::set<std::string> types{"counter", "gauge", "histogram", "summary", "untyped"};
                if (!types.contains(m[3])) throw std::runtime_error("bad TYPE: " + line);
                typed.insert(m[2]);
            }
            continue;
        }
        if (line[0] == '#') continue;
        if (!std::regex_match(line, m, sample_line)) throw std::runtime_error("not a sample: " + line);
        std::string name = m[1];
        bool has_type = typed.contains(name);
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            if (!has_type && name.ends_with(suffix)) has_type = typed.contains(name.substr(0, name.size() - std::strlen(suffix)));
        }
        if (!has_type) throw std::runtime_error("sample without TYPE: " + line);
        std::string series = name + std::string(m[2]);
        if (!out.emplace(series, std::stod(m[3])).second) throw std::runtime_error("series twice: " + line);
    }
    return out;
}

double sample(const std::map<std::string, double>& samples, const std::string& series) {
    auto it = samples.find(series);
    return it == samples.end() ? 0 : it->second;
}

std::map<std::string, double> scrape(int port) {
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get("/metrics");
    if (!res || res->status != 200) throw std::runtime_error("no /metrics on port " + std::to_string(port));
    return parse_prometheus(res->body);
}

}  // namespace chat::testing
