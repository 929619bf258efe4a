// BatchNorm backward on x86 CPUs: the per-channel sums read x and dy once,
// in chunks that threads take (as the forward statistics). In training,
// grad_input needs every chunk's sums and then streams through memory as
// the forward output does. In evaluation mode it needs only dy and
// per-channel constants, so each task writes the grad_input of its own chunks
// right after summing them (compute_with), while their dy is in cache: x and
// dy stream from memory once instead of dy twice.
#include "schedules/x86/batch_norm_backward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

void schedule_batch_norm_backward(BatchNormBackwardFuncs f, const Target &target,
                                  const BatchNormKnobs &knobs) {
    const int lanes = vector_lanes(target, knobs.vector_width);
    const Var &s = f.spatial, &c = f.channel, &n = f.sample, &p = f.position, &k = f.chunk;
    const bool channels_first = f.layout == BatchNormLayout::channels_first;
    // Evaluation mode: grad_input in the tasks of the chunk sums.
    const bool grad_input_with_sums = f.mode == BatchNormMode::inference;
    Func grad_input = f.grad_input;
    Expr inner_extent = grad_input.output_buffer().dim(0).extent();
    if (!grad_input_with_sums) {
        // As the forward output.
        parallel_batch_norm_elementwise(grad_input, channels_first, s, c, n, p,
                                        lanes, knobs);
    }

    // Evaluation mode's invstd is a square root and a division: once per
    // channel, not per element of the sums (256x50x8x8: 3x the sums' time).
    f.invstd.compute_root();
    f.coefficients.compute_root();
    f.channel_sums.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
    f.channel_sums.update().vectorize(c, lanes, TailStrategy::GuardWithIf);

    // Each chunk's sums are computed into the chunk's own slot, by the thread
    // that takes the chunk.
    Func chunk_slot = f.chunk_sums.in();
    if (channels_first) {
        const ChannelBlockTasks tasks =
            parallel_channel_blocks(chunk_slot, c, k, knobs.channels_per_task);
        // Whole vector loads in each plane's last step (channel_chunks.h).
        // (Not with grad_input: compute_with takes no specializations.)
        if (f.planes_fill_steps.defined() && !grad_input_with_sums) {
            chunk_slot.specialize(f.planes_fill_steps);
        }
        sum_runs_in_storage_order(f.chunk_sums, c, f.within_chunk.x, f.within_chunk.y,
                                  LoopLevel(chunk_slot, tasks.task), lanes,
                                  knobs.vectors_per_step);
        if (grad_input_with_sums) {
            // The same tasks over grad_input: its planes of the task's
            // channels and samples, in storage order.
            Var sample_in_chunk("sample_in_chunk");
            Expr samples_per_chunk = f.within_chunk.y.extent();
            grad_input
                .split(c, tasks.channel_block, tasks.channel_in_block, knobs.channels_per_task,
                       TailStrategy::GuardWithIf)
                .split(n, k, sample_in_chunk, samples_per_chunk, TailStrategy::GuardWithIf)
                .reorder(s, tasks.channel_in_block, sample_in_chunk, tasks.channel_block, k)
                .fuse(tasks.channel_block, k, tasks.task)
                .parallel(tasks.task);
            vectorize_elementwise(grad_input, s, inner_extent, lanes, knobs.vectors_per_step);
            chunk_slot.compute_with(grad_input, tasks.task);
        }
    } else {
        chunk_slot.compute_root().parallel(k).vectorize(c, lanes, TailStrategy::GuardWithIf);
        f.chunk_sums.compute_at(chunk_slot, k).vectorize(c, lanes, TailStrategy::GuardWithIf);
        vectorize_across_channels(f.chunk_sums, c, f.within_chunk.x, inner_extent, lanes,
                                  knobs.channel_vectors);
        if (grad_input_with_sums) {
            // The same tasks over grad_input: the chunk's positions.
            Var position_in_chunk("position_in_chunk");
            grad_input
                .split(p, k, position_in_chunk, f.within_chunk.x.extent(),
                       TailStrategy::GuardWithIf)
                .parallel(k);
            vectorize_elementwise(grad_input, c, inner_extent, lanes, knobs.vectors_per_step);
            chunk_slot.compute_with(grad_input, k);
        }
    }
}

}  // namespace normgen::x86
