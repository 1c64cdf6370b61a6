// BridgeMetrics: the bridge's Prometheus series (README "Metrics"), registered once; its
// threads bump them with one atomic add each, the metrics endpoint's thread renders them.
#pragma once

#include "metrics/registry.h"

namespace chat::bridge {

struct BridgeMetrics {
    explicit BridgeMetrics(metrics::Registry& registry);

    metrics::Gauge& fanouts_pending;        // group messages stored, not yet fanned out (per sweep)
    metrics::Counter& fanouts_done;         // group messages fanned out to every member
    metrics::Counter& fanout_entries;       // member copies sent in b/fanout batches
    metrics::Counter& batches_sent;         // b/fanout and b/replay publishes
    metrics::Counter& batches_acked;        // ... the broker acknowledged
    metrics::Counter& batches_refused;      // ... the broker answered with an error
    metrics::Counter& batches_unanswered;   // ... no answer in time (sent again later)
    metrics::Gauge& sync_requests_queued;   // s/ requests waiting for the sync thread
    metrics::Counter& sync_requests;        // s/ requests received
    metrics::Counter& sync_requests_served; // replays finished
    metrics::Counter& replay_pages;
    metrics::Counter& receipts;             // delivered receipts made
    metrics::Counter& notices;              // membership notices sent (member copies)
    metrics::Counter& pushes_sent;
    metrics::Counter& pushes_failed;
    metrics::Counter& pushes_debounced;     // signals inside a user's debounce window
    metrics::Counter& expired_entries;      // entries deleted by expiry and retention
};

}  // namespace chat::bridge
