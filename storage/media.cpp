// Prepared statements over media and uploads.
#include "media.h"

namespace chat::storage {

MediaIndex::MediaIndex(Database& db)
    : db_(db),
      add_blob_(db, "INSERT INTO media(id, size, created_ms) VALUES(?, ?, ?) ON CONFLICT(id) DO NOTHING"),
      blob_size_(db, "SELECT size FROM media WHERE id = ?"),
      add_upload_(db, "INSERT INTO uploads(id, user_id, length, created_ms) VALUES(?, ?, ?, ?)"),
      find_upload_(db, "SELECT user_id, length, created_ms, media_id FROM uploads WHERE id = ?"),
      complete_upload_(db, "UPDATE uploads SET media_id = ? WHERE id = ?"),
      uploads_before_(db, "SELECT id FROM uploads WHERE created_ms < ? ORDER BY created_ms LIMIT ?"),
      delete_upload_(db, "DELETE FROM uploads WHERE id = ?") {}

bool MediaIndex::add_blob(const std::string& id, int64_t size, int64_t now_ms) {
    add_blob_.bind(1, id).bind(2, size).bind(3, now_ms).run();
    return db_.changes() == 1;
}

std::optional<int64_t> MediaIndex::blob_size(const std::string& id) {
    ResetOnExit r(blob_size_);
    if (!blob_size_.bind(1, id).step()) return std::nullopt;
    return blob_size_.int_at(0);
}

void MediaIndex::add_upload(const std::string& id, const std::string& user, int64_t length, int64_t now_ms) {
    add_upload_.bind(1, id).bind(2, user).bind(3, length).bind(4, now_ms).run();
}

std::optional<UploadRow> MediaIndex::find_upload(const std::string& id) {
    ResetOnExit r(find_upload_);
    if (!find_upload_.bind(1, id).step()) return std::nullopt;
    return UploadRow{find_upload_.text_at(0), find_upload_.int_at(1), find_upload_.int_at(2),
                     find_upload_.text_at(3)};
}

void MediaIndex::complete_upload(const std::string& id, const std::string& media_id) {
    complete_upload_.bind(1, media_id).bind(2, id).run();
}

std::vector<std::string> MediaIndex::uploads_before(int64_t before_ms, int limit) {
    ResetOnExit r(uploads_before_);
    uploads_before_.bind(1, before_ms).bind(2, int64_t{limit});
    std::vector<std::string> ids;
    while (uploads_before_.step()) ids.push_back(uploads_before_.text_at(0));
    return ids;
}

void MediaIndex::delete_upload(const std::string& id) { delete_upload_.bind(1, id).run(); }

}  // namespace chat::storage
