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

// {"entry": <shared, without seq>, "to": [user, ...]}: the plugin stores the entry in each
// listed inbox that lacks its id (with that user's seq) before the PUBACK, then delivers it.
// With `direct` (a broadcast list's message) each member's copy is a 1:1 message to them.
std::string fanout_batch(const Entry& shared, const std::vector<std::string>& to, bool direct = false);
// {"user", "device", "entries": [...]}: a replay page for one device, in seq order; a `sent`
// entry also names its sending device ("device"), which the plugin removes.
std::string replay_batch(const std::string& user, const std::string& device, const std::vector<Entry>& entries);

}  // namespace chat::bridge
