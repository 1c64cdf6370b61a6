// Prepared statements over conversation_settings.
#include "conversations.h"

namespace chat::storage {

Conversations::Conversations(Database& db)
    // A NULL parameter keeps the stored value (COALESCE), so one statement serves every field subset.
    : upsert_(db,
              "INSERT INTO conversation_settings(user_id, conversation, muted, archived) "
              "VALUES(?1, ?2, COALESCE(?3, 0), COALESCE(?4, 0)) ON CONFLICT(user_id, conversation) DO UPDATE SET "
              "muted = COALESCE(?3, conversation_settings.muted), "
              "archived = COALESCE(?4, conversation_settings.archived) RETURNING muted, archived"),
      list_(db,
            "SELECT conversation, muted, archived FROM conversation_settings "
            "WHERE user_id = ? AND (muted != 0 OR archived != 0) ORDER BY conversation"),
      muted_(db, "SELECT muted FROM conversation_settings WHERE user_id = ? AND conversation = ?") {}

ConversationSettings Conversations::update(const std::string& user, const std::string& conversation,
                                           std::optional<bool> muted, std::optional<bool> archived) {
    ResetOnExit r(upsert_);
    upsert_.bind(1, user).bind(2, conversation);
    muted ? upsert_.bind(3, int64_t{*muted}) : upsert_.bind_null(3);
    archived ? upsert_.bind(4, int64_t{*archived}) : upsert_.bind_null(4);
    upsert_.step();
    ConversationSettings out{conversation, upsert_.int_at(0) != 0, upsert_.int_at(1) != 0};
    while (upsert_.step()) {
    }
    return out;
}

std::vector<ConversationSettings> Conversations::list(const std::string& user) {
    ResetOnExit r(list_);
    std::vector<ConversationSettings> out;
    list_.bind(1, user);
    while (list_.step()) out.push_back(ConversationSettings{list_.text_at(0), list_.int_at(1) != 0, list_.int_at(2) != 0});
    return out;
}

bool Conversations::is_muted(const std::string& user, const std::string& conversation) {
    ResetOnExit r(muted_);
    return muted_.bind(1, user).bind(2, conversation).step() && muted_.int_at(0) != 0;
}

}  // namespace chat::storage
