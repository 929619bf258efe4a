// How BatchNorm backward runs: the knobs, and the entry point that picks the
// schedule for the generator's target.
#pragma once

#include "Halide.h"
#include "generators/batch_norm_backward.h"

namespace normgen {

// Declared inside the generator, so each knob is a GeneratorParam.
struct BatchNormBackwardKnobs {
    // x86: lanes per vector; 0: the target's natural width.
    Halide::GeneratorParam<int> vector_width{"vector_width", 0, 0, 64};
    // x86: native vectors per step of the loops; elements of grad_input per
    // thread-pool task (training; evaluation mode's tasks are the chunks').
    Halide::GeneratorParam<int> vectors_per_step{"vectors_per_step", 2, 1, 8};
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 14, 1, 1 << 24};
    // x86 channels_first: channels whose chunks over the same samples one
    // thread-pool task sums (evaluation mode: and writes the grad_input of),
    // walking them in storage order.
    Halide::GeneratorParam<int> channels_per_task{"channels_per_task", 64, 1, 1 << 16};
    // x86 channels_last: vectors of channels whose sums stay in registers
    // while a chunk's positions stream by.
    Halide::GeneratorParam<int> channel_vectors{"channel_vectors", 4, 1, 16};
    // CUDA, as BatchNormForwardKnobs.
    Halide::GeneratorParam<int> threads_per_block{"threads_per_block", 256, 32, 1024};
    Halide::GeneratorParam<int> chunks_per_block{"chunks_per_block", 8, 1, 32};
    Halide::GeneratorParam<int> loads_in_flight{"loads_in_flight", 4, 1, 16};
    // CUDA: values each thread adds per level of a block's reduction tree
    // (block_reduction).
    Halide::GeneratorParam<int> fold_radix{"fold_radix", 4, 2, 32};
    // CUDA: threads of the block that adds a channel's chunks.
    Halide::GeneratorParam<int> combine_threads{"combine_threads", 32, 32, 1024};
    // CUDA: consecutive samples (channels_first) or positions
    // (channels_last) per thread of the elementwise output, whose channel's
    // scale and shift it loads once.
    Halide::GeneratorParam<int> elements_per_thread{"elements_per_thread", 4, 1, 32};
};

void schedule_batch_norm_backward(BatchNormBackwardFuncs funcs, const Halide::Target &target,
                                  const BatchNormBackwardKnobs &knobs);

}  // namespace normgen
