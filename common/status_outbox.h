// The group_outbox record of a status update, written by the broker plugin and read by the
// bridge's fan-out: its gid is the marker below and its body names the audience.
#pragma once

#include <string>
#include <vector>

namespace chat {

// The gid of a status's outbox record (no group or list id looks like it).
inline constexpr const char* status_outbox_gid = "status";

// {"audience":[users],"body64":base64 of the status body}.
std::string status_outbox_body(const std::vector<std::string>& audience, const std::string& body);

struct StatusOutbox {
    std::vector<std::string> audience;  // sorted
    std::string body;
};
// Throws std::invalid_argument when `text` is not what status_outbox_body wrote.
StatusOutbox parse_status_outbox_body(const std::string& text);

}  // namespace chat
