// Mean and spread of a group of values by the corrected two-pass algorithm
// (Chan, Golub and LeVeque), shared by LayerNorm (a group is a row) and
// BatchNorm (a group is a chunk of one channel):
//
//   m    = sum(x) / n                            first pass: a rough mean
//   d    = x - m,  sums of d and d^2              second pass
//   mean = m + sum(d) / n
//   M2   = sum(d^2) - sum(d)^2 / n               (sum of squared deviations)
//
// The deviations are small, so neither their sums nor M2 cancel the way
// E[x^2] - E[x]^2 does when |mean| >> std, and sum(d) repairs the rounding
// of the first sum. d is computed with strict float semantics: otherwise the
// compiler may reassociate s + (x - m) into (s + x) - m and round at the
// magnitude of the data again.
#pragma once

#include <string>
#include <vector>

#include "Halide.h"

namespace normgen {

// How the statistics are written. kernel: the deviations exactly as written
// (strict_float), and both deviation sums in one pass (a Tuple reduction).
// differentiable: the same mathematics in the form Halide 21's automatic
// differentiation follows correctly, only for the autodiff check. It drops
// gradients through strict_float's operations and Tuple reductions, and
// counts a reduction's call to a value that does not vary along the
// reduction (the rough mean in sum(x - m)) once instead of once per
// element, so sum(x - m) is written sum(x) - n * m there. (In sum((x - m)^2)
// that miscount multiplies the gradient through m, which is zero.)
enum class Form { kernel, differentiable };

struct GroupStatistics {
    Halide::Func sum_of_values;   // first pass
    Halide::Func rough_mean;
    Halide::Func deviation_sums;  // second pass: Tuple(sum(d), sum(d^2)) (Form::kernel)
    Halide::Expr mean, m2;        // of the group, in terms of the Funcs above
};

// `value` is the group's element at `over_group` (an RDom whose points are
// the group's elements), `group` the pure variables that name a group,
// `count` the number of elements in it. Where the RDom runs past the group
// (a short last chunk), `valid` says which points count: they add zero,
// through a select that vectorizes, where an RDom::where predicate on a
// vectorized dimension would not.
inline GroupStatistics group_statistics(const std::string &name,
                                        const std::vector<Halide::Var> &group,
                                        const Halide::Expr &value, const Halide::Expr &count,
                                        const Halide::Expr &valid = Halide::Expr(),
                                        Form form = Form::kernel) {
    using namespace Halide;
    std::vector<Expr> at(group.begin(), group.end());
    GroupStatistics s;
    s.sum_of_values = Func(name + "_sum_of_values");
    s.sum_of_values(at) = 0.0f;
    s.sum_of_values(at) += valid.defined() ? select(valid, value, 0.0f) : value;

    s.rough_mean = Func(name + "_rough_mean");
    s.rough_mean(at) = s.sum_of_values(at) / count;

    Expr deviation = value - s.rough_mean(at);
    if (form == Form::kernel) deviation = strict_float(deviation);
    if (valid.defined()) deviation = select(valid, deviation, 0.0f);
    Expr sum_of_deviations, sum_of_squares;
    if (form == Form::kernel) {
        s.deviation_sums = Func(name + "_deviation_sums");
        s.deviation_sums(at) = Tuple(0.0f, 0.0f);
        s.deviation_sums(at) = Tuple(s.deviation_sums(at)[0] + deviation,
                                     s.deviation_sums(at)[1] + deviation * deviation);
        sum_of_deviations = s.deviation_sums(at)[0];
        sum_of_squares = s.deviation_sums(at)[1];
    } else {
        Func squares(name + "_squared_deviations");
        squares(at) = 0.0f;
        squares(at) += deviation * deviation;
        sum_of_deviations = s.sum_of_values(at) - count * s.rough_mean(at);
        sum_of_squares = squares(at);
    }
    s.mean = s.rough_mean(at) + sum_of_deviations / count;
    s.m2 = max(sum_of_squares - sum_of_deviations * sum_of_deviations / count, 0.0f);
    return s;
}

// Mean and M2 of a group made of chunks, from each chunk's (mean, M2) by
// Chan, Golub and LeVeque's pairwise update:
//
//   mean = m0 + sum_k n_k (mean_k - m0) / n          (m0: the first chunk's mean)
//   M2   = sum_k M2_k + sum_k n_k (mean_k - mean)^2
//
// sums of small or positive terms only, so that chunks may be summarized in
// any order (by different threads) and combined without cancellation.
struct ChunkCombination {
    Halide::Func offset_sum;  // sum_k n_k (mean_k - m0)
    Halide::Func spread;      // M2
    Halide::Expr mean, m2;    // of the group
};

// `summary(group..., chunk)` is Tuple(mean, M2) of a chunk; `over_chunks`
// runs over the chunks, `chunk_length` is the length of chunk over_chunks,
// `count` the group's length.
inline ChunkCombination combine_chunks(const std::string &name,
                                       const std::vector<Halide::Var> &group,
                                       const Halide::Func &summary,
                                       const Halide::RDom &over_chunks,
                                       const Halide::Expr &chunk_length,
                                       const Halide::Expr &count) {
    using namespace Halide;
    std::vector<Expr> at(group.begin(), group.end());
    auto chunk = [&](const Expr &k) {
        std::vector<Expr> args = at;
        args.push_back(k);
        return summary(args);
    };
    ChunkCombination c;
    Expr first_chunk_mean = chunk(0)[0];
    c.offset_sum = Func(name + "_offset_sum");
    c.offset_sum(at) = 0.0f;
    c.offset_sum(at) += chunk_length * strict_float(chunk(over_chunks)[0] - first_chunk_mean);
    c.mean = first_chunk_mean + c.offset_sum(at) / count;

    c.spread = Func(name + "_spread");
    c.spread(at) = 0.0f;
    Expr chunk_offset = chunk(over_chunks)[0] - c.mean;
    c.spread(at) += chunk(over_chunks)[1] + chunk_length * chunk_offset * chunk_offset;
    c.m2 = c.spread(at);
    return c;
}

}  // namespace normgen
