// Preloaded after the sanitizer runtimes into Debian's (uninstrumented) mosquitto: starts ASan
// before any other library's constructor runs (the library is linked with -z initfirst).
//
// Why: preloaded, libasan's own constructor runs last, so ASan starts lazily at the first
// malloc. In mosquitto that is inside libgpg-error's constructor, in bindtextdomain() while it
// holds glibc's gettext lock (_nl_state_lock) for writing; ASan's start calls dlerror(), which
// takes the same lock for reading, and unbalances it (reader count -1). The next
// bindtextdomain() -- libpq's, at the plugin's first PQconnectdb -- then waits forever: a
// broker with an ASan-built plugin on PostgreSQL never came up.
extern "C" void __asan_init();

namespace {

__attribute__((constructor)) void start_sanitizer_first() { __asan_init(); }

}  // namespace
