// BatchNorm forward on NVIDIA GPUs.
//
// The output is elementwise: all dimensions fused, threads_per_block
// consecutive elements per block, so that every load and store is
// coalesced whatever the layout or the size of a plane. Inference folds the
// running statistics into it (inlined: a kernel launch costs more than
// a few arithmetic operations per element).
//
// Training runs three kernels:
// 1. Each chunk's mean and M2 (the generator's chunks: a few samples' planes
//    of one channel, or a run of positions).
//    channels_first: a block per chunk; its threads stride through the
//      chunk's planes, which are contiguous runs, and meet in shared memory.
//    channels_last: a thread per (channel, chunk): consecutive threads take
//      consecutive channels, so each step of a warp reads 32 neighbours.
// 2. Per channel, a block combines the chunks and writes the scale, shift,
//    saved and running statistics (one kernel through compute_with).
// 3. The output.
#include "schedules/cuda/batch_norm_forward.h"

#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

using namespace Halide;

namespace {

void schedule_output(BatchNormForwardFuncs &f, int threads) {
    Func output = f.output;
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

}  // namespace

void schedule_batch_norm_forward(BatchNormForwardFuncs f, const Target &target,
                                 const BatchNormForwardKnobs &knobs) {
    schedule_output(f, knobs.threads_per_block);
    if (f.mode != BatchNormMode::training) {
        return;
    }
    const Var &c = f.channel, &k = f.chunk;
    GroupStatistics &stats = f.chunk_statistics;
    if (f.layout == BatchNormLayout::channels_first) {
        RVar in_chunk("in_chunk");
        for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
            sum.update().fuse(f.within_chunk.x, f.within_chunk.y, in_chunk);
        }
        // Chunks along x (up to 2^31 blocks), channels along y (up to 65535,
        // which the runtime checks).
        f.chunk_summary.compute_root().reorder(k, c).gpu_blocks(k, c);
        LoopLevel per_chunk(f.chunk_summary, k);
        stats.rough_mean.compute_at(per_chunk);
        for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
            block_reduction(sum, in_chunk, per_chunk, knobs.threads_per_block,
                            knobs.loads_in_flight);
        }
    } else {
        Var channel_block("channel_block"), channel_thread("channel_thread");
        Var chunk_block("chunk_block"), chunk_thread("chunk_thread");
        f.chunk_summary.compute_root()
            .split(c, channel_block, channel_thread, 32, TailStrategy::GuardWithIf)
            .split(k, chunk_block, chunk_thread, knobs.chunks_per_block, TailStrategy::GuardWithIf)
            .reorder(channel_thread, chunk_thread, channel_block, chunk_block)
            .gpu_blocks(channel_block, chunk_block)
            .gpu_threads(channel_thread, chunk_thread);
        LoopLevel per_thread(f.chunk_summary, channel_thread);
        for (Func stat : {stats.sum_of_values, stats.rough_mean, stats.deviation_sums}) {
            stat.compute_at(per_thread);
        }
        for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
            unroll_loads(sum.update(), f.within_chunk.x, knobs.loads_in_flight);
        }
    }

    // Per channel: one block combines the chunks, and every per-channel
    // result comes from the same kernel.
    // (shift reads scale: its own copy of it, so that the two can share a
    // loop.)
    f.scale.clone_in(f.shift);
    Func per_channel = f.scale;
    per_channel.compute_root().gpu_blocks(c);
    LoopLevel per_block(per_channel, c);
    for (Func sum : {f.channel_combination.offset_sum, f.channel_combination.spread}) {
        block_reduction(sum, f.over_chunks.x, per_block, 32, knobs.loads_in_flight);
    }
    for (Func result : {f.shift, f.saved_mean, f.saved_invstd, f.running_mean_out,
                        f.running_var_out}) {
        result.compute_root().gpu_blocks(c).compute_with(per_channel, c);
    }
}

}  // namespace normgen::cuda
