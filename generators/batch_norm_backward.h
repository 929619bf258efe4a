// What the BatchNorm backward algorithm hands to its schedule.
#pragma once

#include "Halide.h"
#include "batch_norm_forward.h"

namespace normgen {

struct BatchNormBackwardFuncs {
    BatchNormLayout layout;
    BatchNormMode mode;  // inference: the evaluation-mode backward
    Halide::Var spatial, channel, sample, position;
    // Per channel: the saved invstd (training), or 1 / sqrt(running_var + eps).
    Halide::Func invstd;
    // Each channel's sums come in the chunks of channel_chunks.h, summed
    // per (channel, chunk), then per channel.
    Halide::Var chunk;
    Halide::RDom within_chunk, over_chunks;
    // Where defined, the condition schedules specialize the chunk sums on
    // (channel_chunks.h).
    Halide::Expr planes_fill_steps;
    Halide::Func chunk_sums;    // Tuple(sum(dy), sum(dy * xhat)) per (channel, chunk)
    Halide::Func channel_sums;  // the same per channel
    // Tuple(dy_scale, x_scale, shift) per channel:
    // grad_input = dy * dy_scale + x * x_scale + shift.
    Halide::Func coefficients;
    Halide::Func grad_input, grad_weight, grad_bias;
};

}  // namespace normgen
