// Id validation and libsodium-backed tokens, hashes and random ids.
#include "identity.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace chat {
namespace {

bool all_of_class(std::string_view s, bool (*ok)(char)) { return std::all_of(s.begin(), s.end(), ok); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }

// The low 4 * width bits of `value` as zero-padded lower-case hex, into out[0, width). Not
// snprintf: ids are made on the broker thread for every publish.
void put_hex(char* out, uint64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value >>= 4) out[i] = "0123456789abcdef"[value & 0xf];
}

uint32_t low_32_bits(const unsigned char* bytes) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes[i]) << (8 * i);
    return v;
}

void ensure_sodium() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

bool is_user_id(std::string_view s) {
    return !s.empty() && s.size() <= 15 && s[0] != '0' && all_of_class(s, is_digit);
}

bool is_device_id(std::string_view s) { return !s.empty() && s.size() <= 16 && all_of_class(s, is_lower_alnum); }

bool is_group_id(std::string_view s) {
    return s.size() >= 2 && s.size() <= 16 && s[0] == 'g' && all_of_class(s.substr(1), is_lower_alnum);
}

bool is_list_id(std::string_view s) {
    return s.size() >= 2 && s.size() <= 16 && s[0] == 'l' && all_of_class(s.substr(1), is_lower_alnum);
}

std::string new_device_token() {
    ensure_sodium();
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    std::string out(sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.size() - 1);
    return out;
}

std::string hash_token(std::string_view token) {
    ensure_sodium();
    std::string out(crypto_generichash_BYTES, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
    return out;
}

bool token_matches(std::string_view token, std::string_view stored_hash) {
    std::string presented = hash_token(token);
    return stored_hash.size() == presented.size() &&
           sodium_memcmp(presented.data(), stored_hash.data(), presented.size()) == 0;
}

std::string random_token(size_t len) {
    ensure_sodium();
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string out(len, '\0');
    for (auto& c : out) c = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    return out;
}

// 11 hex digits of milliseconds (sortable by time until the year 2527), then the tail's 8.
std::string format_message_id(int64_t now, uint32_t tail) {
    std::string id(19, '0');
    put_hex(id.data(), static_cast<uint64_t>(now), 11);
    put_hex(id.data() + 11, tail, 8);
    return id;
}

std::string new_message_id(int64_t now) {
    ensure_sodium();
    return format_message_id(now, randombytes_random());
}

std::string derived_message_id(int64_t now, std::string_view name) {
    static const unsigned char key[crypto_shorthash_KEYBYTES] = {};  // naming, not secrecy
    ensure_sodium();
    unsigned char mac[crypto_shorthash_BYTES];
    crypto_shorthash(mac, reinterpret_cast<const unsigned char*>(name.data()), name.size(), key);
    return format_message_id(now, low_32_bits(mac));
}

MessageIdGenerator::MessageIdGenerator() {
    static_assert(sizeof key_ == crypto_shorthash_KEYBYTES);
    ensure_sodium();
    randombytes_buf(key_, sizeof key_);
}

std::string MessageIdGenerator::next(int64_t now) {
    unsigned char counter[8], mac[crypto_shorthash_BYTES];
    for (int i = 0; i < 8; ++i) counter[i] = static_cast<unsigned char>(counter_ >> (8 * i));
    ++counter_;
    crypto_shorthash(mac, counter, sizeof counter, key_);
    return format_message_id(now, low_32_bits(mac));
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace chat
