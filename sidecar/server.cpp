// Sidecar routes: each handler parses the request, calls one service method, and maps the result.
#include "server.h"

#include "api_error.h"
#include "common/identity.h"
#include "common/periodic.h"
#include "directory_service.h"
#include "group_service.h"
#include "http_util.h"
#include "media_store.h"
#include "registration_service.h"
#include "store_pool.h"

#include <httplib.h>

#include <sys/socket.h>

#include <iostream>
#include <stdexcept>
#include <thread>

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

}  // namespace

struct Sidecar::Impl {
    explicit Impl(SidecarConfig c, std::unique_ptr<SmsSender> sms_override)
        : config(with_data_dir(std::move(c))),
          sms(sms_override ? std::move(sms_override) : make_sms_sender(config)),
          pool(config.database().string()),
          registration(pool, *sms, metrics, config),
          directory(pool),
          groups(pool),
          media(config.data_dir, pool, metrics, config.max_media_bytes) {
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
            std::cerr << "chat-sidecar: " << req.method << ' ' << req.path << ": " << e.what() << '\n';
            send_json(res, 500, {{"error", "internal error"}});
        }
        metrics.request(route, res.status == -1 ? (req.ranges.empty() ? 200 : 206) : res.status);
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

    void routes();
    void registration_routes();
    void social_routes();
    void media_routes();

    SidecarConfig config;
    Metrics metrics;
    std::unique_ptr<SmsSender> sms;
    StorePool pool;
    RegistrationService registration;
    DirectoryService directory;
    GroupService groups;
    MediaStore media;
    httplib::Server server;
    socket_t listen_socket = INVALID_SOCKET;
    std::thread thread;
    std::unique_ptr<Periodic> upload_sweeper;
};

void Sidecar::Impl::routes() {
    // httplib listens with a backlog of 5, so a burst of new connections overflows it and waits
    // for a 1 s SYN retry. Remember the listening socket so start() can widen the backlog.
    server.set_socket_options([this](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_socket = sock;
    });
    server.new_task_queue = [n = config.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    server.set_read_timeout(config.read_timeout_s, 0);
    server.set_keep_alive_max_count(1000);
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
    server.Get("/metrics", wrap("/metrics", [this](const Request&, Response& res) {
        res.set_content(metrics.render(), "text/plain; version=0.0.4");
    }));
    registration_routes();
    social_routes();
    media_routes();
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
        auto c = registration.verify(phone, code, req.remote_addr, now_ms());
        send_json(res, 200, {{"user", c.user}, {"device", c.device}, {"token", c.token}, {"client_id", c.client_id()}});
    }));
}

void Sidecar::Impl::social_routes() {
    server.Put("/v1/keys", wrap("/v1/keys", [this](const Request& req, Response& res) {
        auto self = auth(req);
        directory.put_key(self, string_field(json_object_body(req), "identity_key"));
        res.status = 204;
    }));
    server.Get("/v1/keys/([^/]+)", wrap("/v1/keys/{user}", [this](const Request& req, Response& res) {
        auth(req);
        send_json(res, 200, directory.keys_of(req.matches[1]));
    }));
    server.Post("/v1/groups", wrap("/v1/groups", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto body = json_object_body(req);
        auto name = string_field(body, "name");
        auto members = body.contains("members") ? string_array_field(body, "members") : std::vector<std::string>{};
        send_json(res, 201, {{"id", groups.create(self.user, name, members, now_ms())}});
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
        send_json(res, 200, directory.presence(auth(req), req.matches[1]));
    }));
    server.Put("/v1/presence", wrap("/v1/presence", [this](const Request& req, Response& res) {
        auto self = auth(req);
        directory.set_hide_presence(self, bool_field(json_object_body(req), "hidden"));
        res.status = 204;
    }));
}

void Sidecar::Impl::media_routes() {
    server.Post("/v1/media", wrap_reader("/v1/media", [this](const Request& req, Response& res, const ContentReader& reader) {
        auth(req);
        auto declared = int_header(req, "Content-Length");
        if (declared && *declared > media.max_bytes()) {
            res.set_header("Connection", "close");  // the unread body must not be parsed as a next request
            throw ApiError(413, "media larger than " + std::to_string(media.max_bytes()) + " bytes");
        }
        auto blob = media.put(body_reader(reader), now_ms());
        send_json(res, 201, {{"id", blob.id}, {"size", blob.size}, {"deduplicated", blob.deduplicated}});
    }));
    // Also answers HEAD (httplib routes HEAD to GET handlers): a client can skip uploading known content.
    server.Get("/v1/media/(.+)", wrap("/v1/media/{id}", [this](const Request& req, Response& res) {
        auth(req);
        auto blob = media.open(req.matches[1]);
        // A sized provider lets httplib answer Range requests with 206 and only the requested bytes.
        res.set_content_provider(
            static_cast<size_t>(blob.size), "application/octet-stream",
            [file = blob.fd](size_t offset, size_t length, httplib::DataSink& sink) {
                std::vector<char> buf(std::min<size_t>(length, 1 << 16));
                size_t n = read_at(*file, buf.data(), buf.size(), static_cast<int64_t>(offset));
                return n > 0 && sink.write(buf.data(), n);
            });
    }));
    server.Post("/v1/uploads", wrap("/v1/uploads", [this](const Request& req, Response& res) {
        auto self = auth(req);
        auto length = int_header(req, "Upload-Length");
        if (!length) throw ApiError(400, "header Upload-Length is required");
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
    auto& s = impl_->server;
    int port = impl_->config.port == 0 ? s.bind_to_any_port(impl_->config.host)
                                       : (s.bind_to_port(impl_->config.host, impl_->config.port) ? impl_->config.port : -1);
    if (port <= 0) throw std::runtime_error("cannot bind " + impl_->config.host + ":" + std::to_string(impl_->config.port));
    ::listen(impl_->listen_socket, SOMAXCONN);  // listen() again on a listening socket sets the new backlog
    impl_->thread = std::thread([&s] { s.listen_after_bind(); });
    impl_->upload_sweeper = std::make_unique<Periodic>(
        std::chrono::milliseconds(impl_->config.sweep_interval_ms), [impl = impl_.get()] {
            try {
                impl->media.sweep_uploads(now_ms(), impl->config.upload_ttl_ms);
            } catch (const std::exception& e) {
                std::cerr << "chat-sidecar: upload sweep failed: " << e.what() << "\n";
            }
        });
    // stop() is a no-op until the server runs, so do not hand out the port before it does.
    while (!s.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port;
}

void Sidecar::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->upload_sweeper.reset();
    impl_->server.stop();
    impl_->thread.join();
}

Metrics& Sidecar::metrics() { return impl_->metrics; }
const SidecarConfig& Sidecar::config() const { return impl_->config; }

}  // namespace chat::sidecar
