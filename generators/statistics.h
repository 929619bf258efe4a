// Mean and spread of a group of values by the corrected two-pass algorithm
// (Chan, Golub and LeVeque), shared by LayerNorm (a group is a row) and
// BatchNorm (a group is a chunk of one channel):
//
//   m    = mean of a pilot: the group, or its first few values  (a rough mean)
//   d    = x - m,  sums of d and d^2                              one pass
//   mean = m + sum(d) / n
//   M2   = sum(d^2) - sum(d)^2 / n               (sum of squared deviations)
//
// The formulas are exact for any m; m only has to be near the mean, so that
// the deviations are small and neither their sums nor M2 cancel the way
// E[x^2] - E[x]^2 does when |mean| >> std (M2 loses about
// log2(n (mean - m)^2 / M2) bits). A whole-group pilot makes that nothing
// but costs a pass; a pilot of the first P values costs almost nothing and,
// for values that do not sort themselves along the group, leaves
// (mean - m)^2 near var / P. d is computed with strict float semantics:
// otherwise the compiler may reassociate s + (x - m) into (s + x) - m and
// round at the magnitude of the data again.
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
    Halide::Func pilot_sum;       // over the pilot
    Halide::Func rough_mean;
    Halide::Func deviation_sums;  // the pass: Tuple(sum(d), sum(d^2)) (Form::kernel)
    Halide::Expr mean, m2;        // of the group, in terms of the Funcs above
};

// A pilot takes at least this fraction of its group, so that however the
// group is ordered its M2 loses at most about log2(16) = 4 bits to the
// shift: (mean - m)^2 / var is at most about n / pilot.
constexpr int pilot_fraction = 16;

// How many values a pilot of a group of `group_size` takes: `length`, or
// the group's first 16th where that is more, and at most the whole group.
inline Halide::Expr pilot_size(const Halide::Expr &group_size, int length) {
    return Halide::min(group_size, Halide::max(length, group_size / pilot_fraction));
}

// The values the rough mean averages: `value` at the points of its own RDom
// (a prefix of the group, at least one value), `count` of them.
struct Pilot {
    Halide::Expr value, count;
};

// `value` is the group's element at `over_group` (an RDom whose points are
// the group's elements), `group` the pure variables that name a group,
// `count` the number of elements in it. Where the RDom runs past the group
// (a short last chunk), `valid` says which points count: they add zero,
// through a select that vectorizes, where an RDom::where predicate on a
// vectorized dimension would not. Without a `pilot`, the rough mean is the
// whole group's (a pass of its own); Form::differentiable takes none.
inline GroupStatistics group_statistics(const std::string &name,
                                        const std::vector<Halide::Var> &group,
                                        const Halide::Expr &value, const Halide::Expr &count,
                                        const Halide::Expr &valid = Halide::Expr(),
                                        Form form = Form::kernel,
                                        const Pilot &pilot = Pilot()) {
    using namespace Halide;
    if (pilot.value.defined() && form == Form::differentiable) {
        throw CompileError("Form::differentiable needs the whole group as its pilot");
    }
    std::vector<Expr> at(group.begin(), group.end());
    GroupStatistics s;
    s.pilot_sum = Func(name + "_pilot_sum");
    s.pilot_sum(at) = 0.0f;
    if (pilot.value.defined()) {
        s.pilot_sum(at) += pilot.value;
    } else {
        s.pilot_sum(at) += valid.defined() ? select(valid, value, 0.0f) : value;
    }

    s.rough_mean = Func(name + "_rough_mean");
    s.rough_mean(at) = s.pilot_sum(at) / (pilot.value.defined() ? pilot.count : count);

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
        sum_of_deviations = s.pilot_sum(at) - count * s.rough_mean(at);
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
