// PahoPublisher: QoS 1 publishes, their acks awaited in windows and at flush().
#include "paho_publisher.h"

#include "common/log.h"

#include <algorithm>

namespace chat::bridge {

void PahoPublisher::publish(const std::string& topic, std::string payload, int64_t expires_ms) {
    auto msg = mqtt::make_message(topic, std::move(payload), 1, false);
    if (expires_ms > 0) {
        int64_t left_s = std::max<int64_t>(1, (expires_ms - clock_() + 999) / 1000);
        mqtt::properties props;
        props.add(mqtt::property(mqtt::property::MESSAGE_EXPIRY_INTERVAL, static_cast<int>(left_s)));
        msg->set_properties(props);
    }
    pending_.push_back(client_.publish(msg));
    metrics_.batches_sent.inc();
    if (pending_.size() >= window_) earlier_ = worse(earlier_, wait_pending());
}

Acks PahoPublisher::flush() {
    Acks acks = worse(wait_pending(), earlier_);
    earlier_ = Acks::all;
    return acks;
}

Acks PahoPublisher::wait_pending() {
    Acks acks = Acks::all;
    for (auto& t : pending_) {
        try {
            if (t->wait_for(std::chrono::seconds(10))) {
                metrics_.batches_acked.inc();
            } else {
                metrics_.batches_unanswered.inc();
                acks = Acks::missing;
            }
        } catch (const mqtt::exception& e) {
            log::log(log::Level::warning, "batch_not_acknowledged", {{"error", e.what()}});
            // A reason code is the broker's answer; without one the connection failed.
            bool refused = e.get_reason_code() >= 0x80;
            (refused ? metrics_.batches_refused : metrics_.batches_unanswered).inc();
            acks = worse(acks, refused ? Acks::refused : Acks::missing);
        }
    }
    pending_.clear();
    return acks;
}

}  // namespace chat::bridge
