// AccountService over storage::Accounts: the device list, names and revocation.
#include "account_service.h"

#include "api_error.h"
#include "common/identity.h"
#include "http_util.h"

#include <optional>

namespace chat::sidecar {
namespace {

void require_device_id(const std::string& device) {
    if (!is_device_id(device)) throw ApiError(400, "bad device id");
}

void require_live_device(Store& store, const std::string& user, const std::string& device) {
    require_device_id(device);
    auto row = store.accounts.find_device(user, device);
    if (!row || row->revoked) throw ApiError(404, "no such device");
}

std::optional<bool> optional_bool(const nlohmann::json& body, const char* name) {
    if (!body.contains(name)) return std::nullopt;
    if (!body[name].is_boolean()) throw ApiError(400, std::string("field '") + name + "' must be true or false");
    return body[name].get<bool>();
}

}  // namespace

nlohmann::json AccountService::devices(const storage::DeviceRef& self) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : pool_.lease()->accounts.list_devices(self.user)) {
        if (d.revoked) continue;
        out.push_back({{"device", d.device},
                       {"name", d.name.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.name)},
                       {"created_ms", d.created_ms},
                       {"online", d.online},
                       {"current", d.device == self.device}});
    }
    return out;
}

nlohmann::json AccountService::me(const storage::DeviceRef& self) {
    return {{"user", self.user},
            {"device", self.device},
            {"client_id", self.user + "/" + self.device},
            {"devices", devices(self)}};
}

void AccountService::rename_device(const storage::DeviceRef& self, const std::string& device,
                                   const std::string& name) {
    require_device_id(device);
    if (name.empty() || name.size() > 64) throw ApiError(400, "name must be 1 to 64 bytes");
    if (!pool_.lease()->accounts.set_device_name(self.user, device, name)) throw ApiError(404, "no such device");
}

void AccountService::revoke_device(const storage::DeviceRef& self, const std::string& device) {
    require_device_id(device);
    if (!pool_.lease()->accounts.revoke_device(self.user, device)) throw ApiError(404, "no such device");
}

void AccountService::set_push(const storage::DeviceRef& self, const std::string& device, const nlohmann::json& body,
                              int64_t now_ms) {
    storage::PushTarget token;
    token.provider = string_field(body, "provider");
    token.pushkey = string_field(body, "token");
    token.app_id = body.contains("app_id") ? string_field(body, "app_id") : "chat." + token.provider;
    if (token.provider != "fcm" && token.provider != "apns" && token.provider != "webpush" &&
        token.provider != "webhook") {
        throw ApiError(400, "provider must be fcm, apns, webpush or webhook");
    }
    if (token.pushkey.empty() || token.pushkey.size() > 4096) throw ApiError(400, "token must be 1 to 4096 bytes");
    if (token.app_id.empty() || token.app_id.size() > 64) throw ApiError(400, "app_id must be 1 to 64 bytes");
    auto store = pool_.lease();
    require_live_device(*store, self.user, device);
    storage::Transaction tx(store->db);
    store->push_tokens.put(self.user, device, token, now_ms);
    tx.commit();
}

void AccountService::remove_push(const storage::DeviceRef& self, const std::string& device) {
    auto store = pool_.lease();
    require_live_device(*store, self.user, device);
    if (!store->push_tokens.remove(self.user, device)) throw ApiError(404, "no push token for this device");
}

nlohmann::json AccountService::update_conversation(const storage::DeviceRef& self, const std::string& conversation,
                                                   const nlohmann::json& body) {
    if (!(is_group_id(conversation) || is_user_id(conversation)) || conversation == self.user) {
        throw ApiError(400, "a conversation is a group id or another user's id");
    }
    auto muted = optional_bool(body, "muted");
    auto archived = optional_bool(body, "archived");
    if (!muted && !archived) throw ApiError(400, "give muted and/or archived");
    auto s = pool_.lease()->conversations.update(self.user, conversation, muted, archived);
    return {{"conversation", s.conversation}, {"muted", s.muted}, {"archived", s.archived}};
}

nlohmann::json AccountService::conversations(const storage::DeviceRef& self) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : pool_.lease()->conversations.list(self.user)) {
        out.push_back({{"conversation", s.conversation}, {"muted", s.muted}, {"archived", s.archived}});
    }
    return {{"conversations", out}};
}

}  // namespace chat::sidecar
