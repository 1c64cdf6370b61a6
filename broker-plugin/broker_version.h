// Which mosquitto loaded the plugin, read from the broker's own executable image.
#pragma once

#include <optional>
#include <string_view>

namespace chat::broker {

// The patch level N of the one "2.0.N" version string in a mosquitto 2.0 executable image
// (its VERSION literal, NUL-terminated on both sides); nullopt when there is none or several.
std::optional<int> mosquitto_2_0_patch_level(std::string_view image);

// Mosquitto 2.0.15 and later free the topic and properties a MESSAGE callback replaces; 2.0.11
// to 2.0.14 leave them to the plugin.
inline bool frees_replaced_message_fields(int patch_level) { return patch_level >= 15; }

}  // namespace chat::broker
