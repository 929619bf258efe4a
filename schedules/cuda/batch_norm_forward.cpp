// BatchNorm forward on NVIDIA GPUs.
//
// The output is elementwise (schedule_elementwise). Inference folds the
// running statistics into it (inlined: a kernel launch costs more than a
// few arithmetic operations per element).
//
// Training runs three kernels:
// 1. Each chunk's mean and M2 (schedule_channel_chunks).
// 2. Per channel, a block combines the chunks and writes the scale, shift,
//    saved and running statistics (one kernel through compute_with).
// 3. The output.
#include "schedules/cuda/batch_norm_forward.h"

#include "schedules/cuda/channel_chunks.h"
#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

using namespace Halide;

void schedule_batch_norm_forward(BatchNormForwardFuncs f, const Target &target,
                                 const BatchNormKnobs &knobs) {
    schedule_elementwise(f.output, f.layout, knobs.threads_per_block, knobs.elements_per_thread);
    if (f.mode != BatchNormMode::training) {
        return;
    }
    const Var &c = f.channel;
    GroupStatistics &stats = f.chunk_statistics;
    schedule_channel_chunks(f.chunk_summary,
                            {{stats.pilot_sum, f.over_pilot},
                             {stats.deviation_sums, f.within_chunk}},
                            {stats.rough_mean}, f.layout, c, f.chunk,
                            knobs.threads_per_block, knobs.chunks_per_block,
                            knobs.loads_in_flight, knobs.fold_radix);

    // Per channel: one block combines the chunks, and every per-channel
    // result comes from the same kernel. (shift reads scale: its own copy of
    // it, so that the two can share a loop.)
    f.scale.clone_in(f.shift);
    Func per_channel = f.scale;
    per_channel.compute_root().gpu_blocks(c);
    LoopLevel per_block(per_channel, c);
    for (Func sum : {f.channel_combination.offset_sum, f.channel_combination.spread}) {
        block_reduction(sum, f.over_chunks.x, per_block, knobs.combine_threads,
                        knobs.loads_in_flight, knobs.fold_radix);
    }
    for (Func result : {f.shift, f.saved_mean, f.saved_invstd, f.running_mean_out,
                        f.running_var_out}) {
        result.compute_root().gpu_blocks(c).compute_with(per_channel, c);
    }
}

}  // namespace normgen::cuda
