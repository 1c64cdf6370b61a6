// Handoffs: one acknowledged b/fanout batch per queued entry, then handoff_done().
#include "handoffs.h"

#include "common/log.h"

namespace chat::bridge {

Handoffs::Handoffs(storage::Cluster& cluster, Publisher& out) : cluster_(cluster), out_(out) {}

size_t Handoffs::sweep(int limit) {
    size_t done = 0;
    for (const auto& h : cluster_.handoffs(limit)) {
        // Not direct: the entry is the owner's own (a message to them, their sent copy, a notice).
        out_.fanout(h.entry, {h.owner}, false);
        // One flush each, so an entry a node refuses holds up no other.
        Acks acks = out_.flush();
        if (acks == Acks::all) {
            cluster_.handoff_done(h.id);
            ++done;
        } else if (acks == Acks::refused) {
            log::log(log::Level::error, "handoff_refused", {{"handoff", h.id}, {"user", h.owner}, {"message", h.entry.id}});
        }
    }
    return done;
}

}  // namespace chat::bridge
