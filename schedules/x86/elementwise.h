// Elementwise loop schedules shared by the x86 kernels.
#pragma once

#include "Halide.h"

namespace normgen::x86 {

// Vectorizes `var` of f's pure definition, `width` lanes at a time, as the
// last directive on f. Where the loop is at least one vector long, its last
// vector shifts inwards to overlap the one before (a few values are written
// twice, with the same result) instead of being masked: AMD CPUs run masked
// stores (vmaskmovps) in microcode, and a masked tail per row or plane cost
// up to half the time of short rows. Shorter loops use masked vectors.
inline void vectorize_elementwise(Halide::Func f, const Halide::Var &var,
                                  const Halide::Expr &extent, int width) {
    using namespace Halide;
    f.specialize(extent >= width).vectorize(var, width, TailStrategy::ShiftInwards);
    f.vectorize(var, width, TailStrategy::GuardWithIf);
}

}  // namespace normgen::x86
