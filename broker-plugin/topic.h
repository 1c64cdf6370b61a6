// Splitting MQTT topics into levels without allocating.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace chat::broker {

// Up to four levels of a topic; more levels (or none) make it invalid for us.
struct Topic {
    std::array<std::string_view, 4> level{};
    size_t count = 0;
    bool too_deep = false;

    std::string_view operator[](size_t i) const { return level[i]; }
    bool is(std::string_view first, size_t n) const { return !too_deep && count == n && level[0] == first; }
};

inline Topic split_topic(std::string_view topic) {
    Topic t;
    size_t start = 0;
    while (true) {
        size_t slash = topic.find('/', start);
        std::string_view part = topic.substr(start, slash == std::string_view::npos ? topic.npos : slash - start);
        if (t.count == t.level.size()) {
            t.too_deep = true;
            return t;
        }
        t.level[t.count++] = part;
        if (slash == std::string_view::npos) return t;
        start = slash + 1;
    }
}

}  // namespace chat::broker
