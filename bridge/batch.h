// Payloads of the bridge-only batch topics b/fanout, b/replay and b/live, which the plugin expands
// into one live publish per member, per entry, or the one carried (docs/PROTOCOL.md).
#pragma once

#include "common/entry.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chat::bridge {

inline constexpr const char* fanout_batch_topic = "b/fanout";
inline constexpr const char* replay_batch_topic = "b/replay";
inline constexpr const char* live_batch_topic = "b/live";

// {"entry": <shared, without seq>, "to": [user, ...]}: the plugin stores the entry in each
// listed inbox that lacks its id (with that user's seq) before the PUBACK, then delivers it.
// With `direct` (a broadcast list's message) each member's copy is a 1:1 message to them. A
// `sent` entry handed to its owner's new home also names its sending device ("device").
std::string fanout_batch(const Entry& shared, const std::vector<std::string>& to, bool direct = false);
// {"user", "device", "entries": [...]}: a replay page for one device, in seq order; a `sent`
// entry also names its sending device ("device"), which the plugin removes.
std::string replay_batch(const std::string& user, const std::string& device, const std::vector<Entry>& entries);
// {"topic","payload","qos","retain"}: a live-only message (typing, presence) relayed from the node
// it was published on; the plugin of the node it goes to publishes it there as its own.
std::string live_batch(const std::string& topic, const std::string& payload, int qos, bool retain);

}  // namespace chat::bridge
