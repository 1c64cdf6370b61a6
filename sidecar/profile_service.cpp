// ProfileService over storage::Profiles, storage::Contacts and storage::Blocks.
#include "profile_service.h"

#include "api_error.h"
#include "common/identity.h"
#include "http_util.h"
#include "storage/contacts.h"
#include "storage/profiles.h"

namespace chat::sidecar {
namespace {

nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

void set_text(const nlohmann::json& body, const char* field, size_t max, std::string& out) {
    if (!body.contains(field)) return;
    auto v = string_field(body, field);
    if (v.size() > max) throw ApiError(400, std::string(field) + " is longer than " + std::to_string(max) + " bytes");
    out = v;
}

void set_setting(const nlohmann::json& object, const char* field, std::string& out) {
    if (!object.contains(field)) return;
    auto v = string_field(object, field);
    if (!storage::is_visibility(v)) throw ApiError(400, std::string(field) + " must be everyone, contacts or nobody");
    out = v;
}

}  // namespace

nlohmann::json ProfileService::own(const storage::DeviceRef& self) {
    auto p = pool_.lease()->profiles.get(self.user);
    return {{"user", self.user},
            {"display_name", or_null(p.display_name)},
            {"about", or_null(p.about)},
            {"avatar", or_null(p.avatar)},
            {"visibility",
             {{"display_name", p.name_visibility},
              {"about", p.about_visibility},
              {"avatar", p.avatar_visibility},
              {"last_seen", p.last_seen_visibility}}},
            {"group_adds", p.group_adds}};
}

nlohmann::json ProfileService::update(const storage::DeviceRef& self, const nlohmann::json& body, int64_t now_ms) {
    {
        auto store = pool_.lease();
        auto p = store->profiles.get(self.user);
        set_text(body, "display_name", 64, p.display_name);
        set_text(body, "about", 256, p.about);
        set_text(body, "avatar", 128, p.avatar);  // a media id (POST /v1/media); "" clears
        if (body.contains("visibility")) {
            const auto& v = body["visibility"];
            if (!v.is_object()) throw ApiError(400, "visibility must be an object");
            set_setting(v, "display_name", p.name_visibility);
            set_setting(v, "about", p.about_visibility);
            set_setting(v, "avatar", p.avatar_visibility);
            set_setting(v, "last_seen", p.last_seen_visibility);
        }
        set_setting(body, "group_adds", p.group_adds);
        storage::Transaction tx(store->db);
        store->profiles.put(self.user, p, now_ms);
        tx.commit();
    }
    return own(self);
}

nlohmann::json ProfileService::view(const storage::DeviceRef& self, const std::string& user) {
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    if (user == self.user) return own(self);
    auto store = pool_.lease();
    nlohmann::json out = {{"user", user}};
    // Unknown users have the default (empty) profile: the same answer as a registered user who set nothing.
    if (store->blocks.is_blocked(user, self.user)) return out;
    auto p = store->profiles.get(user);
    bool contact = store->contacts.are_contacts(user, self.user);
    auto show = [&](const char* field, const std::string& value, const std::string& visibility) {
        if (!value.empty() && storage::visible(visibility, contact)) out[field] = value;
    };
    show("display_name", p.display_name, p.name_visibility);
    show("about", p.about, p.about_visibility);
    show("avatar", p.avatar, p.avatar_visibility);
    return out;
}

}  // namespace chat::sidecar
