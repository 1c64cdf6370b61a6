// A strict reader of Prometheus text (format 0.0.4) for tests: every process's /metrics must parse.
#pragma once

#include <map>
#include <string>

namespace chat::testing {

// Samples by series, e.g. `chat_broker_refusals_total{reason="block"}` -> 1. Throws
// std::runtime_error naming the line when a line is not a comment, HELP/TYPE or a sample, a
// sample has no TYPE before it, or a series appears twice.
std::map<std::string, double> parse_prometheus(const std::string& text);

// The sample's value, 0 when the series is absent.
double sample(const std::map<std::string, double>& samples, const std::string& series);

// GET http://127.0.0.1:port/metrics, parsed; throws when it does not answer 200.
std::map<std::string, double> scrape(int port);

}  // namespace chat::testing
