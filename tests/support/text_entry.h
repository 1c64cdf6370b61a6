// A plain text inbox entry for storage tests: a fresh id, ts 1, no seq yet.
#pragma once

#include "common/entry.h"
#include "common/identity.h"

#include <string>

namespace chat::testing {

inline Entry text_entry(const std::string& from, const std::string& to, const std::string& body) {
    Entry e;
    e.id = new_message_id(1);
    e.from = from;
    e.to = to;
    e.ts = 1;
    e.body = body;
    return e;
}

}  // namespace chat::testing
