// BrokerMetrics: the plugin's Prometheus series (README "Metrics"), registered once; the broker
// thread bumps them with one atomic add each and the metrics endpoint's thread renders them.
#pragma once

#include "metrics/registry.h"
#include "storage/checkpointer.h"
#include "storage/inbox_log.h"

#include <array>
#include <cstddef>

namespace chat::broker {

// Why a publish or a subscription was refused: the `reason` label of chat_broker_refusals_total.
enum class Refusal : size_t { acl, block, rate_limit, pending_cap, payload_size, malformed, unknown_recipient, count_ };
// Why a CONNECT was refused "not authorised": the `reason` of chat_broker_auth_failures_total.
enum class AuthFailure : size_t {
    bad_client_id, unknown_device, revoked_device, wrong_token, bridge_identity, operator_identity, count_
};
// What a client publish was, by its topic: the `kind` of chat_broker_publishes_total.
enum class TopicKind : size_t { direct, group, receipt, typing, ack, sync, presence, fanout, replay, other, count_ };
// Why the broker disconnected a session: the `reason` of chat_broker_kicks_total.
enum class Kick : size_t { revoked, rate_limit, moved, count_ };

class BrokerMetrics {
public:
    explicit BrokerMetrics(metrics::Registry& registry);
    // The import, journal and checkpoint series, read from those components' own counters.
    void expose_storage(const storage::InboxLog& log, const storage::WalCheckpointer& checkpointer);

    void refused(Refusal r) { refusals_[static_cast<size_t>(r)]->inc(); }
    void auth_failed(AuthFailure f) {
        auth_failures_[static_cast<size_t>(f)]->inc();
        connects_refused_.inc();
    }
    void published(TopicKind k) { publishes_[static_cast<size_t>(k)]->inc(); }
    void kicked(Kick k) { kicks_[static_cast<size_t>(k)]->inc(); }

    metrics::Gauge& connected_devices;
    metrics::Counter& connects_accepted;
    metrics::Counter& connects_throttled;
    metrics::Counter& connects_elsewhere;  // a user homed on another node, or this node fenced
    metrics::Counter& relayed;
    metrics::Counter& live_copies_dropped;

private:
    metrics::Counter& connects_refused_;
    metrics::Registry& registry_;
    std::array<metrics::Counter*, static_cast<size_t>(Refusal::count_)> refusals_{};
    std::array<metrics::Counter*, static_cast<size_t>(AuthFailure::count_)> auth_failures_{};
    std::array<metrics::Counter*, static_cast<size_t>(TopicKind::count_)> publishes_{};
    std::array<metrics::Counter*, static_cast<size_t>(Kick::count_)> kicks_{};
};

}  // namespace chat::broker
