// MediaStore: streaming hash-and-write, dedupe by content id, resumable part files, blob lookup.
#include "media_store.h"

#include "api_error.h"
#include "common/identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace chat::sidecar {
namespace {

namespace fs = std::filesystem;

bool all_in(std::string_view s, std::string_view alphabet) {
    return std::all_of(s.begin(), s.end(), [&](char c) { return alphabet.find(c) != std::string_view::npos; });
}

class Hasher {
public:
    Hasher() {
        if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
        crypto_generichash_init(&state_, nullptr, 0, 32);
    }
    void update(const char* data, size_t len) {
        crypto_generichash_update(&state_, reinterpret_cast<const unsigned char*>(data), len);
    }
    std::string hex() {
        unsigned char out[32];
        crypto_generichash_final(&state_, out, sizeof out);
        char text[65];
        sodium_bin2hex(text, sizeof text, out, sizeof out);
        return text;
    }

private:
    crypto_generichash_state state_{};
};

// A temp file that is removed unless it was renamed away.
class TempFile {
public:
    explicit TempFile(const fs::path& dir) {
        std::string tmpl = (dir / "blob-XXXXXX").string();
        int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "mkostemp");
        fd_ = Fd(fd);
        path_ = tmpl;
    }
    ~TempFile() {
        std::error_code ec;
        fs::remove(path_, ec);
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const Fd& fd() const { return fd_; }
    const fs::path& path() const { return path_; }

private:
    Fd fd_;
    fs::path path_;
};

std::string hash_file(const Fd& fd) {
    Hasher h;
    std::vector<char> buf(1 << 16);
    int64_t offset = 0;
    while (size_t n = read_at(fd, buf.data(), buf.size(), offset)) {
        h.update(buf.data(), n);
        offset += static_cast<int64_t>(n);
    }
    return h.hex();
}

}  // namespace

bool is_media_id(std::string_view s) { return s.size() == 64 && all_in(s, "0123456789abcdef"); }
bool is_upload_id(std::string_view s) { return s.size() == 24 && all_in(s, "abcdefghijklmnopqrstuvwxyz0123456789"); }

MediaStore::MediaStore(fs::path root, StorePool& pool, Metrics& metrics, int64_t max_bytes)
    : root_(std::move(root)), pool_(pool), metrics_(metrics), max_bytes_(max_bytes) {
    for (const char* sub : {"media", "uploads", "tmp"}) fs::create_directories(root_ / sub);
}

StoredBlob MediaStore::put(const BodyReader& read, int64_t now_ms) {
    TempFile tmp(root_ / "tmp");
    Hasher hasher;
    int64_t size = 0;
    bool too_big = false;
    // httplib hands over a few KiB at a time; batching them into 1 MiB writes saves syscalls.
    std::string buffer;
    buffer.reserve(1 << 20);
    bool complete = read([&](const char* data, size_t len) {
        size += static_cast<int64_t>(len);
        if (size > max_bytes_) {
            too_big = true;
            return false;
        }
        hasher.update(data, len);
        buffer.append(data, len);
        if (buffer.size() >= (1 << 20)) {
            write_all(tmp.fd(), buffer.data(), buffer.size());
            buffer.clear();
        }
        metrics_.add(Counter::upload_bytes, static_cast<int64_t>(len));
        return true;
    });
    if (too_big) throw ApiError(413, "media larger than " + std::to_string(max_bytes_) + " bytes");
    if (!complete) throw ApiError(400, "request body ended early");
    write_all(tmp.fd(), buffer.data(), buffer.size());
    // Durable before acknowledged: the blob is on disk before its id is handed out.
    sync_file(tmp.fd());
    return commit(tmp.path(), hasher.hex(), size, now_ms);
}

StoredBlob MediaStore::commit(const fs::path& file, const std::string& id, int64_t size, int64_t now_ms) {
    fs::path dest = root_ / "media" / id;
    bool existed = fs::exists(dest);
    // rename() is atomic: readers see no blob or the whole blob. Two racing uploads of the same
    // bytes both rename identical content, so either outcome is right.
    if (!existed) fs::rename(file, dest);
    bool added = pool_.lease()->media.add_blob(id, size, now_ms);
    StoredBlob blob{id, size, existed || !added};
    metrics_.add(blob.deduplicated ? Counter::dedupe_hits : Counter::media_stored);
    return blob;
}

BlobFile MediaStore::open(const std::string& id) {
    if (!is_media_id(id)) throw ApiError(400, "bad media id");
    int fd = ::open((root_ / "media" / id).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ApiError(404, "unknown media");
    auto file = std::make_shared<Fd>(fd);
    return BlobFile{file, file_size(*file)};
}

std::string MediaStore::create_upload(const std::string& user, int64_t length, int64_t now_ms) {
    if (length <= 0) throw ApiError(400, "Upload-Length must be a positive integer");
    if (length > max_bytes_) throw ApiError(413, "media larger than " + std::to_string(max_bytes_) + " bytes");
    std::string id = random_token(24);
    Fd created = open_file(part_path(id), O_WRONLY | O_CREAT | O_EXCL);
    pool_.lease()->media.add_upload(id, user, length, now_ms);
    return id;
}

UploadStatus MediaStore::upload_status(const std::string& user, const std::string& id) {
    if (!is_upload_id(id)) throw ApiError(400, "bad upload id");
    auto row = pool_.lease()->media.find_upload(id);
    // Another user's upload looks exactly like a missing one.
    if (!row || row->user != user) throw ApiError(404, "unknown upload");
    UploadStatus status;
    status.length = row->length;
    if (!row->media_id.empty()) {
        status.offset = row->length;
        status.media_id = row->media_id;
        return status;
    }
    std::error_code ec;
    auto size = fs::file_size(part_path(id), ec);
    if (ec) throw ApiError(404, "unknown upload");
    status.offset = static_cast<int64_t>(size);
    return status;
}

size_t MediaStore::sweep_uploads(int64_t now_ms, int64_t ttl_ms) {
    auto store = pool_.lease();
    auto stale = store->media.uploads_before(now_ms - ttl_ms, 1000);
    for (const auto& id : stale) {
        std::error_code ec;
        fs::remove(part_path(id), ec);  // already gone when the upload completed
        store->media.delete_upload(id);
        drop_slot(id);
    }
    return stale.size();
}

std::shared_ptr<MediaStore::UploadSlot> MediaStore::slot(const std::string& id) {
    std::lock_guard lock(slots_mutex_);
    auto& s = slots_[id];
    if (!s) s = std::make_shared<UploadSlot>();
    return s;
}

void MediaStore::drop_slot(const std::string& id) {
    std::lock_guard lock(slots_mutex_);
    slots_.erase(id);
}

UploadStatus MediaStore::append(const std::string& user, const std::string& id, int64_t offset,
                                std::optional<int64_t> content_length, const BodyReader& read, int64_t now_ms) {
    UploadStatus status = upload_status(user, id);  // validates the id and the owner
    if (status.media_id) throw ApiError(409, "upload already complete", {{"offset", status.offset}, {"id", *status.media_id}});
    auto s = slot(id);
    Fd part = open_file(part_path(id), O_WRONLY);
    uint64_t generation = 0;
    {
        std::lock_guard lock(s->mutex);
        status.offset = file_size(part);
        if (offset != status.offset) throw ApiError(409, "wrong Upload-Offset", {{"offset", status.offset}});
        if (content_length && *content_length > status.length - status.offset) {
            throw ApiError(413, "chunk goes past Upload-Length", {{"offset", status.offset}});
        }
        generation = ++s->generation;  // take the upload over from any older PATCH
    }
    bool too_big = false, superseded = false;
    status.body_complete = read([&](const char* data, size_t len) {
        std::lock_guard lock(s->mutex);
        if (s->generation != generation) {
            superseded = true;
            return false;
        }
        if (static_cast<int64_t>(len) > status.length - status.offset) {
            too_big = true;
            return false;
        }
        write_all_at(part, data, len, status.offset);
        status.offset += static_cast<int64_t>(len);
        metrics_.add(Counter::upload_bytes, static_cast<int64_t>(len));
        return true;
    });
    // Whatever arrived before a link dropped is kept and made durable: HEAD reports it and
    // the client resumes from there.
    sync_file(part);
    if (superseded) throw ApiError(409, "superseded by a newer PATCH");
    if (too_big) throw ApiError(413, "chunk goes past Upload-Length", {{"offset", status.offset}});
    if (status.offset == status.length) {
        Fd whole = open_file(part_path(id), O_RDONLY);
        StoredBlob blob = commit(part_path(id), hash_file(whole), status.length, now_ms);
        pool_.lease()->media.complete_upload(id, blob.id);
        std::error_code ec;
        fs::remove(part_path(id), ec);  // gone already when commit() renamed it
        drop_slot(id);
        status.media_id = blob.id;
    }
    return status;
}

}  // namespace chat::sidecar
