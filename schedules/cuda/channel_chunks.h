// CUDA schedules shared by BatchNorm forward and backward: the elementwise
// output, and the per-(channel, chunk) sums of channel_chunks.h.
#pragma once

#include <vector>

#include "Halide.h"
#include "generators/batch_norm_forward.h"
#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

// All dimensions fused, `threads` consecutive elements per block: every
// load and store is coalesced whatever the layout or the size of a plane.
inline void schedule_elementwise(Halide::Func output, int threads) {
    using namespace Halide;
    std::vector<Var> dims = output.args();
    Var element = dims[0];
    for (size_t d = 1; d < dims.size(); ++d) {
        Var wider("element_" + std::to_string(d));
        output.fuse(element, dims[d], wider);
        element = wider;
    }
    Var block("block"), thread("thread");
    output.gpu_tile(element, block, thread, threads, TailStrategy::GuardWithIf);
}

// One kernel computes `chunk_result(channel, chunk)` from `sums` (reductions
// over `within_chunk`) and `per_chunk` (pure functions of the chunk):
// channels_first: a block per chunk; its threads stride through the chunk's
//   planes (contiguous runs; `within_chunk` fused first) and meet in shared
//   memory. Chunks along grid x, channels along y (at most 65535).
// channels_last: a thread per (channel, chunk): consecutive threads take
//   consecutive channels, so that each step of a warp reads 32 neighbours.
inline void schedule_channel_chunks(Halide::Func chunk_result,
                                    const std::vector<Halide::Func> &sums,
                                    const std::vector<Halide::Func> &per_chunk,
                                    const Halide::RDom &within_chunk, BatchNormLayout layout,
                                    const Halide::Var &c, const Halide::Var &k,
                                    int threads_per_block, int chunks_per_block,
                                    int loads_in_flight) {
    using namespace Halide;
    if (layout == BatchNormLayout::channels_first) {
        RVar in_chunk("in_chunk");
        for (Func sum : sums) {
            sum.update().fuse(within_chunk.x, within_chunk.y, in_chunk);
        }
        chunk_result.compute_root().reorder(k, c).gpu_blocks(k, c);
        LoopLevel block(chunk_result, k);
        for (Func stage : per_chunk) stage.compute_at(block);
        for (Func sum : sums) {
            block_reduction(sum, in_chunk, block, threads_per_block, loads_in_flight);
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
    for (Func sum : sums) {
        sum.compute_at(thread);
        unroll_loads(sum.update(), within_chunk.x, loads_in_flight);
    }
}

}  // namespace normgen::cuda
