// What the LayerNorm forward algorithm hands to its schedule: the Funcs and
// the loop variables, named as in the math.
#pragma once

#include "Halide.h"
#include "statistics.h"

namespace normgen {

struct LayerNormForwardFuncs {
    Halide::Var element, row;  // (element, row): element is innermost in memory
    // Whole rows (elements_per_chunk = 0): each row's statistics in one go.
    Halide::RDom over_row;     // every element of one row
    Halide::RDom over_pilot;   // the elements whose mean is the rough mean (statistics.h)
    int pilot_length = 0;      // over_pilot's length where the row is long enough (0: the row)
    GroupStatistics row_statistics;
    // Chunked rows (elements_per_chunk > 0): each chunk of a row summarized,
    // then the chunks combined, so that threads can share a long row.
    bool chunked = false;
    Halide::Var chunk;
    Halide::RDom within_chunk, over_chunks;  // (over_pilot: the start of a chunk)
    GroupStatistics chunk_statistics;
    Halide::Func chunk_summary;  // Tuple(mean, M2) per (row, chunk)
    ChunkCombination row_combination;
    Halide::Func row_mean, row_rstd;
    Halide::Func output, mean, rstd;  // the pipeline's outputs
};

}  // namespace normgen
