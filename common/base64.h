// Base64 (standard alphabet, padded) over libsodium, as most clients produce it.
#pragma once

#include <optional>
#include <string>

namespace chat {

std::string to_base64(const std::string& bytes);
// nullopt unless the whole text is valid base64.
std::optional<std::string> from_base64(const std::string& text);

}  // namespace chat
