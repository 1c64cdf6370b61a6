// Base64 encode/decode with libsodium's constant-time codec.
#include "base64.h"

#include <sodium.h>

#include <algorithm>

namespace chat {

std::string to_base64(const std::string& bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // drop the terminating NUL
    return out;
}

std::optional<std::string> from_base64(const std::string& text) {
    // libsodium 1.0.18 reads a byte >= 0x80 as a signed char and takes some of them for base64
    // digits ("\xb7\xb6hd" decoded to 3 bytes; found by fuzz_entry): none is in the alphabet.
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
        return std::nullopt;
    }
    std::string out(text.size(), '\0');
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                          nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

}  // namespace chat
