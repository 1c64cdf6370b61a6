// The bridge's metric names and help texts, in one place.
#include "bridge_metrics.h"

namespace chat::bridge {
namespace {

constexpr const char* answers = "chat_bridge_batch_answers_total";
constexpr const char* answers_help = "The broker's answers to batches, by result (acked, refused, unanswered in time).";
constexpr const char* pushes = "chat_bridge_pushes_total";
constexpr const char* pushes_help = "Push signals, by result (sent, failed, debounced).";

}  // namespace

BridgeMetrics::BridgeMetrics(metrics::Registry& r)
    : fanouts_pending(r.gauge("chat_bridge_fanouts_pending", "Group messages stored and not yet fanned out.")),
      fanouts_done(r.counter("chat_bridge_fanouts_done_total", "Group messages fanned out to every member.")),
      fanout_entries(r.counter("chat_bridge_fanout_entries_total", "Member copies of group messages sent in batches.")),
      batches_sent(r.counter("chat_bridge_batches_sent_total", "Batches (b/fanout, b/replay) published to the plugin.")),
      batches_acked(r.counter(answers, answers_help, {{"result", "acked"}})),
      batches_refused(r.counter(answers, answers_help, {{"result", "refused"}})),
      batches_unanswered(r.counter(answers, answers_help, {{"result", "unanswered"}})),
      sync_requests_queued(r.gauge("chat_bridge_sync_requests_queued", "Sync requests waiting for the sync thread.")),
      sync_requests(r.counter("chat_bridge_sync_requests_total", "Sync requests received.")),
      sync_requests_served(r.counter("chat_bridge_sync_requests_served_total", "Sync requests replayed to the end.")),
      replay_pages(r.counter("chat_bridge_replay_pages_total", "Replay pages sent (one b/replay batch each).")),
      receipts(r.counter("chat_bridge_receipts_total", "Delivered receipts made from acks.")),
      notices(r.counter("chat_bridge_notices_total", "Membership notice copies sent to members.")),
      pushes_sent(r.counter(pushes, pushes_help, {{"result", "sent"}})),
      pushes_failed(r.counter(pushes, pushes_help, {{"result", "failed"}})),
      pushes_debounced(r.counter(pushes, pushes_help, {{"result", "debounced"}})),
      expired_entries(r.counter("chat_bridge_expired_entries_total", "Entries deleted by expiry and retention.")) {}

}  // namespace chat::bridge
