// Turns off Nagle's algorithm on the bridge's MQTT connection, which Paho C leaves on and does
// not expose. Without it a batch publish that follows Paho's automatic PUBACK waits for the
// broker's delayed ACK (~40 ms), which was most of the fan-out latency to small groups.
#pragma once

namespace chat::bridge {

// Sets TCP_NODELAY on every TCP socket of this process whose peer port is `port`; returns how
// many. Harmless to repeat (call again after a reconnect) and safe from any thread.
int set_nodelay_to_port(int port);

}  // namespace chat::bridge
