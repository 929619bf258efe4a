# Knob values of the x86 schedules, per shape class (see each schedule's
# header for what a knob means). Hand-picked; the autotuner rewrites this.
set(NORMGEN_X86_LAYER_NORM_FORWARD_long_rows vectors_per_step=8 rows_per_task=16)
set(NORMGEN_X86_LAYER_NORM_FORWARD_short_rows vectors_per_step=1 rows_per_task=64)
set(NORMGEN_X86_BATCH_NORM_FORWARD_channels_first vectors_per_step=2)
set(NORMGEN_X86_BATCH_NORM_FORWARD_channels_last vectors_per_step=1 positions_per_task=256)
