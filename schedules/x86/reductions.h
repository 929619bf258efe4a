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
    // The last `lanes` values add up in shuffles (a vector reduction), not
    // a scalar loop through the stack: that loop ran once per row.
    f.update().atomic().vectorize(accumulator_lane);
}

// Vectorizes f(c, ...) += g(c, over, ...) across the channels c (the
// innermost dimension of channels-last data) for a reduction along `over`.
// Up to two blocks of `vectors` vectors of channels: each block is summed
// over all of `over` before the next, so that its accumulators stay in
// registers instead of making a round trip through memory per step of
// `over`. The last block overlaps the one before it (ShiftInwardsAndBlend:
// full vectors, the overlap's old sums blended back in) rather than being
// masked: a masked accumulator is a masked store then a masked load every
// step, which AMD CPUs cannot forward (10x slower with 20 channels). Fewer
// channels than a block take one vector at a time; fewer than a vector,
// masks. More channels stream through each step of `over` whole, their
// accumulators in memory: blocks would read the data once per block in
// short strided runs, which the prefetchers do not follow (BatchNorm
// backward, 256 channels: 4.5 ms streaming, 7.0 ms in blocks).
inline void vectorize_across_channels(Halide::Func f, const Halide::Var &c,
                                      const Halide::RVar &over, const Halide::Expr &channels,
                                      int lanes, int vectors) {
    using namespace Halide;
    auto sum_blocks = [&](Stage sum, int block_vectors, TailStrategy tail) {
        Var block("channel_block"), in_block("channel_in_block"), vector("channel_vector");
        sum.split(c, block, in_block, lanes * block_vectors, tail)
            .split(in_block, vector, c, lanes, tail)
            .reorder(c, vector, over, block)
            .vectorize(c)
            .unroll(vector);
    };
    f.update()
        .specialize(channels > 2 * lanes * vectors)
        .reorder(c, over)
        .vectorize(c, lanes, TailStrategy::GuardWithIf);
    sum_blocks(f.update().specialize(channels >= lanes * vectors), vectors,
               TailStrategy::ShiftInwardsAndBlend);
    sum_blocks(f.update().specialize(channels >= lanes), 1, TailStrategy::ShiftInwardsAndBlend);
    sum_blocks(f.update(), vectors, TailStrategy::GuardWithIf);
}

}  // namespace normgen::x86
