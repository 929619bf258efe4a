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

// The GeneratorParams both BatchNorm generators (forward and backward) take.
// Declared inside each generator, so that add_halide_library(... PARAMS
// name=value) sets them.
struct BatchNormParams {
    Halide::GeneratorParam<Halide::Type> element_type{"element_type", Halide::Float(32)};
    Halide::GeneratorParam<BatchNormLayout> layout{
        "layout", BatchNormLayout::channels_first,
        {{"channels_first", BatchNormLayout::channels_first},
         {"channels_last", BatchNormLayout::channels_last}}};
    Halide::GeneratorParam<BatchNormMode> mode{"mode", BatchNormMode::training,
                                               {{"training", BatchNormMode::training},
                                                {"inference", BatchNormMode::inference}}};
    // About how many elements of a channel one chunk of the statistics
    // holds: whole planes of consecutive samples (channels_first) or whole
    // positions (channels_last), at least one (channel_chunks.h). Sized so
    // that a schedule can keep a chunk in cache between its two passes; the
    // target's knobs set it.
    Halide::GeneratorParam<int> elements_per_chunk{"elements_per_chunk", 4096, 1, 1 << 24};
    // channels_last: the fewest positions a chunk holds however many the
    // channels, so that wide rows still give each chunk a run of positions.
    Halide::GeneratorParam<int> min_positions_per_chunk{"min_positions_per_chunk", 64, 1, 1 << 20};
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
    Halide::RDom over_pilot;  // the values whose mean is a chunk's rough mean
    // Where defined, the condition schedules specialize the chunk sums on
    // (channel_chunks.h).
    Halide::Expr planes_fill_steps;
    GroupStatistics chunk_statistics;
    Halide::Func chunk_summary;  // Tuple(mean, M2) per (channel, chunk)
    ChunkCombination channel_combination;
    Halide::Func saved_mean, saved_invstd, running_mean_out, running_var_out;
};

}  // namespace normgen
