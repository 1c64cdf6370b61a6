// Sidecar routes: each handler parses the request, calls one service method, and maps the result.
#include "server.h"

#include "account_service.h"
#include "api_error.h"
#include "broadcast_service.h"
#include "byte_range.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/periodic.h"
#include "directory_service.h"
#include "group_service.h"
#include "home_service.h"
#include "http_server.h"
#include "http_util.h"
#include "media_store.h"
#include "storage/backup.h"
#include "profile_service.h"
#include "prekey_service.h"
#include "quotas.h"
#include "registration_service.h"
#include "store_pool.h"
#include "turn_credentials.h"
#include "common/secret_file.h"

#include <httplib.h>

#include <stdexcept>

namespace chat::sidecar {
namespace {

using httplib::ContentReader;
using httplib::Request;
using httplib::Response;
using nlohmann::json;

std::unique_ptr<SmsSender> make_sms_sender(const SidecarConfig& c) {
    if (!c.sms_webhook.empty()) return std::make_unique<WebhookSender>(c.sms_webhook);
    return std::make_unique<OutboxFileSender>(c.data_dir / "sms-outbox.log");
}

const char* generic_message(int status) {
    switch (status) {
        case 400: return "bad request";
        case 404: return "not found";
        case 405: return "method not allowed";
        case 413: return "payload too large";
        case 416: return "range not satisfiable";
        default: return "error";
    }
}

// Creates the data folder before anything opens files in it.
SidecarConfig with_data_dir(SidecarConfig c) {
    std::filesystem::create_directories(c.data_dir);
    return c;
}

bool is_streamed_path(const std::string& path) {
    return path.rfind("/v1/media", 0) == 0 || path.rfind("/v1/uploads/", 0) == 0;
}

BodyReader body_reader(const ContentReader& reader) {
    return [&reader](std::function<bool(const char*, size_t)> sink) { return reader(std::move(sink)); };
}

ListenerOptions listener_options(const SidecarConfig& c) {
    ListenerOptions o;
    o.threads = c.threads;
    o.header_timeout_s = c.header_timeout_s;
    o.idle_timeout_s = c.idle_timeout_s;
    o.read_timeout_s = c.read_timeout_s;
    o.write_timeout_s = c.read_timeout_s;
    o.max_connections_per_address = c.max_connections_per_address;
    o.tls_cert = c.tls_cert;
    o.tls_key = c.tls_key;
    o.long_body = is_streamed_path;
    return o;
}

// Serves bytes [first, first + length) of an open blob without reading it into memory.
void serve_blob_bytes(Response& res, const BlobFile& blob, int64_t first, int64_t length) {
    res.set_content_provider(
        static_cast<size_t>(length), "application/octet-stream",
        [file = blob.fd, first](size_t offset, size_t want, httplib::DataSink& sink) {
            std::vector<char> buf(std::min<size_t>(want, 1 << 16));
            size_t n = read_at(*file, buf.data(), buf.size(), first + static_cast<int64_t>(offset));
            return n > 0 && sink.write(buf.data(), n);
        });
}

}  // namespace

struct Sidecar::Impl {
    explicit Impl(SidecarConfig c, std::unique_ptr<SmsSender> sms_override)
        : config(with_data_dir(std::move(c))),
          sms(sms_override ? std::move(sms_override) : make_sms_sender(config)),
          in_use(config.database()),
          pool(config.database()),
          registration(pool, *sms, metrics, config),
          directory(pool),
          prekeys(pool),
          groups(pool),
          lists(pool),
          accounts(pool),
          profiles(pool),
          homes(pool, config.cluster),
          media(config.data_dir, pool, metrics, config.max_media_bytes),
          quotas(config, metrics),
          metrics_token_hash(config.metrics_token.empty() ? std::string() : hash_token(config.metrics_token)),
          turn_secret(config.turn_secret_file.empty() ? std::string() : read_secret_file(config.turn_secret_file)),
          server(listener_options(config)) {
        routes();
    }

    // Runs a handler, turning ApiError (and anything unexpected) into a JSON error, and counts it.
    void handle(const char* route, const Request& req, Response& res, const std::function<void()>& fn) {
        try {
            fn();
        } catch (const ApiError& e) {
            for (const auto& [k, v] : e.headers()) res.set_header(k, v);
            send_json(res, e.status(), e.body());
        } catch (const std::exception& e) {
            log::log(log::Level::error, "request_failed", {{"method", req.method}, {"path", req.path}, {"error", e.what()}});
            send_json(res, 500, {{"error", "internal error"}});
        }
        metrics.request(route, res.status == -1 ? 200 : res.status);
    }

    httplib::Server::Handler wrap(const char* route, std::function<void(const Request&, Response&)> f) {
        return [this, route, f](const Request& req, Response& res) { handle(route, req, res, [&] { f(req, res); }); };
    }

    httplib::Server::HandlerWithContentReader wrap_reader(
        const char* route, std::function<void(const Request&, Response&, const ContentReader&)> f) {
        return [this, route, f](const Request& req, Response& res, const ContentReader& reader) {
            handle(route, req, res, [&] { f(req, res, reader); });
        };
    }

    storage::DeviceRef auth(const Request& req) { return directory.authenticate(req.get_header_value("Authorization")); }
    // auth() plus the look-up limit of the device.
    storage::DeviceRef lookup_auth(const Request& req) {
        auto self = auth(req);
        quotas.lookup(self.user + "/" + self.device, now_ms());
        return self;
    }

    void routes();
    void registration_routes();
    void social_routes();
    void media_routes();
    void call_routes();
    void list_routes();
    void self_routes();

    SidecarConfig config;
    Metrics metrics;
    std::unique_ptr<SmsSender> sms;
    storage::InUseLock in_use;  // chatctl restore refuses while this is held
    StorePool pool;
    RegistrationService registration;
    DirectoryService directory;
    PrekeyService prekeys;
    GroupService groups;
    BroadcastService lists;
    AccountService accounts;
    ProfileService profiles;
    HomeService homes;
    MediaStore media;
    Quotas quotas;
    std::string metrics_token_hash;  // empty = loopback peers only
    std::string turn_secret;         // shared with the TURN relay; empty = none configured
    HttpServer server;
    std::unique_ptr<Periodic> upload_sweeper;
};

void Sidecar::Impl::routes() {
    server.set_payload_max_length(static_cast<size_t>(config.max_media_bytes));
    // Refuse oversized JSON bodies from their Content-Length before httplib reads them into memory.
    server.set_pre_routing_handler([this](const Request& req, Response& res) {
        if (is_streamed_path(req.path) || !req.has_header("Content-Length")) return httplib::Server::HandlerResponse::Unhandled;
        std::optional<int64_t> len;
        try {
            len = int_header(req, "Content-Length");
        } catch (const ApiError&) {
            return httplib::Server::HandlerResponse::Unhandled;  // httplib refuses a malformed length itself
        }
        if (!len || *len <= config.max_json_bytes) return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Connection", "close");
        send_json(res, 413, {{"error", "request body larger than " + std::to_string(config.max_json_bytes) + " bytes"}});
        metrics.request("oversized", 413);
        return httplib::Server::HandlerResponse::Handled;
    });
    // Responses httplib makes itself (unknown route, unreadable request) get a JSON body too.
    server.set_error_handler([this](const Request&, Response& res) {
        if (!res.body.empty()) return;
        send_json(res, res.status, {{"error", generic_message(res.status)}});
        metrics.request("unmatched", res.status);
    });

    server.Get("/healthz", wrap("/healthz", [this](const Request&, Response& res) {
        pool.lease()->db.exec("SELECT 1");
        send_json(res, 200, {{"status", "ok"}});
    }));
    server.Get("/metrics", wrap("/metrics", [this](const Request& req, Response& res) {
        // Traffic and registration figures: not for everyone on the internet.
        require_metrics_access(req.remote_addr, req.get_header_value("Authorization"), metrics_token_hash);
        res.set_content(metrics.render(), "text/plain; version=0.0.4");
    }));
    registration_routes();
    social_routes();
    media_routes();
    call_routes();
    list_routes();
    self_routes();
}

void Sidecar::Impl::list_routes() {
    server.Post("/v1/lists", wrap("/v1/lists", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto body = json_object_body(req);
        auto name = string_field(body, "name");
        auto members = body.contains("members") ? string_array_field(body, "members") : std::vector<std::string>{};
        send_json(res, 201, {{"id", lists.create(self.user, name, members, now_ms())}});
    }));
    server.Get("/v1/lists", wrap("/v1/lists", [this](const Request& req, Response& res) {
        send_json(res, 200, lists.lists(auth(req).user));
    }));
    server.Get("/v1/lists/([^/]+)", wrap("/v1/lists/{list}", [this](const Request& req, Response& res) {
        send_json(res, 200, lists.get(auth(req).user, req.matches[1]));
    }));
    server.Delete("/v1/lists/([^/]+)", wrap("/v1/lists/{list}", [this](const Request& req, Response& res) {
        lists.remove(auth(req).user, req.matches[1]);
        res.status = 204;
    }));
    server.Post("/v1/lists/([^/]+)/members", wrap("/v1/lists/{list}/members", [this](const Request& req, Response& res) {
        auto self = auth(req);
        lists.add_member(self.user, req.matches[1], string_field(json_object_body(req), "user"));
        res.status = 204;
    }));
    server.Delete("/v1/lists/([^/]+)/members/([^/]+)",
                  wrap("/v1/lists/{list}/members/{user}", [this](const Request& req, Response& res) {
                      lists.remove_member(auth(req).user, req.matches[1], req.matches[2]);
                      res.status = 204;
                  }));
}

void Sidecar::Impl::call_routes() {
    server.Get("/v1/turn", wrap("/v1/turn", [this](const Request& req, Response& res) {
        auto self = auth(req);
        if (turn_secret.empty()) throw ApiError(503, "no TURN relay configured");
        auto c = turn_credentials(turn_secret, self.user, now_ms() / 1000, config.turn_ttl_s);
        res.set_header("Cache-Control", "no-store");
        send_json(res, 200, {{"username", c.username}, {"password", c.password}, {"ttl", c.ttl_s}, {"uris", config.turn_uris}});
    }));
}

void Sidecar::Impl::self_routes() {
    server.Get("/v1/me", wrap("/v1/me", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto me = accounts.me(self);
        if (homes.enabled()) me["node"] = homes.home(self.user, now_ms());
        send_json(res, 200, me);
    }));
    server.Get("/v1/devices", wrap("/v1/devices", [this](const Request& req, Response& res) {
        send_json(res, 200, {{"devices", accounts.devices(auth(req))}});
    }));
    server.Patch("/v1/devices/([^/]+)", wrap("/v1/devices/{id}", [this](const Request& req, Response& res) {
        auto self = auth(req);
        accounts.rename_device(self, req.matches[1], string_field(json_object_body(req), "name"));
        res.status = 204;
    }));
    server.Delete("/v1/devices/([^/]+)", wrap("/v1/devices/{id}", [this](const Request& req, Response& res) {
        accounts.revoke_device(auth(req), req.matches[1]);
        res.status = 204;
    }));
    server.Put("/v1/devices/([^/]+)/push", wrap("/v1/devices/{id}/push", [this](const Request& req, Response& res) {
        auto self = auth(req);
        accounts.set_push(self, req.matches[1], json_object_body(req), now_ms());
        res.status = 204;
    }));
    server.Delete("/v1/devices/([^/]+)/push", wrap("/v1/devices/{id}/push", [this](const Request& req, Response& res) {
        accounts.remove_push(auth(req), req.matches[1]);
        res.status = 204;
    }));
    server.Get("/v1/profile", wrap("/v1/profile", [this](const Request& req, Response& res) {
        send_json(res, 200, profiles.own(auth(req)));
    }));
    server.Put("/v1/profile", wrap("/v1/profile", [this](const Request& req, Response& res) {
        auto self = auth(req);
        send_json(res, 200, profiles.update(self, json_object_body(req), now_ms()));
    }));
    server.Get("/v1/users/([^/]+)/profile", wrap("/v1/users/{user}/profile", [this](const Request& req, Response& res) {
        send_json(res, 200, profiles.view(lookup_auth(req), req.matches[1]));
    }));
    server.Post("/v1/contacts/discover", wrap("/v1/contacts/discover", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto phones = string_array_field(json_object_body(req), "phones");
        DirectoryService::phone_users(phones);  // bad input is refused before it counts
        quotas.discover(self.user + "/" + self.device, static_cast<int64_t>(phones.size()), now_ms());
        send_json(res, 200, directory.discover(phones));
    }));
    server.Get("/v1/conversations", wrap("/v1/conversations", [this](const Request& req, Response& res) {
        send_json(res, 200, accounts.conversations(auth(req)));
    }));
    server.Put("/v1/conversations/([^/]+)", wrap("/v1/conversations/{id}", [this](const Request& req, Response& res) {
        auto self = auth(req);
        send_json(res, 200, accounts.update_conversation(self, req.matches[1], json_object_body(req)));
    }));
}

void Sidecar::Impl::registration_routes() {
    server.Post("/v1/register", wrap("/v1/register", [this](const Request& req, Response& res) {
        auto body = json_object_body(req);
        registration.request_code(string_field(body, "phone"), req.remote_addr, now_ms());
        send_json(res, 202, {{"status", "code sent"}});
    }));
    server.Post("/v1/verify", wrap("/v1/verify", [this](const Request& req, Response& res) {
        auto body = json_object_body(req);
        auto phone = string_field(body, "phone");  // fields in order, so the error names the first bad one
        auto code = string_field(body, "code");
        homes.require_live_node(now_ms());  // before the code is spent
        auto c = registration.verify(phone, code, req.remote_addr, now_ms());
        json answer = {{"user", c.user}, {"device", c.device}, {"token", c.token}, {"client_id", c.client_id()}};
        // Left out only if the last node died this very moment: the credentials stand, GET /v1/me tells.
        if (homes.enabled()) {
            if (auto node = homes.live_home(c.user, now_ms())) answer["node"] = *node;
        }
        send_json(res, 200, answer);
    }));
}

void Sidecar::Impl::social_routes() {
    server.Put("/v1/keys", wrap("/v1/keys", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto answer = prekeys.put(self, json_object_body(req), now_ms());
        if (answer) {
            send_json(res, 200, *answer);
        } else {
            res.status = 204;
        }
    }));
    server.Get("/v1/keys", wrap("/v1/keys", [this](const Request& req, Response& res) {
        send_json(res, 200, prekeys.status(auth(req)));
    }));
    // Bundles hand out one-time prekeys, which is how an attacker would drain them: rate limited.
    server.Get("/v1/keys/([^/]+)", wrap("/v1/keys/{user}", [this](const Request& req, Response& res) {
        send_json(res, 200, prekeys.bundles(lookup_auth(req), req.matches[1], req.get_param_value("known")));
    }));
    server.Post("/v1/groups", wrap("/v1/groups", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto body = json_object_body(req);
        auto name = string_field(body, "name");
        auto members = body.contains("members") ? string_array_field(body, "members") : std::vector<std::string>{};
        quotas.create_group(self.user, now_ms());
        send_json(res, 201, {{"id", groups.create(self.user, name, members, now_ms())}});
    }));
    server.Get("/v1/groups", wrap("/v1/groups", [this](const Request& req, Response& res) {
        send_json(res, 200, groups.list(auth(req).user));
    }));
    server.Patch("/v1/groups/([^/]+)", wrap("/v1/groups/{gid}", [this](const Request& req, Response& res) {
        auto self = auth(req);
        groups.update(self.user, req.matches[1], json_object_body(req), now_ms());
        res.status = 204;
    }));
    server.Put("/v1/groups/([^/]+)/admins/([^/]+)", wrap("/v1/groups/{gid}/admins/{user}", [this](const Request& req, Response& res) {
        groups.set_admin(auth(req).user, req.matches[1], req.matches[2], true, now_ms());
        res.status = 204;
    }));
    server.Delete("/v1/groups/([^/]+)/admins/([^/]+)",
                  wrap("/v1/groups/{gid}/admins/{user}", [this](const Request& req, Response& res) {
                      groups.set_admin(auth(req).user, req.matches[1], req.matches[2], false, now_ms());
                      res.status = 204;
                  }));
    server.Get("/v1/groups/([^/]+)", wrap("/v1/groups/{gid}", [this](const Request& req, Response& res) {
        send_json(res, 200, groups.get(auth(req).user, req.matches[1]));
    }));
    server.Post("/v1/groups/([^/]+)/members", wrap("/v1/groups/{gid}/members", [this](const Request& req, Response& res) {
        auto self = auth(req);
        groups.add_member(self.user, req.matches[1], string_field(json_object_body(req), "user"));
        res.status = 204;
    }));
    server.Delete("/v1/groups/([^/]+)/members/([^/]+)",
                  wrap("/v1/groups/{gid}/members/{user}", [this](const Request& req, Response& res) {
                      groups.remove_member(auth(req).user, req.matches[1], req.matches[2]);
                      res.status = 204;
                  }));
    server.Put("/v1/blocks/([^/]+)", wrap("/v1/blocks/{user}", [this](const Request& req, Response& res) {
        directory.block(auth(req), req.matches[1]);
        res.status = 204;
    }));
    server.Delete("/v1/blocks/([^/]+)", wrap("/v1/blocks/{user}", [this](const Request& req, Response& res) {
        directory.unblock(auth(req), req.matches[1]);
        res.status = 204;
    }));
    server.Get("/v1/users/([^/]+)/presence", wrap("/v1/users/{user}/presence", [this](const Request& req, Response& res) {
        send_json(res, 200, directory.presence(lookup_auth(req), req.matches[1]));
    }));
    server.Put("/v1/presence", wrap("/v1/presence", [this](const Request& req, Response& res) {
        auto self = auth(req);
        directory.set_hide_presence(self, bool_field(json_object_body(req), "hidden"));
        res.status = 204;
    }));
}

void Sidecar::Impl::media_routes() {
    server.Post("/v1/media", wrap_reader("/v1/media", [this](const Request& req, Response& res, const ContentReader& reader) {
        // The unread body of a refused upload must not be parsed as a next request.
        res.set_header("Connection", "close");
        auto self = auth(req);
        auto declared = int_header(req, "Content-Length");
        if (declared && *declared > media.max_bytes()) {
            throw ApiError(413, "media larger than " + std::to_string(media.max_bytes()) + " bytes");
        }
        quotas.check_media_bytes(self.user, declared.value_or(1), now_ms());
        auto in_flight = quotas.begin_upload(self.user);
        auto blob = media.put(body_reader(reader), now_ms());
        res.headers.erase("Connection");
        quotas.add_media_bytes(self.user, blob.size, now_ms());
        send_json(res, 201, {{"id", blob.id}, {"size", blob.size}, {"deduplicated", blob.deduplicated}});
    }));
    // Also answers HEAD (httplib routes HEAD to GET handlers): a client can skip uploading known content.
    server.Get("/v1/media/(.+)", wrap("/v1/media/{id}", [this](const Request& req, Response& res) {
        auth(req);
        auto blob = media.open(req.matches[1]);
        res.set_header("Accept-Ranges", "bytes");
        auto range = answer_range(req.get_header_value("Range"), blob.size);
        std::string size = std::to_string(blob.size);
        switch (range.kind) {
            case RangeAnswer::Kind::whole:
                res.status = 200;
                serve_blob_bytes(res, blob, 0, blob.size);
                break;
            case RangeAnswer::Kind::partial:
                res.status = 206;
                res.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                    std::to_string(range.first + range.length - 1) + "/" + size);
                serve_blob_bytes(res, blob, range.first, range.length);
                break;
            case RangeAnswer::Kind::unsatisfiable:
                throw ApiError(416, "range not satisfiable", {{"size", blob.size}}, {{"Content-Range", "bytes */" + size}});
        }
    }));
    server.Post("/v1/uploads", wrap("/v1/uploads", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto length = int_header(req, "Upload-Length");
        if (!length) throw ApiError(400, "header Upload-Length is required");
        if (*length > media.max_bytes()) throw ApiError(413, "media larger than " + std::to_string(media.max_bytes()) + " bytes");
        quotas.reserve_media_bytes(self.user, *length, now_ms());
        auto id = media.create_upload(self.user, *length, now_ms());
        res.set_header("Location", "/v1/uploads/" + id);
        res.set_header("Upload-Offset", "0");
        send_json(res, 201, {{"id", id}, {"offset", 0}, {"length", *length}});
    }));
    server.Get("/v1/uploads/([^/]+)", wrap("/v1/uploads/{id}", [this](const Request& req, Response& res) {
        auto status = media.upload_status(auth(req).user, req.matches[1]);
        res.set_header("Upload-Offset", std::to_string(status.offset));
        res.set_header("Upload-Length", std::to_string(status.length));
        res.set_header("Cache-Control", "no-store");
        json body = {{"offset", status.offset}, {"length", status.length}};
        if (status.media_id) {
            res.set_header("Media-Id", *status.media_id);
            body["media_id"] = *status.media_id;
        }
        send_json(res, 200, body);
    }));
    server.Patch("/v1/uploads/([^/]+)",
                 wrap_reader("/v1/uploads/{id}", [this](const Request& req, Response& res, const ContentReader& reader) {
                     auto self = auth(req);
                     auto offset = int_header(req, "Upload-Offset");
                     if (!offset) throw ApiError(400, "header Upload-Offset is required");
                     auto in_flight = quotas.begin_upload(self.user);
                     auto status = media.append(self.user, req.matches[1], *offset, int_header(req, "Content-Length"),
                                                body_reader(reader), now_ms());
                     res.set_header("Upload-Offset", std::to_string(status.offset));
                     if (!status.body_complete) throw ApiError(400, "chunk ended early", {{"offset", status.offset}});
                     if (status.media_id) {
                         send_json(res, 201, {{"id", *status.media_id}, {"size", status.length}, {"offset", status.offset}});
                     } else {
                         send_json(res, 200, {{"offset", status.offset}, {"length", status.length}});
                     }
                 }));
}

Sidecar::Sidecar(SidecarConfig config, std::unique_ptr<SmsSender> sms)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(sms))) {}

Sidecar::~Sidecar() { stop(); }

int Sidecar::start() {
    int port = impl_->server.start(impl_->config.host, impl_->config.port);
    impl_->upload_sweeper = std::make_unique<Periodic>(
        std::chrono::milliseconds(impl_->config.sweep_interval_ms), [impl = impl_.get()] {
            try {
                impl->media.sweep_uploads(now_ms(), impl->config.upload_ttl_ms);
            } catch (const std::exception& e) {
                log::log(log::Level::error, "upload_sweep_failed", {{"error", e.what()}});
            }
        });
    return port;
}

void Sidecar::stop() {
    impl_->upload_sweeper.reset();
    impl_->server.stop();
}

Metrics& Sidecar::metrics() { return impl_->metrics; }
const SidecarConfig& Sidecar::config() const { return impl_->config; }

}  // namespace chat::sidecar
