// Identifiers and secrets: validation of user/device/group ids, device tokens, message ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chat {

// A user id is the E.164 number without '+': 1 to 15 digits, not starting with 0.
bool is_user_id(std::string_view s);
// Device ids are [a-z0-9]{1,16}.
bool is_device_id(std::string_view s);
// Group ids are 'g' followed by [a-z0-9]{1,15}.
bool is_group_id(std::string_view s);
// Broadcast list ids are 'l' followed by [a-z0-9]{1,15}.
bool is_list_id(std::string_view s);

// A fresh random device token (32 random bytes, URL-safe base64 without padding).
std::string new_device_token();
// libsodium generic hash (BLAKE2b-256) of a token: the only form stored.
std::string hash_token(std::string_view token);
// Constant-time comparison of a presented token against a stored hash.
bool token_matches(std::string_view token, std::string_view stored_hash);

// Short random lowercase token of `len` characters from [a-z0-9].
std::string random_token(size_t len);
// A unique, sortable message id: milliseconds in hex followed by 8 random hex digits. An
// entry's id carries its own ts: the retention sweeps find old entries by id range.
std::string new_message_id(int64_t now_ms);
// The same shape with the 8 digits given: for ids that every retry must derive identically.
std::string format_message_id(int64_t now_ms, uint32_t tail);
// The same shape with the 8 digits from a hash of `name` (SipHash, libsodium): one name, one id.
std::string derived_message_id(int64_t now_ms, std::string_view name);

// The same ids for a hot path: the random digits come from SipHash (libsodium) of a counter
// under a key drawn once, not from a getrandom() system call per id. One thread per instance.
class MessageIdGenerator {
public:
    MessageIdGenerator();
    std::string next(int64_t now_ms);

private:
    unsigned char key_[16];
    uint64_t counter_ = 0;
};

int64_t now_ms();

}  // namespace chat
