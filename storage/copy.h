// Copies every table of one database into another, empty one (SQLite -> PostgreSQL moves).
#pragma once

#include "db.h"

#include <cstdint>
#include <map>
#include <string>

namespace chat::storage {

// Copies every row of every table (users, devices, inbox, cursors, groups, blocks, media index,
// uploads, feeds and marks) from `from` into `to`, in one transaction of `to`; both must be at
// the same schema version and `to` must hold no users (NotAllowed otherwise). Returns the rows
// copied per table.
std::map<std::string, int64_t> copy_database(Database& from, Database& to);

}  // namespace chat::storage
