// Reduction schedules shared by the x86 kernels.
#pragma once

#include "Halide.h"

namespace normgen::x86 {

// Vectorizes f(...) += g(over, ...) along `over` (an RVar over contiguous
// elements) by splitting it into `vectors` x `lanes` interleaved partial
// sums: `vectors` independent vector accumulators, so that the adds do not
// wait on each other's latency. At the end the accumulators are added into
// one vector, whose `lanes` lanes f then adds up: a horizontal sum of
// vectors x lanes scalars would cost more than the loop on short rows. f and
// its partial sums are computed at `at`.
inline void vectorize_reduction(Halide::Func f, const Halide::RVar &over,
                                const Halide::LoopLevel &at, int lanes, int vectors) {
    using namespace Halide;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var"), vector("vector"), vector_lane("vector_lane");
    Func partial = f.update()
                       .split(over, chunk, lane, lanes * vectors, TailStrategy::GuardWithIf)
                       .rfactor(lane, lane_var);
    f.compute_at(at);
    // The partial sums keep f's pure dimensions. Their extents can be
    // symbolic (a guarded tail makes them 0 or 1), and a symbolic stride
    // between lanes would turn every accumulator update into a gather and a
    // scatter: the lanes go innermost in storage.
    std::vector<Var> storage_order{lane_var};
    for (const Var &dim : partial.args()) {
        if (dim.name() != lane_var.name()) storage_order.push_back(dim);
    }
    partial.compute_at(at).reorder_storage(storage_order).vectorize(lane_var, lanes);
    partial.update()
        .split(lane_var, vector, vector_lane, lanes)
        .reorder(vector_lane, vector, chunk)
        .vectorize(vector_lane)
        .unroll(vector);

    RVar accumulator("accumulator"), accumulator_lane("accumulator_lane");
    Var folded_lane("folded_lane");
    Func folded = f.update()
                      .split(lane, accumulator, accumulator_lane, lanes, TailStrategy::GuardWithIf)
                      .rfactor(accumulator_lane, folded_lane);
    std::vector<Var> folded_order{folded_lane};
    for (const Var &dim : folded.args()) {
        if (dim.name() != folded_lane.name()) folded_order.push_back(dim);
    }
    folded.compute_at(at).reorder_storage(folded_order).vectorize(folded_lane, lanes);
    folded.update().reorder(folded_lane, accumulator).vectorize(folded_lane).unroll(accumulator);
}

}  // namespace normgen::x86
