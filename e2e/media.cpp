// secretstream in 64 KiB chunks and BLAKE2b hashes over libsodium.
#include "media.h"

#include <sodium.h>

#include <stdexcept>

namespace chat::e2e {
namespace {

constexpr size_t chunk = 64 * 1024;
using Stream = crypto_secretstream_xchacha20poly1305_state;

const unsigned char* bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string blake2b(const std::string& data) {
    std::string out(crypto_generichash_BYTES, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), bytes(data), data.size(), nullptr, 0);
    return out;
}

}  // namespace

SealedFile seal_file(const std::string& plaintext) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium cannot start");
    SealedFile f;
    f.key.resize(crypto_secretstream_xchacha20poly1305_KEYBYTES);
    crypto_secretstream_xchacha20poly1305_keygen(reinterpret_cast<unsigned char*>(f.key.data()));
    Stream state;
    std::string header(crypto_secretstream_xchacha20poly1305_HEADERBYTES, '\0');
    crypto_secretstream_xchacha20poly1305_init_push(&state, reinterpret_cast<unsigned char*>(header.data()), bytes(f.key));
    f.ciphertext = header;
    size_t at = 0;
    do {
        const size_t n = std::min(chunk, plaintext.size() - at);
        const bool last = at + n == plaintext.size();
        std::string out(n + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
        crypto_secretstream_xchacha20poly1305_push(&state, reinterpret_cast<unsigned char*>(out.data()), nullptr,
                                                   bytes(plaintext) + at, n, nullptr, 0,
                                                   last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
        f.ciphertext += out;
        at += n;
    } while (at < plaintext.size());
    f.hash = blake2b(plaintext);
    return f;
}

std::optional<std::string> open_file(const std::string& ciphertext, const std::string& key, const std::string& hash) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium cannot start");
    constexpr size_t header = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    constexpr size_t tag = crypto_secretstream_xchacha20poly1305_ABYTES;
    if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES || ciphertext.size() < header + tag) return std::nullopt;
    Stream state;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&state, bytes(ciphertext), bytes(key)) != 0) return std::nullopt;
    std::string plaintext;
    size_t at = header;
    unsigned char flags = 0;
    while (at < ciphertext.size()) {
        const size_t n = std::min(chunk + tag, ciphertext.size() - at);
        std::string out(n - tag, '\0');
        unsigned long long len = 0;
        if (crypto_secretstream_xchacha20poly1305_pull(&state, reinterpret_cast<unsigned char*>(out.data()), &len, &flags,
                                                       bytes(ciphertext) + at, n, nullptr, 0) != 0) {
            return std::nullopt;
        }
        plaintext.append(out, 0, static_cast<size_t>(len));
        at += n;
        if (flags == crypto_secretstream_xchacha20poly1305_TAG_FINAL && at != ciphertext.size()) return std::nullopt;
    }
    if (flags != crypto_secretstream_xchacha20poly1305_TAG_FINAL) return std::nullopt;  // cut short
    if (blake2b(plaintext) != hash) return std::nullopt;
    return plaintext;
}

std::string media_id_of(const std::string& blob) {
    auto digest = blake2b(blob);
    std::string hex(digest.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), bytes(digest), digest.size());
    hex.pop_back();
    return hex;
}

}  // namespace chat::e2e
