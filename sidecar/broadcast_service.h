// Broadcast lists over HTTP: a user's own named lists of recipients. Only the owner sees or
// changes a list; its members are not told they are on it (a list message reaches each of
// them as an ordinary 1:1 message).
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store; each change is one short transaction.
class BroadcastService {
public:
    explicit BroadcastService(StorePool& pool, size_t max_members = 256, size_t max_lists = 100)
        : pool_(pool), max_members_(max_members), max_lists_(max_lists) {}

    // Returns the new list id. ApiError 400 (bad name, too many members or lists), 404 unknown users.
    std::string create(const std::string& owner, const std::string& name, const std::vector<std::string>& members,
                       int64_t now_ms);
    // [{"id","name","members"}] of the owner's lists.
    nlohmann::json lists(const std::string& owner);
    // {"id","name","members"}; 404 unless it is the caller's list.
    nlohmann::json get(const std::string& owner, const std::string& list);
    void remove(const std::string& owner, const std::string& list);
    // 409 when already a member, 409 when the list is full.
    void add_member(const std::string& owner, const std::string& list, const std::string& user);
    // 404 when not a member.
    void remove_member(const std::string& owner, const std::string& list, const std::string& user);

private:
    StorePool& pool_;
    size_t max_members_;
    size_t max_lists_;
};

}  // namespace chat::sidecar
