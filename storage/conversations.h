// Per-conversation settings of a user (mute, archive), stored server-side so all of the user's
// devices agree, and read by the push hook (a muted conversation pushes nothing).
#pragma once

#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct ConversationSettings {
    std::string conversation;  // a group id, or the other user's id
    bool muted = false;
    bool archived = false;
};

class Conversations {
public:
    explicit Conversations(Database& db);

    // Changes the given fields (nullopt: unchanged); returns the settings now stored.
    ConversationSettings update(const std::string& user, const std::string& conversation, std::optional<bool> muted,
                                std::optional<bool> archived);
    // Conversations with a setting other than the default, by id.
    std::vector<ConversationSettings> list(const std::string& user);
    bool is_muted(const std::string& user, const std::string& conversation);

private:
    Statement upsert_, list_, muted_;
};

}  // namespace chat::storage
