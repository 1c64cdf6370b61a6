// NumericFingerprintGenerator (version 0, 5200 iterations of SHA-512) over libsodium's hash.
#include "fingerprint.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace chat::e2e {
namespace {

constexpr int iterations = 5200;

// 30 digits: 6 chunks of 5 bytes of the iterated hash, each mod 100000.
std::string half(const std::string& stable_id, std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    std::string key_bytes;
    for (const auto& k : keys) key_bytes += k;
    std::string input = std::string(2, '\0') + key_bytes + stable_id;  // version 0, big-endian
    unsigned char hash[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(hash, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    for (int i = 0; i < iterations; ++i) {
        std::string next(reinterpret_cast<const char*>(hash), sizeof hash);
        next += key_bytes;
        crypto_hash_sha512(hash, reinterpret_cast<const unsigned char*>(next.data()), next.size());
    }
    std::string digits;
    for (int chunk = 0; chunk < 6; ++chunk) {
        uint64_t value = 0;
        for (int b = 0; b < 5; ++b) value = (value << 8) | hash[chunk * 5 + b];
        char five[8];
        std::snprintf(five, sizeof five, "%05llu", static_cast<unsigned long long>(value % 100000));
        digits += five;
    }
    return digits;
}

}  // namespace

std::string safety_number(const std::string& local_user, std::vector<std::string> local_keys,
                          const std::string& remote_user, std::vector<std::string> remote_keys) {
    auto a = half(local_user, std::move(local_keys)), b = half(remote_user, std::move(remote_keys));
    auto joined = std::min(a, b) + std::max(a, b);
    std::string out;
    for (size_t i = 0; i < joined.size(); i += 5) out += (i ? " " : "") + joined.substr(i, 5);
    return out;
}

}  // namespace chat::e2e
