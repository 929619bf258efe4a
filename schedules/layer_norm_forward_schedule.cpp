#include "schedules/layer_norm_forward_schedule.h"

#include "schedules/cuda/layer_norm_forward.h"
#include "schedules/x86/layer_norm_forward.h"

namespace normgen {

void schedule_layer_norm_forward(LayerNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const LayerNormForwardKnobs &knobs) {
    if (target.has_feature(Halide::Target::CUDA)) {
        cuda::schedule_layer_norm_forward(funcs, target, knobs);
        return;
    }
    if (target.arch == Halide::Target::X86 && !target.has_gpu_feature()) {
        x86::schedule_layer_norm_forward(funcs, target, knobs);
        return;
    }
    throw Halide::CompileError("layer_norm_forward has no schedule for target " +
                               target.to_string());
}

}  // namespace normgen
