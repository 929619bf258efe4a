#pragma once

#include "schedules/layer_norm_forward_schedule.h"

namespace normgen::cuda {

void schedule_layer_norm_forward(LayerNormForwardFuncs funcs,
                                 const Halide::Target &target,
                                 const LayerNormForwardKnobs &knobs);

}  // namespace normgen::cuda
