// The ACL rules of PROTOCOL.md: own topics, peers not blocking us, groups we belong to.
#include "acl.h"

#include "common/identity.h"
#include "topic.h"

namespace chat::broker {
namespace {

bool has_wildcard(std::string_view topic) { return topic.find_first_of("+#") != std::string_view::npos; }

bool not_blocked_by(const Principal& who, std::string_view peer) {
    return who.perms && !who.perms->blocked_by.contains(std::string(peer));
}

bool may_publish(const Principal& who, const Topic& t) {
    if (t.count != 2 || t.too_deep) return false;
    std::string_view kind = t[0], target = t[1];
    if (kind == "m" || kind == "r" || kind == "t" || kind == "v") {
        return is_user_id(target) && target != who.user && not_blocked_by(who, target);
    }
    if (kind == "g") return who.perms && who.perms->groups.contains(std::string(target));
    if (kind == "l") return who.perms && who.perms->lists.contains(std::string(target));
    if (kind == "p" || kind == "k" || kind == "s" || kind == "st") return target == who.user;
    return false;
}

bool is_own_inbox_topic(const Principal& who, const Topic& t) {
    if (t.count < 3 || t.too_deep || t[0] != "u" || t[1] != who.user) return false;
    if (t.count == 3) return t[2] == "i" || t[2] == "e";
    return t.count == 4 && t[2] == "d" && t[3] == who.device;
}

bool may_watch_presence(const Principal& who, const Topic& t) {
    return t.is("p", 2) && is_user_id(t[1]) && not_blocked_by(who, t[1]);
}

// The batch topics the plugin expands (docs/PROTOCOL.md); only the bridge may publish them.
bool is_bridge_batch_topic(std::string_view topic) {
    return topic == "b/fanout" || topic == "b/replay" || topic == "b/live";
}

bool bridge_allowed(Access access, std::string_view topic) {
    if (topic.starts_with("$SYS")) return false;
    // Every inbox entry gets its seq from the plugin, so the bridge writes only batches.
    if (access == Access::write) return is_bridge_batch_topic(topic);
    if (access != Access::read) return true;
    // A batch passes on to its own topic after expansion; no one is meant to receive it. The
    // bridge holds u/+/i only so that every inbox topic has a subscriber and a sender's PUBACK
    // (0x00 or 0x10 "no subscribers") does not tell whether the recipient is online: it reads none.
    return !is_bridge_batch_topic(topic) && !topic.starts_with("u/");
}

}  // namespace

bool allowed(const Principal& who, Access access, std::string_view topic) {
    if (who.bridge) return bridge_allowed(access, topic);
    // The operator watches the broker's own statistics, read-only, and sees nothing else.
    if (who.sys_operator) return access != Access::write && topic.starts_with("$SYS/");
    if (topic.empty() || topic[0] == '$' || has_wildcard(topic)) return false;
    Topic t = split_topic(topic);
    switch (access) {
        case Access::write:
            return may_publish(who, t);
        case Access::subscribe:
        case Access::read:
            return is_own_inbox_topic(who, t) || may_watch_presence(who, t);
    }
    return false;
}

bool is_blocked(const Principal& who, std::string_view topic) {
    if (who.bridge || !who.perms) return false;
    Topic t = split_topic(topic);
    return (t.is("m", 2) || t.is("r", 2) || t.is("t", 2)) && who.perms->blocked_by.contains(std::string(t[1]));
}

}  // namespace chat::broker
