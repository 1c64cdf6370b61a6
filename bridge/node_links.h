// The bridge's connections to the broker nodes of a cluster, as one thread sees them: a
// publisher per node id. The service backs it with one Paho client per node; unit tests with
// recording publishers.
#pragma once

#include "publisher.h"

#include <string>

namespace chat::bridge {

class NodeLinks {
public:
    virtual ~NodeLinks() = default;
    // The publisher on `node`'s connection, or nullptr while the bridge has no live connection
    // to it (what was published there counts as missing). A returned publisher stays valid as
    // long as this NodeLinks lives, also after its connection is lost.
    virtual NodePublisher* link(const std::string& node) = 0;
};

}  // namespace chat::bridge
