// BatchNorm forward's normalization, shared by the forward generator and the
// autodiff check (tests/autodiff_generators.cpp), which differentiates it.
#pragma once

#include "Halide.h"
#include "batch_norm_forward.h"

namespace normgen {

// Folds the statistics and the affine parameters into one scale and one
// shift per channel, so that each element costs one multiply-add:
// output = x * scale + shift. `weight` and `bias` are expressions in
// f.channel.
inline void define_scale_and_shift(BatchNormForwardFuncs &f, Halide::Func mean,
                                   Halide::Func invstd, const Halide::Expr &weight,
                                   const Halide::Expr &bias) {
    const Halide::Var &c = f.channel;
    f.scale = Halide::Func("scale");
    f.scale(c) = invstd(c) * weight;
    f.shift = Halide::Func("shift");
    f.shift(c) = bias - mean(c) * f.scale(c);
}

}  // namespace normgen
