// Content-addressed media (id = hex BLAKE2b-256 of the bytes) streamed to files under the data folder,
// plus resumable uploads that land in the same store when complete.
#pragma once

#include "file_util.h"
#include "metrics.h"
#include "store_pool.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <string>
#include <string_view>

namespace chat::sidecar {

// Pulls the request body chunk by chunk into `sink` (same shape as httplib::ContentReader);
// returns false when the body ended early or the sink said stop.
using BodyReader = std::function<bool(std::function<bool(const char*, size_t)> sink)>;

struct StoredBlob {
    std::string id;
    int64_t size = 0;
    bool deduplicated = false;  // the same bytes were already stored
};

struct UploadStatus {
    int64_t offset = 0;
    int64_t length = 0;
    std::optional<std::string> media_id;  // set once complete
    bool body_complete = true;            // false when the chunk's body broke off (bytes received are kept)
};

struct BlobFile {
    std::shared_ptr<Fd> fd;
    int64_t size = 0;
};

bool is_media_id(std::string_view s);   // 64 lowercase hex digits
bool is_upload_id(std::string_view s);  // 24 of [a-z0-9]

// Thread-safe: files are written to unique temp names and renamed into place. For an upload,
// the newest PATCH wins: a dropped 2G link often leaves the old request hanging on the server
// until its read timeout, and the client's resumed PATCH must not wait for that.
class MediaStore {
public:
    MediaStore(std::filesystem::path root, StorePool& pool, Metrics& metrics, int64_t max_bytes);

    int64_t max_bytes() const { return max_bytes_; }
    // Streams the body to disk while hashing. ApiError 413 beyond max_bytes, 400 if the body broke off.
    StoredBlob put(const BodyReader& read, int64_t now_ms);
    BlobFile open(const std::string& id);  // ApiError 400 bad id, 404 unknown

    std::string create_upload(const std::string& user, int64_t length, int64_t now_ms);
    // ApiError 400 bad id, 404 unknown (or another user's) upload.
    UploadStatus upload_status(const std::string& user, const std::string& id);
    // Appends a chunk at `offset` (409 with the current offset when it differs). Completing the
    // upload moves it into the content store.
    UploadStatus append(const std::string& user, const std::string& id, int64_t offset,
                        std::optional<int64_t> content_length, const BodyReader& read, int64_t now_ms);
    // Removes uploads started more than `ttl_ms` ago: the part files of abandoned ones, and the
    // rows of finished ones (a client had that long to learn its media id). Returns how many.
    size_t sweep_uploads(int64_t now_ms, int64_t ttl_ms);

private:
    StoredBlob commit(const std::filesystem::path& file, const std::string& id, int64_t size, int64_t now_ms);
    std::filesystem::path part_path(const std::string& id) const { return root_ / "uploads" / (id + ".part"); }

    std::filesystem::path root_;
    StorePool& pool_;
    Metrics& metrics_;
    int64_t max_bytes_;
    // One slot per upload being written: a mutex around each chunk write and the generation of
    // the PATCH that owns the upload now (an older PATCH stops at its next chunk).
    struct UploadSlot {
        std::mutex mutex;
        uint64_t generation = 0;
    };
    std::shared_ptr<UploadSlot> slot(const std::string& id);
    void drop_slot(const std::string& id);
    std::mutex slots_mutex_;
    std::map<std::string, std::shared_ptr<UploadSlot>> slots_;
};

}  // namespace chat::sidecar
