// Self-service over a user's own account: who am I, my devices (list, name, revoke, push
// token) and per-conversation settings (mute, archive).
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store.
class AccountService {
public:
    explicit AccountService(StorePool& pool) : pool_(pool) {}

    // {"user","device","client_id","devices":[...]}: what a client needs at start.
    nlohmann::json me(const storage::DeviceRef& self);
    // The user's live devices: [{"device","name","created_ms","online","current"}].
    nlohmann::json devices(const storage::DeviceRef& self);
    // Names one of the user's live devices (1 to 64 bytes); ApiError 400/404.
    void rename_device(const storage::DeviceRef& self, const std::string& device, const std::string& name);
    // Revokes one of the user's live devices (the caller's own included) through the same storage
    // call as `chatctl device revoke`: its token stops working at once and the broker cuts its
    // live sessions. ApiError 404 when it is not a live device of the caller's user.
    void revoke_device(const storage::DeviceRef& self, const std::string& device);
    // Registers a push token for one of the user's live devices: provider fcm|apns|webpush|webhook,
    // token 1 to 4096 bytes, app_id (the gateway's routing key) default "chat.{provider}".
    void set_push(const storage::DeviceRef& self, const std::string& device, const nlohmann::json& body, int64_t now_ms);
    void remove_push(const storage::DeviceRef& self, const std::string& device);
    // Mute/archive of one conversation (a group id or another user's id); body {"muted"?, "archived"?}.
    nlohmann::json update_conversation(const storage::DeviceRef& self, const std::string& conversation,
                                       const nlohmann::json& body);
    // {"conversations":[{"conversation","muted","archived"}]}: those not at the defaults.
    nlohmann::json conversations(const storage::DeviceRef& self);

private:
    StorePool& pool_;
};

}  // namespace chat::sidecar
