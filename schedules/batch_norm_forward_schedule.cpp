#include "schedules/batch_norm_forward_schedule.h"

#include "schedules/cuda/batch_norm_forward.h"
#include "schedules/x86/batch_norm_forward.h"

namespace normgen {

void schedule_batch_norm_forward(BatchNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const BatchNormKnobs &knobs) {
    if (target.has_feature(Halide::Target::CUDA)) {
        cuda::schedule_batch_norm_forward(funcs, target, knobs);
        return;
    }
    if (target.arch == Halide::Target::X86 && !target.has_gpu_feature()) {
        x86::schedule_batch_norm_forward(funcs, target, knobs);
        return;
    }
    throw Halide::CompileError("batch_norm_forward has no schedule for target " +
                               target.to_string());
}

}  // namespace normgen
