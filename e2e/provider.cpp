// Crypto provider callbacks for libomemo-c on OpenSSL 3; every callback returns a library error
// code and never lets an exception cross into C.
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal_protocol.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat::e2e {
namespace {

int random_bytes(uint8_t* data, size_t len, void*) {
    if (len > INT_MAX) return SG_ERR_INVAL;
    return RAND_bytes(data, static_cast<int>(len)) == 1 ? 0 : SG_ERR_UNKNOWN;
}

int hmac_init(void** context, const uint8_t* key, size_t key_len, void*) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!mac) return SG_ERR_UNKNOWN;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (!ctx) return SG_ERR_NOMEM;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *context = ctx;
    return 0;
}

int hmac_update(void* context, const uint8_t* data, size_t len, void*) {
    return EVP_MAC_update(static_cast<EVP_MAC_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

int hmac_final(void* context, signal_buffer** output, void*) {
    uint8_t out[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(context), out, &len, sizeof out) != 1) return SG_ERR_UNKNOWN;
    *output = signal_buffer_create(out, len);
    return *output ? 0 : SG_ERR_NOMEM;
}

void hmac_cleanup(void* context, void*) { EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(context)); }

int sha512_init(void** context, void*) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) return SG_ERR_NOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx);
        return SG_ERR_UNKNOWN;
    }
    *context = ctx;
    return 0;
}

int sha512_update(void* context, const uint8_t* data, size_t len, void*) {
    return EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context), data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

// Returns the digest and readies the context for the next one (the library reuses it).
int sha512_final(void* context, signal_buffer** output, void*) {
    auto* ctx = static_cast<EVP_MD_CTX*>(context);
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) != 1) {
        return SG_ERR_UNKNOWN;
    }
    *output = signal_buffer_create(out, len);
    return *output ? 0 : SG_ERR_NOMEM;
}

void sha512_cleanup(void* context, void*) { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context)); }

const EVP_CIPHER* aes(int cipher, size_t key_len) {
    const bool cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;
    if (!cbc && cipher != SG_CIPHER_AES_CTR_NOPADDING) return nullptr;
    switch (key_len) {
        case 16: return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr();
        case 24: return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ctr();
        case 32: return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ctr();
        default: return nullptr;
    }
}

struct FreeCipherCtx {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};

int run_cipher(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv,
               size_t iv_len, const uint8_t* input, size_t input_len) {
    const EVP_CIPHER* type = aes(cipher, key_len);
    if (!type || iv_len != 16 || input_len > INT_MAX - 32) return SG_ERR_INVAL;
    std::unique_ptr<EVP_CIPHER_CTX, FreeCipherCtx> ctx(EVP_CIPHER_CTX_new());
    if (!ctx || EVP_CipherInit_ex(ctx.get(), type, nullptr, key, iv, encrypt ? 1 : 0) != 1) return SG_ERR_UNKNOWN;
    std::vector<uint8_t> out(input_len + static_cast<size_t>(EVP_CIPHER_block_size(type)) + 16);
    int len = 0, tail = 0;
    if (EVP_CipherUpdate(ctx.get(), out.data(), &len, input, static_cast<int>(input_len)) != 1 ||
        EVP_CipherFinal_ex(ctx.get(), out.data() + len, &tail) != 1) {
        return SG_ERR_UNKNOWN;
    }
    *output = signal_buffer_create(out.data(), static_cast<size_t>(len + tail));
    return *output ? 0 : SG_ERR_NOMEM;
}

int encrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
            const uint8_t* plaintext, size_t plaintext_len, void*) {
    return run_cipher(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
}

int decrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len, const uint8_t* iv, size_t iv_len,
            const uint8_t* ciphertext, size_t ciphertext_len, void*) {
    return run_cipher(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
}

}  // namespace

void SignalContext::Destroy::operator()(signal_context* c) const noexcept { signal_context_destroy(c); }

SignalContext::SignalContext() {
    signal_context* created = nullptr;
    check(signal_context_create(&created, nullptr), "signal_context_create");
    context_.reset(created);
    signal_crypto_provider provider{};
    provider.random_func = random_bytes;
    provider.hmac_sha256_init_func = hmac_init;
    provider.hmac_sha256_update_func = hmac_update;
    provider.hmac_sha256_final_func = hmac_final;
    provider.hmac_sha256_cleanup_func = hmac_cleanup;
    provider.sha512_digest_init_func = sha512_init;
    provider.sha512_digest_update_func = sha512_update;
    provider.sha512_digest_final_func = sha512_final;
    provider.sha512_digest_cleanup_func = sha512_cleanup;
    provider.encrypt_func = encrypt;
    provider.decrypt_func = decrypt;
    check(signal_context_set_crypto_provider(created, &provider), "signal_context_set_crypto_provider");
}

void check(int rc, const char* what) {
    if (rc < 0) throw std::runtime_error(std::string(what) + " failed (" + std::to_string(rc) + ")");
}

}  // namespace chat::e2e
