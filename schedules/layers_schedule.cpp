#include "schedules/layers_schedule.h"

#include "schedules/x86/layers.h"

namespace normgen {

namespace {

// The layers have x86 schedules only: the demo runs them on the CPU.
void require_x86(const Halide::Target &target, const char *layer) {
    if (target.arch != Halide::Target::X86 || target.has_gpu_feature()) {
        throw Halide::CompileError(std::string(layer) + " has no schedule for target " +
                                   target.to_string());
    }
}

}  // namespace

void schedule_convolution(ConvolutionFuncs funcs, const Halide::Target &target,
                          const ConvolutionKnobs &knobs) {
    require_x86(target, "convolution");
    x86::schedule_convolution(funcs, knobs);
}

void schedule_convolution_input(ConvolutionInputFuncs funcs, const Halide::Target &target,
                                const ConvolutionKnobs &knobs) {
    require_x86(target, "convolution_backward_input");
    x86::schedule_convolution_input(funcs, knobs);
}

void schedule_convolution_weight(ConvolutionWeightFuncs funcs, const Halide::Target &target,
                                 const ConvolutionWeightKnobs &knobs) {
    require_x86(target, "convolution_backward_weight");
    x86::schedule_convolution_weight(funcs, knobs);
}

void schedule_pooling(PoolingFuncs funcs, const Halide::Target &target,
                      const PoolingKnobs &knobs) {
    require_x86(target, "relu_max_pool");
    x86::schedule_pooling(funcs, knobs);
}

void schedule_linear(LinearFuncs funcs, const Halide::Target &target, const LinearKnobs &knobs) {
    require_x86(target, "linear_forward");
    x86::schedule_linear(funcs, knobs);
}

void schedule_linear_backward(LinearBackwardFuncs funcs, const Halide::Target &target,
                              const LinearKnobs &knobs) {
    require_x86(target, "linear_backward");
    x86::schedule_linear_backward(funcs, knobs);
}

void schedule_optimizer(OptimizerFuncs funcs, const Halide::Target &target,
                        const OptimizerKnobs &knobs) {
    require_x86(target, "optimizer step");
    x86::schedule_optimizer(funcs, knobs);
}

void schedule_softmax_cross_entropy(SoftmaxCrossEntropyFuncs funcs,
                                    const Halide::Target &target) {
    require_x86(target, "softmax_cross_entropy");
    x86::schedule_softmax_cross_entropy(funcs);
}

}  // namespace normgen
