// Index of content-addressed media blobs and of resumable uploads in progress (bytes live in files).
#pragma once

#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct UploadRow {
    std::string user;
    int64_t length = 0;
    int64_t created_ms = 0;
    std::string media_id;  // empty until complete
};

class MediaIndex {
public:
    explicit MediaIndex(Database& db);

    // True when the blob is new, false when the same content was stored before.
    bool add_blob(const std::string& id, int64_t size, int64_t now_ms);
    std::optional<int64_t> blob_size(const std::string& id);
    void add_upload(const std::string& id, const std::string& user, int64_t length, int64_t now_ms);
    std::optional<UploadRow> find_upload(const std::string& id);
    void complete_upload(const std::string& id, const std::string& media_id);
    // Uploads created before `before_ms` (abandoned, or complete long enough ago), oldest first.
    std::vector<std::string> uploads_before(int64_t before_ms, int limit);
    void delete_upload(const std::string& id);

private:
    Database& db_;
    Statement add_blob_, blob_size_, add_upload_, find_upload_, complete_upload_, uploads_before_, delete_upload_;
};

}  // namespace chat::storage
