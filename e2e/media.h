// Media encryption before upload: libsodium secretstream (XChaCha20-Poly1305) with a fresh key
// per file, and the hashes the receiver checks before it writes anything.
#pragma once

#include <optional>
#include <string>

namespace chat::e2e {

struct SealedFile {
    std::string key;         // 32 bytes, sent inside the end-to-end encrypted media message
    std::string ciphertext;  // secretstream header, then 64 KiB chunks (the last one tagged final)
    std::string hash;        // BLAKE2b-256 of the plaintext
};

SealedFile seal_file(const std::string& plaintext);
// The plaintext, or nullopt when the ciphertext was altered, cut short or the key is wrong, or
// when the plaintext does not match `hash`.
std::optional<std::string> open_file(const std::string& ciphertext, const std::string& key, const std::string& hash);
// BLAKE2b-256 in lowercase hex: the sidecar's media id of a blob.
std::string media_id_of(const std::string& blob);

}  // namespace chat::e2e
