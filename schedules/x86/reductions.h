// Reduction schedules shared by the x86 kernels.
#pragma once

#include <functional>

#include "Halide.h"

namespace normgen::x86 {

// `partial`'s dimensions with `lane` first. Partial sums' extents can be
// symbolic (a guarded tail makes them 0 or 1), and a symbolic stride between
// lanes would turn every accumulator update into a gather and a scatter: the
// lanes go innermost in storage.
inline std::vector<Halide::Var> lanes_innermost(const Halide::Func &partial,
                                                const Halide::Var &lane) {
    std::vector<Halide::Var> order{lane};
    for (const Halide::Var &dim : partial.args()) {
        if (dim.name() != lane.name()) order.push_back(dim);
    }
    return order;
}

// f(...) += partial(lane, ...) over the RVar `lane` (`width` values, a
// power of two) as a tree: the upper half of the values added to the lower
// half, then the same for the `width` / 2 sums, down to one. Each level is
// an rfactor that `place` schedules, given its lane Var: an ordinary add of
// two vectors, with no order across lanes for the compiler to keep. (One vector
// reduction instead becomes a scalar chain across the lanes in a pipeline
// with strict_float: LayerNorm rows of 16 values, one thread, in a
// standalone Halide pipeline, 2.3x the time of the tree.)
inline void add_in_halves(Halide::Func f, const Halide::RVar &lane, int width,
                          const std::function<void(Halide::Func, const Halide::Var &)> &place) {
    using namespace Halide;
    RVar remaining = lane;
    for (int half = width / 2; half >= 2; half /= 2) {
        RVar upper_or_lower("upper_or_lower"), in_half("in_half");
        Var half_lane("half_lane");
        Func next =
            f.update().split(remaining, upper_or_lower, in_half, half).rfactor(in_half, half_lane);
        place(next, half_lane);
        next.update().vectorize(half_lane).unroll(upper_or_lower);
        remaining = in_half;
    }
    f.update().unroll(remaining);
}

// f(...) += partial(lane, ...) over the RVar `lane` (lanes x vectors of
// them): the vectors are added into one, whose `lanes` lanes f then adds up,
// all at `at`. (A horizontal sum of vectors x lanes scalars would cost more
// than the loop on short rows.)
inline void fold_lanes(Halide::Func f, const Halide::RVar &lane, const Halide::LoopLevel &at,
                       int lanes) {
    using namespace Halide;
    RVar accumulator("accumulator"), accumulator_lane("accumulator_lane");
    Var folded_lane("folded_lane");
    Func folded = f.update()
                      .split(lane, accumulator, accumulator_lane, lanes, TailStrategy::GuardWithIf)
                      .rfactor(accumulator_lane, folded_lane);
    folded.compute_at(at)
        .reorder_storage(lanes_innermost(folded, folded_lane))
        .vectorize(folded_lane, lanes);
    folded.update().reorder(folded_lane, accumulator).vectorize(folded_lane).unroll(accumulator);
    // The last `lanes` values add up in halves (see add_in_halves), not a
    // scalar loop through the stack: that loop ran once per row.
    add_in_halves(f, accumulator_lane, lanes, [&](Func half, const Var &half_lane) {
        half.compute_at(at).reorder_storage(lanes_innermost(half, half_lane)).vectorize(half_lane);
    });
}

// Vectorizes the pure var `lane_var` (lanes x vectors long) of `stage` in
// `vectors` unrolled vectors, inside the loops `inside_of` (innermost first).
inline void vectorize_accumulators(Halide::Stage stage, const Halide::Var &lane_var, int lanes,
                                   std::vector<Halide::VarOrRVar> inside_of) {
    using namespace Halide;
    Var vector("vector"), vector_lane("vector_lane");
    inside_of.insert(inside_of.begin(), {vector_lane, vector});
    stage.split(lane_var, vector, vector_lane, lanes)
        .reorder(inside_of)
        .vectorize(vector_lane)
        .unroll(vector);
}

// f's reduction along `over` split into lanes x vectors interleaved
// partial sums (the returned Func, over `lane_var`, `chunk` the steps along
// `over`), both computed at `at`; f then adds the partial sums over `lane`.
inline Halide::Func lane_partial_sums(Halide::Func f, const Halide::RVar &over,
                                      const Halide::RVar &chunk, const Halide::RVar &lane,
                                      const Halide::Var &lane_var, const Halide::LoopLevel &at,
                                      int lanes, int vectors) {
    using namespace Halide;
    Func partial = f.update()
                       .split(over, chunk, lane, lanes * vectors, TailStrategy::GuardWithIf)
                       .rfactor(lane, lane_var);
    f.compute_at(at);
    partial.compute_at(at)
        .reorder_storage(lanes_innermost(partial, lane_var))
        .vectorize(lane_var, lanes);
    return partial;
}

// Vectorizes f(...) += g(over, ...) along `over` (an RVar over contiguous
// elements) by splitting it into `vectors` x `lanes` interleaved partial
// sums: `vectors` independent vector accumulators, so that the adds do not
// wait on each other's latency; then fold_lanes. f and its partial sums are
// computed at `at`.
inline void vectorize_reduction(Halide::Func f, const Halide::RVar &over,
                                const Halide::LoopLevel &at, int lanes, int vectors) {
    using namespace Halide;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var");
    Func partial = lane_partial_sums(f, over, chunk, lane, lane_var, at, lanes, vectors);
    vectorize_accumulators(partial.update(), lane_var, lanes, {chunk});
    fold_lanes(f, lane, at, lanes);
}

// f(group) += g(over, group) along a short run `over` (a row of a few
// vectors) as a tree of vector adds, every level computed at `at`, one group
// at a time: `width` (a power of two) partial sums of every width-th value
// (whole vectors, unrolled where the run's `length` is one of
// `unrolled_lengths`), then the two halves of those added into `width` / 2
// sums, and so on down to one (add_in_halves).
inline void sum_in_halving_tree(Halide::Func f, const Halide::RVar &over, const Halide::Var &group,
                                const Halide::LoopLevel &at, int width, const Halide::Expr &length,
                                const std::vector<int> &unrolled_lengths) {
    using namespace Halide;
    // One group's sums at a time, in storage of constant size even where
    // `at` is a guarded tail whose extent Halide cannot bound (the heap,
    // per group, otherwise).
    auto one_group_at_a_time = [&](Func sums) { sums.compute_at(at).bound_storage(group, 1); };
    RVar step("step"), lane("lane");
    Var lane_var("lane_var");
    one_group_at_a_time(f);
    Func level = f.update()
                     .split(over, step, lane, width, TailStrategy::GuardWithIf)
                     .rfactor(lane, lane_var);
    one_group_at_a_time(level);
    level.reorder_storage(lanes_innermost(level, lane_var)).vectorize(lane_var);
    for (int unrolled : unrolled_lengths) {
        level.update().specialize(length == unrolled).vectorize(lane_var).unroll(step);
    }
    level.update().vectorize(lane_var);
    add_in_halves(f, lane, width, [&](Func half, const Var &half_lane) {
        one_group_at_a_time(half);
        half.reorder_storage(lanes_innermost(half, half_lane)).vectorize(half_lane);
    });
}

// Schedules f(c, ...) += g(c, along_run, across_runs, ...) for a block of
// channels c computed at `at`, where each (c, across_runs) is a contiguous
// run along `along_run` (e.g. a plane) and the runs lie far apart (e.g. one
// per sample). The runs are visited in storage order, the channels inside
// `across_runs`, so that the block's data streams by as one long run, which
// the prefetchers follow. Each run is summed as in vectorize_reduction, its
// accumulators in registers, and then added, still lanes x vectors wide,
// into its channel's partial sums; those are folded once at the end.
inline void sum_runs_in_storage_order(Halide::Func f, const Halide::Var &c,
                                      const Halide::RVar &along_run,
                                      const Halide::RVar &across_runs,
                                      const Halide::LoopLevel &at, int lanes, int vectors) {
    using namespace Halide;
    RVar chunk("chunk"), lane("lane");
    Var lane_var("lane_var"), run("run");
    Func partial = lane_partial_sums(f, along_run, chunk, lane, lane_var, at, lanes, vectors);
    Func run_partial = partial.update().rfactor(across_runs, run);
    vectorize_accumulators(partial.update(), lane_var, lanes, {c, across_runs});
    run_partial.compute_at(partial, c)
        .reorder_storage(lanes_innermost(run_partial, lane_var))
        .vectorize(lane_var, lanes);
    vectorize_accumulators(run_partial.update(), lane_var, lanes, {chunk});
    fold_lanes(f, lane, at, lanes);
}

// The thread-pool tasks of channels_first BatchNorm chunk sums f(channel,
// chunk) (channel_chunks.h): a task takes the chunks of `channels_per_task`
// channels over the same samples, so that, with sum_runs_in_storage_order,
// it walks each sample's planes of the block one after another. (Channel by
// channel, a chunk is a plane per sample, far apart; planes of 14x14 are
// runs of 784 bytes that the prefetchers do not follow: 128x256x14x14, one
// thread, spent 1.5x the time of 32x64x56x56 on the same bytes.) The Vars
// let another Func take the same tasks (compute_with at `task`).
struct ChannelBlockTasks {
    Halide::Var channel_block{"channel_block"}, channel_in_block{"channel_in_block"},
        task{"task"};
};

inline ChannelBlockTasks parallel_channel_blocks(Halide::Func f, const Halide::Var &channel,
                                                 const Halide::Var &chunk,
                                                 int channels_per_task) {
    ChannelBlockTasks tasks;
    f.compute_root()
        .split(channel, tasks.channel_block, tasks.channel_in_block, channels_per_task,
               Halide::TailStrategy::GuardWithIf)
        .reorder(tasks.channel_in_block, tasks.channel_block, chunk)
        .fuse(tasks.channel_block, chunk, tasks.task)
        .parallel(tasks.task);
    return tasks;
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
// channels than a block take blocks of as many whole vectors as they fill
// (20 channels, 8 lanes: two passes over `over` with blocks of two vectors,
// where blocks of one took three); fewer than a vector, masks. Channel counts
// of whole vectors up to twice a block take one block of them all: one pass
// (2 threads, interleaved calls, 64 channels: 0.70-0.82x the time of two
// passes of 4 vectors, forward and backward, AVX2 and AVX-512 alike; 48
// channels 0.81-0.90x). (Not where the last vector overlaps the one before:
// their accumulators then share memory and no longer stay in registers, 20
// channels 1.6x, 50 channels 2.1x.) More channels
// stream through each step of `over` whole, their accumulators in memory:
// blocks would read the data once per block in short strided runs, which
// the prefetchers do not follow (BatchNorm backward, 256 channels: 4.5 ms
// streaming, 7.0 ms in blocks).
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
    for (int whole_vectors = 2 * vectors; whole_vectors > vectors; --whole_vectors) {
        // (RoundUp: the channels fill whole vectors here.)
        Var vector("channel_vector");
        f.update()
            .specialize(channels == lanes * whole_vectors)
            .split(c, vector, c, lanes, TailStrategy::RoundUp)
            .reorder(c, vector, over)
            .vectorize(c)
            .unroll(vector);
    }
    for (int block_vectors = vectors; block_vectors >= 1; --block_vectors) {
        sum_blocks(f.update().specialize(channels >= lanes * block_vectors), block_vectors,
                   TailStrategy::ShiftInwardsAndBlend);
    }
    sum_blocks(f.update(), vectors, TailStrategy::GuardWithIf);
}

}  // namespace normgen::x86
