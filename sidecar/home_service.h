// HomeService: with --cluster, the broker node a user's devices connect to: the user's home,
// settled in storage (assigned on first ask, moved off a node whose lease has expired), as
// {"id","address"} in the verify answer and GET /v1/me (PROTOCOL.md "Cluster"). Thread-safe.
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace chat::sidecar {

class HomeService {
public:
    HomeService(StorePool& pool, bool cluster) : pool_(pool), cluster_(cluster) {}

    bool enabled() const { return cluster_; }
    // Refuses (503) while no node is live, before a request spends anything (a verify code).
    void require_live_node(int64_t now_ms);
    // {"id","address"} of `user`'s home, settled now; nullopt while no node is live.
    std::optional<nlohmann::json> live_home(const std::string& user, int64_t now_ms);
    // live_home(), or a 503 refusal while no node is live.
    nlohmann::json home(const std::string& user, int64_t now_ms);

private:
    StorePool& pool_;
    bool cluster_;
};

}  // namespace chat::sidecar
