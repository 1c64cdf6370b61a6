// TURN REST credentials (draft-uberti-behave-turn-rest, what coturn's use-auth-secret checks):
// username "expiry:user", password base64(HMAC-SHA1(shared secret, username)).
#pragma once

#include <cstdint>
#include <string>

namespace chat::sidecar {

struct TurnCredentials {
    std::string username;  // "{unix expiry seconds}:{user}"
    std::string password;
    int64_t ttl_s = 0;
};

// Credentials for `user` valid until now_s + ttl_s, signed with the relay's shared secret.
TurnCredentials turn_credentials(const std::string& secret, const std::string& user, int64_t now_s, int64_t ttl_s);

// base64(HMAC-SHA1(secret, username)), computed with OpenSSL.
std::string turn_password(const std::string& secret, const std::string& username);

}  // namespace chat::sidecar
