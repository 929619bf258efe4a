// How BatchNorm backward runs: the entry point that picks the schedule for the
// generator's target (the knobs: batch_norm_knobs.h).
#pragma once

#include "Halide.h"
#include "generators/batch_norm_backward.h"
#include "schedules/batch_norm_knobs.h"

namespace normgen {

void schedule_batch_norm_backward(BatchNormBackwardFuncs funcs, const Halide::Target &target,
                                  const BatchNormKnobs &knobs);

}  // namespace normgen
