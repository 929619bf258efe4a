#include "schedules/batch_norm_knobs.h"
#include "schedules/x86/elementwise.h"

namespace normgen {

// x86: the sums' step, lanes x vectors_per_step. A plane's short last step
// would update its accumulators under a mask; the masked store, read right
// after, cannot be forwarded on the AMD EPYC of the benchmarks, and the
// channel's partial sums took a masked read and write per plane (forward and
// backward alike). Whole steps, interleaved calls, forward training:
// 16x64x14x14 on one thread in cache 0.68x the time; 2 threads 256x50x8x8
// 0.84x, 64x20x24x24 0.95x, 128x256x14x14 0.93-0.97x; planes of 1, 9 and 49
// values 0.43x, 0.70x, 0.62x; backward training 0.87x, 0.89x, 0.92-0.98x,
// 0.98x; 0.66x, 1.05x, 0.86x. Moving the last step back to end with its
// plane, read as whole vectors rather than value by value clamped: forward
// training 16x64x14x14 one thread 0.89x, 2 threads 128x256x14x14 0.97x,
// 64x64x7x7 0.54x, planes of 17 values 0.59x; backward training 0.83x,
// 0.98x, 0.60x, 0.49x. (A step of any other length than the loop's would
// leave a short step, or vectors across two steps, whose reads the
// simplifier no longer sees as whole vectors.)
// CUDA: 1; its threads take the elements of a chunk one by one.
int schedule_batch_norm_plane_step(const Halide::Target &target, const BatchNormKnobs &knobs) {
    if (target.arch == Halide::Target::X86 && !target.has_gpu_feature()) {
        return x86::vector_lanes(target, knobs.vector_width) * knobs.vectors_per_step;
    }
    return 1;
}

}  // namespace normgen
