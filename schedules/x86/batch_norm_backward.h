#pragma once

#include "schedules/batch_norm_backward_schedule.h"

namespace normgen::x86 {

void schedule_batch_norm_backward(BatchNormBackwardFuncs funcs, const Halide::Target &target,
                                  const BatchNormKnobs &knobs);

}  // namespace normgen::x86
