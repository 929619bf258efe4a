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

struct GroupStatistics {
    Halide::Func sum_of_values;   // first pass
    Halide::Func rough_mean;
    Halide::Func deviation_sums;  // second pass: Tuple(sum(d), sum(d^2))
    Halide::Expr mean, m2;        // of the group, in terms of the Funcs above
};

// `value` is the group's element at `over_group` (an RDom whose points are
// the group's elements), `group` the pure variables that name a group,
// `count` the number of elements in it.
inline GroupStatistics group_statistics(const std::string &name,
                                        const std::vector<Halide::Var> &group,
                                        const Halide::Expr &value, const Halide::Expr &count) {
    using namespace Halide;
    std::vector<Expr> at(group.begin(), group.end());
    GroupStatistics s;
    s.sum_of_values = Func(name + "_sum_of_values");
    s.sum_of_values(at) = 0.0f;
    s.sum_of_values(at) += value;

    s.rough_mean = Func(name + "_rough_mean");
    s.rough_mean(at) = s.sum_of_values(at) / count;

    s.deviation_sums = Func(name + "_deviation_sums");
    s.deviation_sums(at) = Tuple(0.0f, 0.0f);
    Expr deviation = strict_float(value - s.rough_mean(at));
    s.deviation_sums(at) = Tuple(s.deviation_sums(at)[0] + deviation,
                                 s.deviation_sums(at)[1] + deviation * deviation);

    Expr sum_of_deviations = s.deviation_sums(at)[0];
    s.mean = s.rough_mean(at) + sum_of_deviations / count;
    s.m2 = max(s.deviation_sums(at)[1] - sum_of_deviations * sum_of_deviations / count, 0.0f);
    return s;
}

}  // namespace normgen
