#pragma once

#include "schedules/batch_norm_forward_schedule.h"

namespace normgen::x86 {

void schedule_batch_norm_forward(BatchNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const BatchNormKnobs &knobs);

}  // namespace normgen::x86
