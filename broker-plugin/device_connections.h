// DeviceConnections: the live connection of each of one user's devices, kept for every
// connected user, so kept small.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat::broker {

// Opaque identity of one connection (the broker's client pointer).
using ClientKey = const void*;

// A user has a few devices: a vector searched linearly costs one small allocation, where a
// hash map cost a node per device plus a bucket array per user (measured: 176 B against 48 B
// for a user with one device), for every idle connection. Used like a map of device -> key.
class DeviceConnections {
public:
    using Entry = std::pair<std::string, ClientKey>;
    using iterator = std::vector<Entry>::iterator;
    using const_iterator = std::vector<Entry>::const_iterator;

    iterator find(std::string_view device) {
        return std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == device; });
    }
    const_iterator find(std::string_view device) const {
        return std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == device; });
    }
    // The device's connection, added (null) when it has none.
    ClientKey& operator[](std::string_view device) {
        auto it = find(device);
        if (it != entries_.end()) return it->second;
        return entries_.emplace_back(std::string(device), nullptr).second;
    }
    iterator erase(iterator it) { return entries_.erase(it); }
    iterator begin() { return entries_.begin(); }
    iterator end() { return entries_.end(); }
    const_iterator begin() const { return entries_.begin(); }
    const_iterator end() const { return entries_.end(); }
    bool empty() const { return entries_.empty(); }
    size_t size() const { return entries_.size(); }

private:
    std::vector<Entry> entries_;
};

}  // namespace chat::broker
