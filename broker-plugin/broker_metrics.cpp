// The plugin's metric names, help texts and labels, in one place.
#include "broker_metrics.h"

namespace chat::broker {
namespace {

constexpr const char* refusal_names[] = {"acl", "block", "rate_limit", "pending_cap", "payload_size", "malformed",
                                         "unknown_recipient"};
constexpr const char* auth_failure_names[] = {"bad_client_id", "unknown_device", "revoked_device", "wrong_token",
                                              "bridge_identity", "operator_identity"};
constexpr const char* topic_kind_names[] = {"direct", "group", "receipt", "typing", "ack",
                                            "sync",   "presence", "fanout", "replay", "other"};
constexpr const char* kick_names[] = {"revoked", "rate_limit", "moved"};
static_assert(std::size(refusal_names) == static_cast<size_t>(Refusal::count_));
static_assert(std::size(auth_failure_names) == static_cast<size_t>(AuthFailure::count_));
static_assert(std::size(topic_kind_names) == static_cast<size_t>(TopicKind::count_));
static_assert(std::size(kick_names) == static_cast<size_t>(Kick::count_));

template <size_t N, size_t M>
void labelled(metrics::Registry& r, std::array<metrics::Counter*, N>& out, const char* const (&names)[M],
              const char* name, const char* help, const char* label) {
    static_assert(N == M);
    for (size_t i = 0; i < N; ++i) out[i] = &r.counter(name, help, {{label, names[i]}});
}

constexpr const char* connects = "chat_broker_connects_total";
constexpr const char* connects_help =
    "CONNECTs by result (accepted, refused: not authorised, throttled and elsewhere: closed unanswered).";

}  // namespace

BrokerMetrics::BrokerMetrics(metrics::Registry& registry)
    : connected_devices(registry.gauge("chat_broker_connected_devices", "Device connections open now (bridges not counted).")),
      connects_accepted(registry.counter(connects, connects_help, {{"result", "accepted"}})),
      connects_throttled(registry.counter(connects, connects_help, {{"result", "throttled"}})),
      connects_elsewhere(registry.counter(connects, connects_help, {{"result", "elsewhere"}})),
      relayed(registry.counter("chat_broker_relayed_total",
                               "Messages, receipts and typing for users homed on another node, handed to a bridge.")),
      live_copies_dropped(registry.counter("chat_broker_live_copies_dropped_total",
                                           "Live copies the broker could not queue (the entry is stored; a sync replays it).")),
      connects_refused_(registry.counter(connects, connects_help, {{"result", "refused"}})),
      registry_(registry) {
    labelled(registry, refusals_, refusal_names, "chat_broker_refusals_total",
             "Publishes and subscriptions refused, by reason.", "reason");
    labelled(registry, auth_failures_, auth_failure_names, "chat_broker_auth_failures_total",
             "CONNECTs refused as not authorised, by reason.", "reason");
    labelled(registry, publishes_, topic_kind_names, "chat_broker_publishes_total",
             "Client publishes the plugin handled, by topic kind.", "kind");
    labelled(registry, kicks_, kick_names, "chat_broker_kicks_total", "Sessions the broker disconnected, by reason.",
             "reason");
}

void BrokerMetrics::expose_storage(const storage::InboxLog& log, const storage::WalCheckpointer& checkpointer) {
    const auto& journal = log.journal();
    const auto& importer = log.importer();
    const auto& stats = importer.stats();
    registry_.expose("chat_broker_journal_bytes_total", "Bytes appended to the journal.", journal.bytes_written());
    registry_.expose("chat_broker_journal_segments_created_total", "Journal segments allocated.", journal.segments_created());
    registry_.expose("chat_broker_journal_segments_deleted_total", "Journal segments deleted once imported.",
                     stats.segments_deleted);
    auto& segments = registry_.gauge("chat_broker_journal_segments", "Journal segments on disk.");
    auto& lag_ms = registry_.gauge("chat_broker_import_lag_ms",
                                   "How long the oldest publish not yet imported into SQLite has waited.");
    registry_.collect([&journal, &stats, &importer, &segments, &lag_ms] {
        segments.set(static_cast<int64_t>(journal.segments_created().value() - stats.segments_deleted.value()));
        lag_ms.set(importer.lag_ms());
    });
    registry_.expose("chat_broker_import_lag_publishes", "Publishes journaled, not yet imported into SQLite.",
                     stats.lag_publishes);
    registry_.expose("chat_broker_import_records_total", "Journal records imported into SQLite.", stats.records);
    registry_.expose("chat_broker_import_batch_publishes", "Publishes per import transaction.", stats.batch_publishes);
    registry_.expose("chat_broker_import_batch_duration_seconds", "Time to apply and commit one import transaction.",
                     stats.batch_seconds);
    registry_.expose("chat_broker_import_failures_total", "Import transactions or connections that failed (retried).",
                     stats.failures);
    registry_.expose("chat_broker_checkpoint_duration_seconds", "Time of one passive WAL checkpoint.",
                     checkpointer.duration_seconds());
    registry_.expose("chat_broker_checkpoint_failures_total", "WAL checkpoints that failed.", checkpointer.failures());
}

}  // namespace chat::broker
