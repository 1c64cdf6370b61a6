// answer_range: bytes=first-[last] and bytes=-suffix, checked against the size with no overflow.
#include "byte_range.h"

#include <charconv>

namespace chat::sidecar {
namespace {

enum class Number { empty, ok, too_big, bad };

// Digits only (no sign, no spaces). Values past int64 are reported as too_big, not wrapped.
Number parse_number(std::string_view s, int64_t& out) {
    if (s.empty()) return Number::empty;
    if (s.front() < '0' || s.front() > '9') return Number::bad;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (p != s.data() + s.size()) return Number::bad;
    return ec == std::errc() ? Number::ok : Number::too_big;
}

}  // namespace

RangeAnswer answer_range(std::string_view header, int64_t size) {
    constexpr std::string_view unit = "bytes=";
    RangeAnswer whole;
    if (header.substr(0, unit.size()) != unit) return whole;  // no Range, or a unit we do not serve
    std::string_view spec = header.substr(unit.size());
    if (spec.find(',') != std::string_view::npos) return whole;
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) return whole;
    int64_t first = 0, last = 0;
    Number f = parse_number(spec.substr(0, dash), first);
    Number l = parse_number(spec.substr(dash + 1), last);
    if (f == Number::bad || l == Number::bad || (f == Number::empty && l == Number::empty)) return whole;
    RangeAnswer none{RangeAnswer::Kind::unsatisfiable, 0, 0};

    if (f == Number::empty) {  // bytes=-N: the last N bytes
        if (l == Number::ok && last == 0) return none;
        if (size == 0) return none;
        int64_t length = (l == Number::too_big || last > size) ? size : last;
        return {RangeAnswer::Kind::partial, size - length, length};
    }
    if (l == Number::ok && (f == Number::too_big || last < first)) return whole;  // last before first: ignored
    if (f == Number::too_big || first >= size) return none;
    int64_t end = (l == Number::empty || l == Number::too_big || last >= size) ? size - 1 : last;
    return {RangeAnswer::Kind::partial, first, end - first + 1};
}

}  // namespace chat::sidecar
