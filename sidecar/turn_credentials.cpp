// TURN REST credentials with OpenSSL's HMAC and the project's base64.
#include "turn_credentials.h"

#include "common/base64.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace chat::sidecar {

std::string turn_password(const std::string& secret, const std::string& username) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
              reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &length)) {
        throw std::runtime_error("HMAC-SHA1 failed");
    }
    return to_base64(std::string(reinterpret_cast<const char*>(mac), length));
}

TurnCredentials turn_credentials(const std::string& secret, const std::string& user, int64_t now_s, int64_t ttl_s) {
    TurnCredentials c;
    c.username = std::to_string(now_s + ttl_s) + ":" + user;
    c.password = turn_password(secret, c.username);
    c.ttl_s = ttl_s;
    return c;
}

}  // namespace chat::sidecar
