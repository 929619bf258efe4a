// What the BatchNorm forward algorithm hands to its schedule.
#pragma once

#include "Halide.h"

namespace normgen {

enum class BatchNormLayout {
    channels_first,  // NCHW-like: input(spatial, channel, sample), spatial innermost
    channels_last,   // NHWC-like: input(channel, position), channel innermost
};

enum class BatchNormMode {
    training,   // statistics of this batch; running statistics updated
    inference,  // running statistics, read only
};

struct BatchNormForwardFuncs {
    BatchNormLayout layout;
    BatchNormMode mode;
    // channels_first uses (spatial, channel, sample); channels_last uses
    // (channel, position), position running over every sample and spatial site.
    Halide::Var spatial, channel, sample, position;
    Halide::RDom over_batch;  // every element of one channel
    Halide::Func shifted_sums;  // training: Tuple(sum(x - x0), sum((x - x0)^2)) per channel
    Halide::Func scale, shift;  // output = input * scale + shift, per channel
    Halide::Func output;
    // training only:
    Halide::Func saved_mean, saved_invstd, running_mean_out, running_var_out;
};

}  // namespace normgen
