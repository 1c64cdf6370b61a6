// The end-to-end envelope: the one body of an m/ publish, MessagePack carrying a ciphertext per
// recipient device and per sender's other device (docs/PROTOCOL.md, "End-to-end envelope").
#pragma once

#include "device.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::e2e {

struct Envelope {
    static constexpr int version = 1;
    std::string sender_device;          // which of the sender's sessions decrypts it
    std::vector<Ciphertext> recipients;  // one per device, the sender's other devices included
};

std::string pack(const Envelope& e);
// nullopt for anything that is not a version-1 envelope (a plain text body, damage).
std::optional<Envelope> unpack(const std::string& body);
// The ciphertext for one device, if the envelope carries one.
const Ciphertext* find(const Envelope& e, const std::string& user, const std::string& device);

}  // namespace chat::e2e
