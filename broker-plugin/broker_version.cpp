// mosquitto_2_0_patch_level: scans an executable image for its "2.0.N" version literal.
#include "broker_version.h"

#include <cctype>

namespace chat::broker {

std::optional<int> mosquitto_2_0_patch_level(std::string_view image) {
    constexpr std::string_view prefix = "2.0.";
    std::optional<int> found;
    for (size_t at = image.find(prefix); at != std::string_view::npos; at = image.find(prefix, at + 1)) {
        if (at == 0 || image[at - 1] != '\0') continue;
        size_t end = at + prefix.size();
        int patch = 0;
        while (end < image.size() && std::isdigit(static_cast<unsigned char>(image[end])) && end - at < 8) {
            patch = patch * 10 + (image[end++] - '0');
        }
        if (end == at + prefix.size() || end >= image.size() || image[end] != '\0') continue;
        if (found && *found != patch) return std::nullopt;  // ambiguous: trust neither
        found = patch;
    }
    return found;
}

}  // namespace chat::broker
