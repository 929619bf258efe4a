// How tensors of each element type are stored and read. float32 and
// float16 are Halide types as they are. bfloat16 is stored as its 16 bits
// (uint16) and converted here, by bit manipulation: Halide 21 aborts on bf16
// casts when it generates PTX, and the bits are the format's definition
// anyway (the upper half of a float32).
#pragma once

#include "Halide.h"

namespace normgen {

inline bool is_bfloat16(const Halide::Type &element) { return element.is_bfloat(); }

// The type of the kernel's buffers for tensors of `element`.
inline Halide::Type storage_type(const Halide::Type &element) {
    return is_bfloat16(element) ? Halide::UInt(16) : element;
}

// A stored value as float32.
inline Halide::Expr decode(const Halide::Expr &stored, const Halide::Type &element) {
    using namespace Halide;
    if (is_bfloat16(element)) {
        return reinterpret<float>(cast<uint32_t>(stored) << 16);
    }
    return cast<float>(stored);
}

// A float32 value stored as `element`; bfloat16 rounds to nearest even, and
// keeps NaN a NaN (rounding could otherwise carry a NaN's low bits into an
// infinity).
inline Halide::Expr encode(const Halide::Expr &value, const Halide::Type &element) {
    using namespace Halide;
    if (is_bfloat16(element)) {
        Expr bits = reinterpret<uint32_t>(value);
        Expr round_half_even = cast<uint32_t>(0x7FFF) + ((bits >> 16) & cast<uint32_t>(1));
        Expr rounded = cast<uint16_t>((bits + round_half_even) >> 16);
        return select(strict_float(is_nan(value)), cast<uint16_t>(0x7FC0), rounded);
    }
    return cast(element, value);
}

}  // namespace normgen
