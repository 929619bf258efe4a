#pragma once

#include "schedules/layer_norm_forward_schedule.h"

namespace normgen::x86 {

void schedule_layer_norm_forward(LayerNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const LayerNormForwardKnobs &knobs);

}  // namespace normgen::x86
