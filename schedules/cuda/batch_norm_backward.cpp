// BatchNorm backward on NVIDIA GPUs, in the forward kernels' shapes:
// 1. each chunk's two sums (schedule_channel_chunks);
// 2. per channel, a block adds the chunks' sums and writes grad_weight,
//    grad_bias and grad_input's coefficients (one kernel, compute_with);
// 3. grad_input, elementwise.
#include "schedules/cuda/batch_norm_backward.h"

#include "schedules/cuda/channel_chunks.h"
#include "schedules/cuda/reductions.h"

namespace normgen::cuda {

using namespace Halide;

void schedule_batch_norm_backward(BatchNormBackwardFuncs f, const Target &target,
                                  const BatchNormKnobs &knobs) {
    const Var &c = f.channel;
    schedule_elementwise(f.grad_input, f.layout, knobs.threads_per_block,
                         knobs.elements_per_thread);
    Func chunk_slot = f.chunk_sums.in();
    schedule_channel_chunks(chunk_slot, {{f.chunk_sums, f.within_chunk}}, {}, f.layout, c,
                            f.chunk, knobs.threads_per_block, knobs.chunks_per_block,
                            knobs.loads_in_flight, knobs.fold_radix);
    f.coefficients.compute_root().gpu_blocks(c);
    LoopLevel per_block(f.coefficients, c);
    block_reduction(f.channel_sums, f.over_chunks.x, per_block, knobs.combine_threads,
                    knobs.loads_in_flight, knobs.fold_radix);
    for (Func gradient : {f.grad_weight, f.grad_bias}) {
        gradient.compute_root().gpu_blocks(c).compute_with(f.coefficients, c);
    }
}

}  // namespace normgen::cuda
