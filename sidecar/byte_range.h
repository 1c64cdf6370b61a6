// Our reading of a GET's Range header against a blob's size (httplib 0.11.4 mis-serves some ranges).
#pragma once

#include <cstdint>
#include <string_view>

namespace chat::sidecar {

struct RangeAnswer {
    enum class Kind {
        whole,          // 200 with every byte: no Range, one we ignore (other unit, malformed, multi-range)
        partial,        // 206 with bytes [first, first + length), Content-Range: bytes first-last/size
        unsatisfiable,  // 416 with Content-Range: bytes */size
    };
    Kind kind = Kind::whole;
    int64_t first = 0;
    int64_t length = 0;
};

// `header` is the Range header's value (empty when absent); `size` the blob's size in bytes.
// One range only: a multi-range request is answered whole (RFC 9110 lets a server ignore Range).
RangeAnswer answer_range(std::string_view header, int64_t size);

}  // namespace chat::sidecar
