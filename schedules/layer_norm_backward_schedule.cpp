#include "schedules/layer_norm_backward_schedule.h"

#include "schedules/cuda/layer_norm_backward.h"
#include "schedules/x86/layer_norm_backward.h"

namespace normgen {

namespace {
bool is_x86_cpu(const Halide::Target &target) {
    return target.arch == Halide::Target::X86 && !target.has_gpu_feature();
}
}  // namespace

void schedule_layer_norm_backward(LayerNormBackwardFuncs funcs, const Halide::Target &target,
                                  const LayerNormBackwardKnobs &knobs) {
    if (target.has_feature(Halide::Target::CUDA)) {
        cuda::schedule_layer_norm_backward(funcs, target, knobs);
    } else if (is_x86_cpu(target)) {
        x86::schedule_layer_norm_backward(funcs, target, knobs);
    } else {
        throw Halide::CompileError("layer_norm_backward has no schedule for target " +
                                   target.to_string());
    }
}

void schedule_layer_norm_backward_parameters(LayerNormBackwardParameterFuncs funcs,
                                             const Halide::Target &target,
                                             const LayerNormBackwardKnobs &knobs) {
    if (target.has_feature(Halide::Target::CUDA)) {
        cuda::schedule_layer_norm_backward_parameters(funcs, target, knobs);
    } else if (is_x86_cpu(target)) {
        x86::schedule_layer_norm_backward_parameters(funcs, target, knobs);
    } else {
        throw Halide::CompileError("layer_norm_backward_parameters has no schedule for target " +
                                   target.to_string());
    }
}

}  // namespace normgen
