// Fuzz target: split_topic and the ACL's allowed() for every Access kind, for users, the bridge
// and principals with and without permissions, checked against the rules of PROTOCOL.md.
#include "broker-plugin/acl.h"
#include "broker-plugin/topic.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace {

using chat::broker::Access;
using chat::broker::Permissions;
using chat::broker::Principal;

void require(bool ok) {
    if (!ok) std::abort();
}

// The levels joined again give back the topic; more than four levels are refused.
void check_split(std::string_view topic) {
    auto t = chat::broker::split_topic(topic);
    size_t slashes = static_cast<size_t>(std::count(topic.begin(), topic.end(), '/'));
    if (t.too_deep) {
        require(slashes >= t.level.size());
        return;
    }
    require(t.count == slashes + 1 && t.count <= t.level.size());
    std::string joined;
    for (size_t i = 0; i < t.count; ++i) joined += std::string(t[i]) + (i + 1 < t.count ? "/" : "");
    require(joined == topic);
}

void check_user(const Principal& who, std::string_view topic) {
    bool write = allowed(who, Access::write, topic);
    bool subscribe = allowed(who, Access::subscribe, topic);
    bool read = allowed(who, Access::read, topic);
    require(subscribe == read);  // one rule for both (PROTOCOL.md)
    bool refused_shape = topic.empty() || topic[0] == '$' || topic.find_first_of("+#") != topic.npos;
    if (refused_shape) require(!write && !subscribe);
    if (write) require(std::count(topic.begin(), topic.end(), '/') == 1);
    if (subscribe) {
        std::string own = "u/" + std::string(who.user) + "/";
        require(topic.starts_with(own) || topic.starts_with("p/"));
    }
    // Another user's inbox is never readable.
    if (topic.starts_with("u/") && !topic.starts_with("u/" + std::string(who.user) + "/")) require(!subscribe);
}

void check_bridge(const Principal& who, std::string_view topic) {
    bool batch = topic == "b/fanout" || topic == "b/replay" || topic == "b/live";
    require(allowed(who, Access::write, topic) == batch);
    if (batch) require(!allowed(who, Access::read, topic));
    if (topic.starts_with("$SYS")) require(!allowed(who, Access::subscribe, topic));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    Permissions perms;
    for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i) perms.groups.insert(in.ConsumeRandomLengthString(20));
    for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i) perms.blocked_by.insert(in.ConsumeRandomLengthString(20));
    std::string user = in.ConsumeBool() ? "15550001" : in.ConsumeRandomLengthString(20);
    std::string device = in.ConsumeBool() ? "d1" : in.ConsumeRandomLengthString(20);
    bool with_perms = in.ConsumeBool();
    std::string topic = in.ConsumeRemainingBytesAsString();

    check_split(topic);
    Principal who{user, device, false, with_perms ? &perms : nullptr};
    check_user(who, topic);
    check_bridge(Principal{user, device, true, nullptr}, topic);
    return 0;
}
