// How the LeNet layers run: the knobs a person (or, later, an autotuner) may turn,
// and the entry points that pick each layer's schedule for the target.
#pragma once

#include "Halide.h"
#include "generators/layers.h"

namespace normgen {

// Declared inside each generator, so each knob is a GeneratorParam that
// add_halide_library(... PARAMS name=value) sets.
struct ConvolutionKnobs {
    // Lanes of the loop along x: the output is computed in tiles of
    // vector_width x rows_per_tile positions by channels_per_tile channels,
    // each tile's sums held in registers while the taps stream past.
    Halide::GeneratorParam<int> vector_width{"vector_width", 8, 1, 64};
    Halide::GeneratorParam<int> rows_per_tile{"rows_per_tile", 2, 1, 8};
    Halide::GeneratorParam<int> channels_per_tile{"channels_per_tile", 5, 1, 16};
};

struct ConvolutionWeightKnobs {
    // Lanes along x of the per-lane partial sums, and out channels whose
    // partial sums (each kernel_size vectors) are held in registers at once.
    Halide::GeneratorParam<int> vector_width{"vector_width", 8, 1, 64};
    Halide::GeneratorParam<int> channels_per_tile{"channels_per_tile", 2, 1, 16};
    // Samples summed apart (a task each), so that a chunk's input and
    // grad_output stay in cache while every tap's sums pass over them.
    Halide::GeneratorParam<int> samples_per_chunk{"samples_per_chunk", 8, 1, 1024};
};

struct PoolingKnobs {
    Halide::GeneratorParam<int> vector_width{"vector_width", 8, 1, 64};
};

struct LinearKnobs {
    // Lanes of the vector loops, and the register tile: features_per_tile
    // output features by samples_per_tile samples.
    Halide::GeneratorParam<int> vector_width{"vector_width", 8, 1, 64};
    Halide::GeneratorParam<int> features_per_tile{"features_per_tile", 4, 1, 16};
    Halide::GeneratorParam<int> samples_per_tile{"samples_per_tile", 2, 1, 16};
};

struct OptimizerKnobs {
    Halide::GeneratorParam<int> vector_width{"vector_width", 8, 1, 64};
    // Elements per thread-pool task.
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 15, 64, 1 << 24};
};

void schedule_convolution(ConvolutionFuncs funcs, const Halide::Target &target,
                          const ConvolutionKnobs &knobs);
void schedule_convolution_input(ConvolutionInputFuncs funcs, const Halide::Target &target,
                                const ConvolutionKnobs &knobs);
void schedule_convolution_weight(ConvolutionWeightFuncs funcs, const Halide::Target &target,
                                 const ConvolutionWeightKnobs &knobs);
void schedule_pooling(PoolingFuncs funcs, const Halide::Target &target,
                      const PoolingKnobs &knobs);
void schedule_linear(LinearFuncs funcs, const Halide::Target &target, const LinearKnobs &knobs);
void schedule_linear_backward(LinearBackwardFuncs funcs, const Halide::Target &target,
                              const LinearKnobs &knobs);
void schedule_optimizer(OptimizerFuncs funcs, const Halide::Target &target,
                        const OptimizerKnobs &knobs);
void schedule_softmax_cross_entropy(SoftmaxCrossEntropyFuncs funcs,
                                    const Halide::Target &target);

}  // namespace normgen
