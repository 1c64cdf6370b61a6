// The plugin's own cost per direct message, measured in-process with no broker and no
// network: what the MESSAGE callback adds on the broker thread, and what the background
// import into the database costs, both in CPU time per message, and the wall time per message
// until everything is imported (on PostgreSQL the server's own CPU is in other processes).
#pragma once

namespace chat::bench {

struct CallbackCost {
    double callback_us = 0;    // ChatBroker::on_message on the calling (broker) thread
    double background_us = 0;  // the other threads: journal import, WAL checkpoints
    double imported_wall_us = 0;  // wall time from the first callback until all rows are imported
};

// `users` users (at least 2), each logged in on one device; message i goes from user i mod
// users to another user picked at random, so inboxes grow in many places at once, as they do
// on a server with many conversations (2 users: every row lands at the same two ends).
CallbackCost measure_callback_cost(int messages, int users);

}  // namespace chat::bench
