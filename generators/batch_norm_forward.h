// What the BatchNorm forward algorithm hands to its schedule.
#pragma once

#include "Halide.h"
#include "statistics.h"

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
    Halide::Func scale, shift;  // output = input * scale + shift, per channel
    Halide::Func output;
    // training only: each channel's elements come in chunks of about
    // elements_per_chunk (channels_first: the planes of consecutive samples,
    // within_chunk = (spatial, sample in chunk); channels_last: consecutive
    // positions), summarized by (channel, chunk), then combined per channel.
    Halide::Var chunk;
    Halide::RDom within_chunk, over_chunks;
    GroupStatistics chunk_statistics;
    Halide::Func chunk_summary;  // Tuple(mean, M2) per (channel, chunk)
    ChunkCombination channel_combination;
    Halide::Func saved_mean, saved_invstd, running_mean_out, running_var_out;
};

}  // namespace normgen
