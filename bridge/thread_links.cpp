// ThreadLinks: one PahoPublisher per live node connection.
#include "thread_links.h"

namespace chat::bridge {

NodePublisher* ThreadLinks::link(const std::string& node) {
    auto connection = registry_.find(node);
    if (!connection || !connection->connected()) return nullptr;
    auto& l = links_[node];
    if (l.connection != connection) {
        if (l.out) replaced_.push_back(std::move(l));
        l = Link{connection, std::make_unique<PahoPublisher>(connection->client(), clock_, window_, metrics_)};
    }
    return l.out.get();
}

}  // namespace chat::bridge
