// The plugin's own cost per direct message, measured in-process with no broker and no
// network: what the MESSAGE callback adds on the broker thread, and what the background
// import into SQLite costs, both in CPU time per message.
#pragma once

namespace chat::bench {

struct CallbackCost {
    double callback_us = 0;    // ChatBroker::on_message on the calling (broker) thread
    double background_us = 0;  // the other threads: journal import, WAL checkpoints
};

CallbackCost measure_callback_cost(int messages);

}  // namespace chat::bench
