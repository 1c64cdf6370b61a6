// The ordered list of schema migrations; version N is the N-th entry.
#pragma once

#include <vector>

namespace chat::storage {

// Append new migrations at the end; never edit or reorder a released one.
const std::vector<const char*>& migrations();

}  // namespace chat::storage
