// HomeService: storage::Cluster's settle_home() as the sidecar answers it.
#include "home_service.h"

#include "api_error.h"

namespace chat::sidecar {
namespace {

ApiError no_live_node() {
    // Leases last seconds: a node that comes back (or a new one) is live again soon.
    return ApiError(503, "no broker node is live; try again shortly", nlohmann::json::object(), {{"Retry-After", "5"}});
}

}  // namespace

void HomeService::require_live_node(int64_t now_ms) {
    if (cluster_ && pool_.lease()->cluster.live_nodes(now_ms).empty()) throw no_live_node();
}

std::optional<nlohmann::json> HomeService::live_home(const std::string& user, int64_t now_ms) {
    auto home = pool_.lease()->cluster.settle_home(user, now_ms);
    if (!home) throw ApiError(404, "no such user");
    if (!home->live) return std::nullopt;
    return nlohmann::json{{"id", home->node}, {"address", home->address}};
}

nlohmann::json HomeService::home(const std::string& user, int64_t now_ms) {
    auto node = live_home(user, now_ms);
    if (!node) throw no_live_node();
    return *node;
}

}  // namespace chat::sidecar
