// LayerNorm forward's definition over float32 values, shared by the forward
// generator and the autodiff check (tests/autodiff_generators.cpp), which
// differentiates this very definition.
#pragma once

#include "Halide.h"
#include "layer_norm_forward.h"
#include "statistics.h"

namespace normgen {

// Each row's statistics from chunks of `chunk` elements, summarized apart
// and then combined (combine_chunks), so that several threads can share one
// long row.
inline void define_chunked_row_statistics(LayerNormForwardFuncs &f, Halide::Func x,
                                          Halide::Expr row_length, Halide::Expr count, int chunk,
                                          int pilot_length) {
    using namespace Halide;
    const Var &r = f.row, &k = f.chunk;
    auto chunk_length = [row_length, chunk](const Expr &index) {
        return min(chunk, row_length - index * chunk);
    };
    f.chunked = true;
    // The last chunk may be short: its missing elements count as zero, and
    // the clamp keeps their reads inside the row.
    f.within_chunk = RDom(0, chunk, "within_chunk");
    Expr index = k * chunk + f.within_chunk;
    Pilot pilot;
    if (pilot_length > 0) {
        // The chunk's first values; past a short last chunk's end, zeros.
        f.over_pilot = RDom(0, pilot_size(chunk, pilot_length), "over_pilot");
        Expr pilot_index = k * chunk + f.over_pilot;
        pilot.value =
            select(pilot_index < row_length, x(min(pilot_index, row_length - 1), r), 0.0f);
        pilot.count = cast<float>(min(f.over_pilot.x.extent(), chunk_length(k)));
    } else {
        f.over_pilot = f.within_chunk;
    }
    f.chunk_statistics =
        group_statistics("chunk", {r, k}, x(min(index, row_length - 1), r),
                         cast<float>(chunk_length(k)), index < row_length, Form::kernel, pilot);
    f.chunk_summary = Func("chunk_summary");
    f.chunk_summary(r, k) = Tuple(f.chunk_statistics.mean, f.chunk_statistics.m2);
    f.over_chunks = RDom(0, (row_length + chunk - 1) / chunk, "over_chunks");
    f.row_combination = combine_chunks("row", {r}, f.chunk_summary, f.over_chunks,
                                       cast<float>(chunk_length(f.over_chunks)), count);
}

// Defines the statistics of each row of x(element, row) (whole rows for
// elements_per_chunk = 0, else chunks), f.row_mean and f.row_rstd, and
// returns the normalized value at (f.element, f.row), before any affine
// parameters. The rough mean of a row (or chunk) is that of its first
// pilot_size(n, pilot_length) elements, or of all of them for
// pilot_length = 0 (see statistics.h). (Form::differentiable is for the
// autodiff check only, and takes whole rows and pilots.)
inline Halide::Expr define_layer_norm(LayerNormForwardFuncs &f, Halide::Func x,
                                      Halide::Expr row_length, Halide::Expr eps,
                                      int elements_per_chunk, int pilot_length,
                                      Form form = Form::kernel) {
    using namespace Halide;
    const Var &e = f.element, &r = f.row;
    f.over_row = RDom(0, row_length, "over_row");
    f.pilot_length = pilot_length;
    Expr count = cast<float>(row_length);
    Expr row_mean, row_m2;
    if (elements_per_chunk == 0) {
        Pilot pilot;
        if (pilot_length > 0) {
            Expr pilot_count = pilot_size(row_length, pilot_length);
            f.over_pilot = RDom(0, pilot_count, "over_pilot");
            pilot = {x(f.over_pilot, r), cast<float>(pilot_count)};
        } else {
            f.over_pilot = f.over_row;
        }
        f.row_statistics =
            group_statistics("row", {r}, x(f.over_row, r), count, Expr(), form, pilot);
        row_mean = f.row_statistics.mean;
        row_m2 = f.row_statistics.m2;
    } else {
        define_chunked_row_statistics(f, x, row_length, count, elements_per_chunk, pilot_length);
        row_mean = f.row_combination.mean;
        row_m2 = f.row_combination.m2;
    }
    f.row_mean = Func("row_mean");
    f.row_mean(r) = row_mean;
    f.row_rstd = Func("row_rstd");
    f.row_rstd(r) = 1.0f / sqrt(row_m2 / count + eps);
    return (x(e, r) - f.row_mean(r)) * f.row_rstd(r);
}

}  // namespace normgen
