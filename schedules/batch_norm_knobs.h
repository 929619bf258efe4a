// The knobs of the BatchNorm schedules, forward and backward alike (the
// elementwise output is forward's output or backward's grad_input; the
// chunk sums are forward's statistics or backward's sums of dy and
// dy * xhat).
#pragma once

#include "Halide.h"

namespace normgen {

// Declared inside the generators, so each knob is a GeneratorParam that
// add_halide_library(... PARAMS name=value) sets.
struct BatchNormKnobs {
    // x86: lanes per vector; 0: the target's natural width.
    Halide::GeneratorParam<int> vector_width{"vector_width", 0, 0, 64};
    // x86: native vectors per step of the loops.
    Halide::GeneratorParam<int> vectors_per_step{"vectors_per_step", 2, 1, 8};
    // x86 channels_last: vectors of channels whose sums stay in registers
    // while a chunk's positions stream by.
    Halide::GeneratorParam<int> channel_vectors{"channel_vectors", 4, 1, 16};
    // x86: elements per thread-pool task of the elementwise output, in whole
    // (channel, sample) planes (channels_first) or whole positions of C
    // channels (channels_last); a task takes at least one. (The sums' tasks
    // are the generator's chunks; backward's evaluation-mode grad_input
    // takes theirs.)
    Halide::GeneratorParam<int> elements_per_task{"elements_per_task", 1 << 14, 1, 1 << 24};
    // x86 channels_last: the elementwise output's tasks are equal shares of
    // the positions, as many as elements_per_task makes, rounded up to a
    // multiple of task_multiple (the machine's cores), so that no thread
    // waits while another finishes a last task that is only partly full.
    Halide::GeneratorParam<int> task_multiple{"task_multiple", 1, 1, 1024};
    // x86: the elementwise output (forward's output, backward's
    // grad_input) of tensors of at least streaming_elements values, too
    // large for the caches, in vectors of streaming_vector_width lanes.
    Halide::GeneratorParam<int> streaming_elements{"streaming_elements", 1 << 21, 1, 1 << 30};
    Halide::GeneratorParam<int> streaming_vector_width{"streaming_vector_width", 4, 1, 64};
    // x86 channels_first: channels whose chunks over the same samples one
    // thread-pool task sums, walking them in storage order.
    Halide::GeneratorParam<int> channels_per_task{"channels_per_task", 64, 1, 1 << 16};
    // CUDA: threads per block of the elementwise output and, channels_first,
    // of a chunk's sums (one block per chunk).
    Halide::GeneratorParam<int> threads_per_block{"threads_per_block", 256, 32, 1024};
    // CUDA channels_last: chunks per block of the sums (a thread per channel
    // and chunk).
    Halide::GeneratorParam<int> chunks_per_block{"chunks_per_block", 8, 1, 32};
    // CUDA: loads each thread of the sums keeps in flight (its loops
    // unrolled so far).
    Halide::GeneratorParam<int> loads_in_flight{"loads_in_flight", 4, 1, 16};
    // CUDA: values each thread adds per level of a block's reduction tree
    // (block_reduction).
    Halide::GeneratorParam<int> fold_radix{"fold_radix", 4, 2, 32};
    // CUDA: threads of the block that adds a channel's chunks.
    Halide::GeneratorParam<int> combine_threads{"combine_threads", 32, 32, 1024};
    // CUDA: consecutive samples (channels_first) or positions
    // (channels_last) per thread of the elementwise output, whose channel's
    // coefficients it loads once.
    Halide::GeneratorParam<int> elements_per_thread{"elements_per_thread", 4, 1, 32};
};

// The step along a plane of the channels_first chunk sums that `target`'s
// schedule takes with `knobs`: the algorithm pads each plane to whole steps
// of it (generators/channel_chunks.h); 1: no padding.
int schedule_batch_norm_plane_step(const Halide::Target &target, const BatchNormKnobs &knobs);

}  // namespace normgen
