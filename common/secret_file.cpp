// read_secret_file: a secret from a 0600 file, refusing missing, weak and sample values.
#include "secret_file.h"

#include <sys/stat.h>

#include <array>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace chat {
namespace {

// Secrets that were once printed in this repository: anyone can read them there.
constexpr std::array<std::string_view, 2> sample_secrets = {"dev-bridge-secret-change-me", "bridge-test-secret"};

}  // namespace

std::string read_secret_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::invalid_argument("secret file " + path + " does not exist");
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        throw std::invalid_argument("secret file " + path + " must be readable by its owner only (chmod 600)");
    }
    std::ifstream in(path);
    std::string secret;
    if (!in || !std::getline(in, secret)) throw std::invalid_argument("cannot read secret file " + path);
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
    if (secret.size() < 16) throw std::invalid_argument("secret in " + path + " is shorter than 16 characters");
    for (auto sample : sample_secrets) {
        if (secret == sample) throw std::invalid_argument("secret in " + path + " is a published sample: generate one");
    }
    return secret;
}

}  // namespace chat
