// BatchNorm forward on x86 CPUs (AVX-512, AVX2, SSE4.1 from one schedule:
// the vector width follows the target).
//
// Training reads the input twice (statistics, then output) unless it fits in
// cache, because no output element can be written before its channel's
// statistics over the whole batch are known. Both passes stream through
// memory in storage order with full vectors:
//
// channels_first (spatial, channel, sample): threads take samples; each
//   (channel, sample) plane is a chunk of the statistics, summed along its
//   contiguous run in independent vector accumulators. The output is
//   parallel over planes, vectorized along the spatial run.
// channels_last (channel, position): threads take chunks of positions,
//   summed in vectors across channels. The output is parallel over blocks
//   of positions, vectorized across channels.
#include "schedules/x86/batch_norm_forward.h"

#include "schedules/x86/elementwise.h"
#include "schedules/x86/reductions.h"

namespace normgen::x86 {

using namespace Halide;

void schedule_batch_norm_forward(BatchNormForwardFuncs f, const Target &target,
                                 const BatchNormForwardKnobs &knobs) {
    const int lanes = target.natural_vector_size<float>();
    const int step = lanes * knobs.vectors_per_step;
    const Var &s = f.spatial, &c = f.channel, &n = f.sample, &p = f.position;
    Func output = f.output;

    f.scale.compute_root();
    f.shift.compute_root();

    if (f.layout == BatchNormLayout::channels_first) {
        // Planes can be as small as 8x8: a task takes as many whole planes
        // as make elements_per_task, so that small planes do not drown in
        // task overhead.
        Var plane("plane"), plane_block("plane_block"), plane_in_block("plane_in_block");
        Expr plane_size = f.output.output_buffer().dim(0).extent();
        Expr planes_per_task = max(1, knobs.elements_per_task / plane_size);
        output.fuse(c, n, plane)
            .split(plane, plane_block, plane_in_block, planes_per_task, TailStrategy::GuardWithIf)
            .parallel(plane_block);
        vectorize_elementwise(output, s, plane_size, step);
    } else {
        Var block("block"), in_block("in_block");
        output.split(p, block, in_block, knobs.positions_per_task, TailStrategy::GuardWithIf)
            .parallel(block);
        vectorize_elementwise(output, c, f.output.output_buffer().dim(0).extent(), step);
    }

    if (f.mode != BatchNormMode::training) {
        return;
    }
    // Threads take chunks; each chunk's two passes run while it is in cache.
    const Var &k = f.chunk;
    GroupStatistics &stats = f.chunk_statistics;
    f.chunk_summary.compute_root().parallel(k);
    if (f.layout == BatchNormLayout::channels_first) {
        // A chunk is one contiguous plane: vectors along it.
        LoopLevel per_plane(f.chunk_summary, c);
        stats.rough_mean.compute_at(per_plane);
        for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
            vectorize_reduction(sum, f.within_chunk.x, per_plane, lanes, knobs.vectors_per_step);
        }
    } else {
        // A chunk is a block of rows of C channels: vectors across channels.
        LoopLevel per_block(f.chunk_summary, k);
        f.chunk_summary.vectorize(c, lanes, TailStrategy::GuardWithIf);
        for (Func stat : {stats.sum_of_values, stats.rough_mean, stats.deviation_sums}) {
            stat.compute_at(per_block).vectorize(c, lanes, TailStrategy::GuardWithIf);
        }
        for (Func sum : {stats.sum_of_values, stats.deviation_sums}) {
            sum.update().vectorize(c, lanes, TailStrategy::GuardWithIf).reorder(c, f.within_chunk.x);
        }
    }
    for (Func combined : {f.chunk_offset_sum, f.channel_spread}) {
        combined.compute_root().vectorize(c, lanes, TailStrategy::GuardWithIf);
        combined.update().vectorize(c, lanes, TailStrategy::GuardWithIf);
    }
}

}  // namespace normgen::x86
