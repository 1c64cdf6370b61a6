// Handoffs: the inbox entries a restarted node found for users it no longer homes (queued in
// storage::Cluster), each sent to its owner's new home as a b/fanout batch that keeps the
// entry's to/gid/kind/device; the home stores it with its own seq, once (same id). One
// instance per thread.
#pragma once

#include "publisher.h"

#include "storage/cluster.h"

#include <cstddef>

namespace chat::bridge {

class Handoffs {
public:
    Handoffs(storage::Cluster& cluster, Publisher& out);
    // Sends up to `limit` queued hand-offs; each is marked done once its home acknowledged it
    // (the others stay queued for the next sweep). Returns the hand-offs done.
    size_t sweep(int limit = 100);

private:
    storage::Cluster& cluster_;
    Publisher& out_;
};

}  // namespace chat::bridge
