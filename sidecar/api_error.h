// The one exception type sidecar services throw to refuse a request: an HTTP status plus a JSON error body.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace chat::sidecar {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, const std::string& message, nlohmann::json extra = nlohmann::json::object(),
             std::vector<std::pair<std::string, std::string>> headers = {})
        : std::runtime_error(message), status_(status), extra_(std::move(extra)), headers_(std::move(headers)) {}

    int status() const { return status_; }
    // {"error": message} plus any extra fields (e.g. attempts_left, offset).
    nlohmann::json body() const {
        nlohmann::json j = extra_;
        j["error"] = what();
        return j;
    }
    const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

private:
    int status_;
    nlohmann::json extra_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace chat::sidecar
