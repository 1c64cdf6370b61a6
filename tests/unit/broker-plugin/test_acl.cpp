// Unit tests for the topic ACL rules of PROTOCOL.md.
#include "broker-plugin/acl.h"

#include <catch2/catch.hpp>

using namespace chat::broker;

namespace {

struct Alice {
    Permissions perms{{"g1"}, {"15550009"}, {"lmine"}};  // member of g1; blocked by 15550009; owns list lmine
    Principal who{"15550001", "d1", false, &perms};
};

}  // namespace

TEST_CASE("a user may publish to peers, own control topics and own groups") {
    Alice a;
    CHECK(allowed(a.who, Access::write, "m/15550002"));
    CHECK(allowed(a.who, Access::write, "r/15550002"));
    CHECK(allowed(a.who, Access::write, "t/15550002"));
    CHECK(allowed(a.who, Access::write, "g/g1"));
    CHECK(allowed(a.who, Access::write, "p/15550001"));
    CHECK(allowed(a.who, Access::write, "k/15550001"));
    CHECK(allowed(a.who, Access::write, "s/15550001"));
    CHECK(allowed(a.who, Access::write, "v/15550002"));
    CHECK(allowed(a.who, Access::write, "l/lmine"));
    CHECK(allowed(a.who, Access::write, "st/15550001"));
}

TEST_CASE("a user may not publish elsewhere") {
    Alice a;
    for (auto topic : {"m/15550009", "t/15550009", "r/15550009", "g/g2", "p/15550002", "k/15550002", "s/15550002",
                       "u/15550002/i", "u/15550001/i", "m/+", "m/#", "m/15550002/x", "m/notauser", "m/15550001",
                       "$SYS/x", "x/15550002", "", "m", "v/15550009", "v/15550001", "v/g1", "l/lother",
                       "st/15550002", "v/15550002/x"}) {
        INFO(topic);
        CHECK_FALSE(allowed(a.who, Access::write, topic));
    }
}

TEST_CASE("a user may subscribe to own inbox topics, own device topic and presence") {
    Alice a;
    for (auto access : {Access::subscribe, Access::read}) {
        CHECK(allowed(a.who, access, "u/15550001/i"));
        CHECK(allowed(a.who, access, "u/15550001/e"));
        CHECK(allowed(a.who, access, "u/15550001/d/d1"));
        CHECK(allowed(a.who, access, "p/15550002"));
    }
}

TEST_CASE("a user may not subscribe to others' topics, wildcards or $SYS") {
    Alice a;
    for (auto topic : {"u/15550002/i", "u/15550001/d/d2", "u/15550001/x", "u/15550001/#", "u/+/i", "#", "+/15550001",
                       "$SYS/#", "$share/x/u/15550001/i", "p/15550009", "p/+", "g/g1", "m/15550001"}) {
        INFO(topic);
        CHECK_FALSE(allowed(a.who, Access::subscribe, topic));
    }
}

TEST_CASE("the bridge publishes only batches and never sees $SYS") {
    Principal bridge{"bridge", "", true, nullptr};
    CHECK(allowed(bridge, Access::subscribe, "$share/bridge/g/+"));
    CHECK(allowed(bridge, Access::read, "g/g1"));
    CHECK_FALSE(allowed(bridge, Access::write, "u/15550001/i"));  // seqs come from the plugin
    CHECK_FALSE(allowed(bridge, Access::write, "m/15550001"));
    CHECK_FALSE(allowed(bridge, Access::subscribe, "$SYS/#"));
    // It holds the inboxes' subscription so that every PUBACK is alike, but reads no entry.
    CHECK(allowed(bridge, Access::subscribe, "$share/bridge/u/+/i"));
    CHECK_FALSE(allowed(bridge, Access::read, "u/15550001/i"));
}

TEST_CASE("only the bridge publishes the batch topics, and nobody receives them") {
    Alice a;
    Principal bridge{"bridge", "", true, nullptr};
    for (auto topic : {"b/fanout", "b/replay"}) {
        INFO(topic);
        CHECK(allowed(bridge, Access::write, topic));
        CHECK_FALSE(allowed(bridge, Access::read, topic));
        CHECK_FALSE(allowed(a.who, Access::write, topic));
        CHECK_FALSE(allowed(a.who, Access::subscribe, topic));
        CHECK_FALSE(allowed(a.who, Access::read, topic));
    }
    for (auto topic : {"b/push/15550001", "b/fanout/x", "b/+", "b/#", "b/other"}) {
        INFO(topic);
        CHECK_FALSE(allowed(bridge, Access::write, topic));
        CHECK_FALSE(allowed(a.who, Access::write, topic));
    }
    CHECK_FALSE(allowed(a.who, Access::subscribe, "b/#"));
}

TEST_CASE("the operator identity reads $SYS and nothing else") {
    Principal ops{"ops", "", false, nullptr, true};
    for (auto access : {Access::subscribe, Access::read}) {
        CHECK(allowed(ops, access, "$SYS/#"));
        CHECK(allowed(ops, access, "$SYS/broker/clients/connected"));
        for (auto topic : {"#", "+/+", "u/15550001/i", "p/15550001", "b/fanout", "$SYSX/a", "$SYS", "m/15550001"}) {
            INFO(topic);
            CHECK_FALSE(allowed(ops, access, topic));
        }
    }
    for (auto topic : {"$SYS/broker/x", "m/15550001", "p/ops", "b/fanout", "g/g1"}) {
        INFO(topic);
        CHECK_FALSE(allowed(ops, Access::write, topic));
    }
}

TEST_CASE("a refused publish to a user who blocked the sender is told apart from other refusals") {
    Alice a;
    CHECK(is_blocked(a.who, "m/15550009"));
    CHECK(is_blocked(a.who, "t/15550009"));
    CHECK_FALSE(is_blocked(a.who, "m/15550002"));
    CHECK_FALSE(is_blocked(a.who, "g/g2"));
}
