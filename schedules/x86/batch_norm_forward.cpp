// BatchNorm forward on x86 CPUs (AVX-512, AVX2, SSE4.1 from one schedule:
// the vector width follows the target or the vector_width knob).
//
// Training reads the input twice (statistics, then output) unless it fits in
// cache, because no output element can be written before its channel's
// statistics over the whole batch are known. Both passes stream through
// memory in storage order with full vectors:
//
// channels_first (spatial, channel, sample): threads take chunks (the planes
//   of a few samples of one channel; the chunks of a block of channels
//   together), summed along each plane's contiguous run in independent
//   vector accumulators.
// channels_last (channel, position): threads take chunks of positions,
//   summed in vectors across channels.
// The output's tasks are whole planes or positions, vectorized along the
// plane or across channels (parallel_batch_norm_elementwise).
#include "schedules/x86/batch_norm_forward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

void schedule_batch_norm_forward(BatchNormForwardFuncs f, const Target &target,
                                 const BatchNormKnobs &knobs) {
    const int lanes = vector_lanes(target, knobs.vector_width);
    const Var &s = f.spatial, &c = f.channel, &n = f.sample, &p = f.position;
    f.scale.compute_root();
    f.shift.compute_root();
    parallel_batch_norm_elementwise(f.output, f.layout == BatchNormLayout::channels_first, s, c,
                                    n, p, lanes, knobs);

    if (f.mode != BatchNormMode::training) {
        return;
    }
    // Threads take chunks; each chunk's two passes run while it is in L1.
    const Var &k = f.chunk;
    GroupStatistics &stats = f.chunk_statistics;
    if (f.layout == BatchNormLayout::channels_first) {
        // A chunk is a plane per sample of a few samples: vectors along each
        // plane, tasks of a block of channels.
        const ChannelBlockTasks tasks =
            parallel_channel_blocks(f.chunk_summary, c, k, knobs.channels_per_task);
        // Whole vector loads in each plane's last step (channel_chunks.h).
        if (f.planes_fill_steps.defined()) f.chunk_summary.specialize(f.planes_fill_steps);
        LoopLevel per_task(f.chunk_summary, tasks.task);
        stats.rough_mean.compute_at(per_task);
        sum_runs_in_storage_order(stats.pilot_sum, c, f.over_pilot.x, f.over_pilot.y, per_task,
                                  lanes, 1);
        sum_runs_in_storage_order(stats.deviation_sums, c, f.within_chunk.x, f.within_chunk.y,
                                  per_task, lanes, knobs.vectors_per_step);
    } else {
        // A chunk is a block of rows of C channels: vectors across channels.
        f.chunk_summary.compute_root().parallel(k);
        LoopLevel per_block(f.chunk_summary, k);
        f.chunk_summary.vectorize(c, lanes, TailStrategy::GuardWithIf);
        for (Func stat : {stats.pilot_sum, stats.rough_mean, stats.deviation_sums}) {
            stat.compute_at(per_block).vectorize(c, lanes, TailStrategy::GuardWithIf);
        }
        Expr channels = f.output.output_buffer().dim(0).extent();
        vectorize_across_channels(stats.pilot_sum, c, f.over_pilot.x, channels, lanes,
                                  knobs.channel_vectors);
        vectorize_across_channels(stats.deviation_sums, c, f.within_chunk.x, channels, lanes,
                                  knobs.channel_vectors);
    }
    for (Func combined : {f.channel_combination.offset_sum, f.channel_combination.spread}) {
        combined.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
        combined.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
    }
}

}  // namespace normgen::x86
