// Expiry::sweep: repeats each batched delete until a batch comes back short.
#include "expiry.h"

namespace chat::bridge {

Expiry::Expiry(storage::Database& db, int64_t expiry_ms, int64_t retention_ms, int batch)
    : retention_(db), expiry_ms_(expiry_ms), retention_ms_(retention_ms), batch_(batch) {}

int64_t Expiry::sweep(int64_t now_ms, int max_batches) {
    int64_t total = 0;
    auto repeat = [&](auto&& one_batch) {
        for (int i = 0; i < max_batches; ++i) {
            int64_t n = one_batch();
            total += n;
            if (n < batch_) break;
        }
    };
    repeat([&] { return retention_.drop_expired(now_ms, batch_); });
    if (expiry_ms_ > 0) repeat([&] { return retention_.drop_older_than(now_ms - expiry_ms_, batch_); });
    if (retention_ms_ > 0) repeat([&] { return retention_.drop_acked_older_than(now_ms - retention_ms_, batch_); });
    return total;
}

}  // namespace chat::bridge
