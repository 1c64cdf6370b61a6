// Fuzz target: what the sidecar reads from an HTTP request before any service sees it: JSON
// bodies and their typed fields, the integer headers (Upload-Offset, Upload-Length,
// Content-Length), Range (parsed by cpp-httplib today), phone numbers and media/upload ids.
// The input is text: its first line names the parser, the rest is the value. A new parser is
// one more entry in `parsers`.
#include "sidecar/api_error.h"
#include "sidecar/http_util.h"
#include "sidecar/media_store.h"
#include "sidecar/registration_service.h"

#include "common/identity.h"

#include <httplib.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace {

using chat::sidecar::ApiError;

void require(bool ok) {
    if (!ok) std::abort();
}

// Every refusal of a malformed request is a 400 with a message, nothing else escapes.
template <class Parse>
void refused_as_bad_request(Parse&& parse) {
    try {
        parse();
    } catch (const ApiError& e) {
        require(e.status() == 400 && std::string_view(e.what()).size() > 0);
    }
}

// The fields the routes read from JSON bodies (server.cpp), with the types they expect.
void json_body(const std::string& value) {
    httplib::Request req;
    req.body = value;
    refused_as_bad_request([&] {
        auto body = chat::sidecar::json_object_body(req);
        require(body.is_object());
        for (const char* name : {"phone", "code", "identity_key", "name", "user"}) {
            refused_as_bad_request([&] { (void)chat::sidecar::string_field(body, name); });
        }
        refused_as_bad_request([&] { (void)chat::sidecar::bool_field(body, "hidden"); });
        refused_as_bad_request([&] { (void)chat::sidecar::string_array_field(body, "members"); });
    });
}

void integer_headers(const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos) return;  // a header line never holds one
    for (const char* name : {"Upload-Offset", "Upload-Length", "Content-Length"}) {
        httplib::Request req;
        req.set_header(name, value);
        refused_as_bad_request([&] {
            auto n = chat::sidecar::int_header(req, name);
            require(n && *n >= 0);
        });
    }
}

// cpp-httplib parses Range itself and hands the sized content provider (GET /v1/media/{id})
// only what it accepted: each range is first-last, a suffix (-1, n), open-ended (n, -1), or
// (-1, -1) for an empty spec ("bytes=-", which httplib serves as the whole content).
void range_header(const std::string& value) {
    httplib::Ranges ranges;
    if (!httplib::detail::parse_range_header(value, ranges)) return;
    for (const auto& [first, last] : ranges) {
        require(first >= -1 && last >= -1);
        if (first != -1 && last != -1) require(first <= last);
    }
}

void phone(const std::string& value) {
    auto user = chat::sidecar::user_id_from_phone(value);
    if (user) require(chat::is_user_id(*user) && "+" + *user == value);
}

// Ids name files under the media folder: nothing else may pass (no '/', no "..").
void ids(const std::string& value) {
    if (chat::sidecar::is_media_id(value) || chat::sidecar::is_upload_id(value)) {
        require(value.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") == std::string::npos);
    }
}

const std::map<std::string, std::function<void(const std::string&)>, std::less<>> parsers = {
    {"json", json_body}, {"header", integer_headers}, {"range", range_header}, {"phone", phone}, {"id", ids},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t nl = input.find('\n');
    if (nl == input.npos) return 0;
    auto parser = parsers.find(input.substr(0, nl));
    if (parser != parsers.end()) parser->second(std::string(input.substr(nl + 1)));
    return 0;
}
