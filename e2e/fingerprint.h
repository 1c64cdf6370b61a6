// Safety numbers: the displayable numeric fingerprint of two users' identity keys, computed as
// libsignal's NumericFingerprintGenerator does (libomemo-c 0.5 ships no fingerprint.h).
#pragma once

#include <string>
#include <vector>

namespace chat::e2e {

// 60 digits in 12 groups of 5, the same on both sides (the two halves are sorted). Each user's
// keys are that user's device identity keys (serialised), in any order.
std::string safety_number(const std::string& local_user, std::vector<std::string> local_keys,
                          const std::string& remote_user, std::vector<std::string> remote_keys);

}  // namespace chat::e2e
