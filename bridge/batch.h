// Payloads of the bridge-only batch topics b/fanout and b/replay, which the plugin expands into
// one live publish per member or per entry on the broker thread (docs/PROTOCOL.md).
#pragma once

#include "common/entry.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chat::bridge {

inline constexpr const char* fanout_batch_topic = "b/fanout";
inline constexpr const char* replay_batch_topic = "b/replay";

// {"entry": <shared without seq>, "to": [[member, seq], ...]}: one stored entry, many inboxes.
std::string fanout_batch(const Entry& shared, const std::vector<std::pair<std::string, int64_t>>& to);
// {"user", "device", "entries": [...]}: a replay page for one device, in seq order.
std::string replay_batch(const std::string& user, const std::string& device, const std::vector<Entry>& entries);

}  // namespace chat::bridge
