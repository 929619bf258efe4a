// BatchNorm forward on x86 CPUs (AVX-512, AVX2, SSE4.1 from one schedule:
// the vector width follows the target).
//
// Training reads the input twice (statistics, then output) unless it fits in
// cache, because no output element can be written before its channel's
// statistics over the whole batch are known. Both passes stream through
// memory in storage order with full vectors:
//
// channels_first (spatial, channel, sample): the sums split by sample
//   (rfactor), so threads take samples, and within a sample by vector lane
//   over the contiguous spatial run. The output is parallel over
//   (channel, sample) planes, vectorized along the spatial run.
// channels_last (channel, position): the sums split into blocks of
//   positions that threads take, each vectorized across channels. The output
//   is parallel over blocks of positions, vectorized across channels.
#include "schedules/x86/batch_norm_forward.h"

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
        Var plane("plane");
        output.fuse(c, n, plane).parallel(plane).vectorize(s, step, TailStrategy::GuardWithIf);
    } else {
        Var block("block"), in_block("in_block");
        output.split(p, block, in_block, knobs.positions_per_task, TailStrategy::GuardWithIf)
            .parallel(block)
            .vectorize(c, step, TailStrategy::GuardWithIf);
    }

    if (f.mode != BatchNormMode::training) {
        return;
    }
    f.shifted_sums.compute_root();
    if (f.layout == BatchNormLayout::channels_first) {
        const RVar &over_spatial = f.over_batch.x, &over_samples = f.over_batch.y;
        Func per_sample = f.shifted_sums.update().rfactor(over_samples, n);
        per_sample.compute_root().parallel(n);
        per_sample.update().reorder(c, n).parallel(n);
        RVar chunk("chunk"), lane("lane");
        Var lane_var("lane_var");
        Func per_lane = per_sample.update()
                            .split(over_spatial, chunk, lane, lanes, TailStrategy::GuardWithIf)
                            .rfactor(lane, lane_var);
        per_lane.compute_at(per_sample, c).vectorize(lane_var);
        per_lane.update().vectorize(lane_var);
    } else {
        const RVar &over_positions = f.over_batch.x;
        RVar block("block"), in_block("in_block");
        Var block_var("block_var");
        Func per_block = f.shifted_sums.update()
                             .split(over_positions, block, in_block, knobs.positions_per_task,
                                    TailStrategy::GuardWithIf)
                             .rfactor(block, block_var);
        per_block.compute_root().parallel(block_var).vectorize(c, lanes, TailStrategy::GuardWithIf);
        per_block.update().parallel(block_var).vectorize(c, lanes, TailStrategy::GuardWithIf);
    }
}

}  // namespace normgen::x86
