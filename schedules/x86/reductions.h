// Reduction schedules shared by the x86 kernels.
#pragma once

#include "Halide.h"

namespace normgen::x86 {

// Vectorizes f(...) += g(over, ...) along `over` (an RVar over contiguous
// elements) by splitting it into `vectors` x `lanes` interleaved partial
// sums: `vectors` independent vector accumulators, so that the adds do not
// wait on each other's latency. f and its partial sums are computed at `at`.
inline void vectorize_reduction(Halide::Func f, const Halide::RVar &over,
                                const Halide::LoopLevel &at, int lanes, int vectors) {
    using namespace Halide;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var"), vector("vector"), vector_lane("vector_lane");
    Func partial = f.update()
                       .split(over, chunk, lane, lanes * vectors, TailStrategy::GuardWithIf)
                       .rfactor(lane, lane_var);
    f.compute_at(at);
    partial.compute_at(at).vectorize(lane_var, lanes);
    partial.update()
        .split(lane_var, vector, vector_lane, lanes)
        .reorder(vector_lane, vector, chunk)
        .vectorize(vector_lane)
        .unroll(vector);
}

}  // namespace normgen::x86
