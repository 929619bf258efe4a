// CUDA schedules shared by BatchNorm forward and backward: the elementwise
// output, and the per-(channel, chunk) sums of channel_chunks.h.
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

#include "Halide.h"
#include "generators/batch_norm_forward.h"
#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

// The elementwise output in blocks of `threads` threads, a warp of them
// along the contiguous dimension (every load and store coalesced), the
// channel block-uniform or fixed per thread, so that no thread divides an
// index by a runtime extent (one all-fused dimension cost two divisions per
// element, more than the memory traffic), and each thread loads its
// channel's scale and shift once for `elements_per_thread` elements.
// channels_first output(spatial, channel, sample): a warp along a plane,
//   the other threads on samples, `elements_per_thread` samples each; the
//   grid's x takes (plane blocks, sample blocks), y the channels.
// channels_last output(channel, position): a warp along the channels, the
//   other threads on positions, `elements_per_thread` positions each; the
//   grid's x takes positions, y channel blocks.
inline void schedule_elementwise(Halide::Func output, BatchNormLayout layout, int threads,
                                 int elements_per_thread) {
    using namespace Halide;
    const int warp = 32, warps = std::max(threads / warp, 1);
    const std::vector<Var> dims = output.args();
    Var along_block("along_block"), along_thread("along_thread");
    Var across_block("across_block"), across_thread("across_thread"), across_step("across_step");
    // along: the contiguous dimension; across: the one split over threads
    // and steps.
    const Var &along = dims[0];
    const Var &across = layout == BatchNormLayout::channels_first ? dims[2] : dims[1];
    output.split(along, along_block, along_thread, warp, TailStrategy::GuardWithIf)
        .split(across, across_block, across_thread, warps * elements_per_thread,
               TailStrategy::GuardWithIf)
        .split(across_thread, across_thread, across_step, elements_per_thread,
               TailStrategy::GuardWithIf)
        .unroll(across_step);
    if (layout == BatchNormLayout::channels_first) {
        Var blocks("blocks");
        output
            .reorder(across_step, along_thread, across_thread, along_block, across_block, dims[1])
            .fuse(along_block, across_block, blocks)
            .gpu_blocks(blocks, dims[1]);
    } else {
        output.reorder(across_step, along_thread, across_thread, across_block, along_block)
            .gpu_blocks(across_block, along_block);
    }
    output.gpu_threads(along_thread, across_thread);
}

// One kernel computes `chunk_result(channel, chunk)` from `sums` (each a
// reduction over its RDom: the chunk, or its pilot) and `per_chunk` (pure
// functions of the chunk):
// channels_first: a block per chunk; its threads stride through the chunk's
//   planes (contiguous runs; each sum's RDom fused first) and meet in shared
//   memory. Chunks along grid x, channels along y (at most 65535).
// channels_last: a thread per (channel, chunk): consecutive threads take
//   consecutive channels, so that each step of a warp reads 32 neighbours.
inline void schedule_channel_chunks(Halide::Func chunk_result,
                                    const std::vector<std::pair<Halide::Func, Halide::RDom>> &sums,
                                    const std::vector<Halide::Func> &per_chunk,
                                    BatchNormLayout layout,
                                    const Halide::Var &c, const Halide::Var &k,
                                    int threads_per_block, int chunks_per_block,
                                    int loads_in_flight, int fold_radix) {
    using namespace Halide;
    if (layout == BatchNormLayout::channels_first) {
        chunk_result.compute_root().reorder(k, c).gpu_blocks(k, c);
        LoopLevel block(chunk_result, k);
        for (Func stage : per_chunk) stage.compute_at(block);
        for (auto [sum, over] : sums) {
            RVar in_chunk("in_chunk");
            sum.update().fuse(over.x, over.y, in_chunk);
            block_reduction(sum, in_chunk, block, threads_per_block, loads_in_flight, fold_radix);
        }
        return;
    }
    Var channel_block("channel_block"), channel_thread("channel_thread");
    Var chunk_block("chunk_block"), chunk_thread("chunk_thread");
    chunk_result.compute_root()
        .split(c, channel_block, channel_thread, 32, TailStrategy::GuardWithIf)
        .split(k, chunk_block, chunk_thread, chunks_per_block, TailStrategy::GuardWithIf)
        .reorder(channel_thread, chunk_thread, channel_block, chunk_block)
        .gpu_blocks(channel_block, chunk_block)
        .gpu_threads(channel_thread, chunk_thread);
    LoopLevel thread(chunk_result, channel_thread);
    for (Func stage : per_chunk) stage.compute_at(thread);
    for (auto [sum, over] : sums) {
        sum.compute_at(thread);
        unroll_loads(sum.update(), over.x, loads_in_flight);
    }
}

}  // namespace normgen::cuda
