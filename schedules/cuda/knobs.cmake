# Knob values of the CUDA schedules (what a knob means:
# schedules/<kernel>_schedule.h, BatchNorm's schedules/batch_norm_knobs.h).
# Chosen from few measurements (scripts/gpu-check on an H100, README):
# scripts/gpu-check measures them where a GPU is lent.
# The rough mean is that of the whole row (pilot_length=0): a pilot of 64
# values saved no time on an H100 (the pass re-reads the row from cache).
set(NORMGEN_CUDA_LAYER_NORM_FORWARD_warp_per_row warps_per_block=4)
set(NORMGEN_CUDA_LAYER_NORM_FORWARD_block_per_row threads_per_row=256)
# channels_first: chunks of 16 Ki elements give a block 64 elements per
# thread. channels_last: a thread per channel and chunk; chunks of 4 Ki
# elements (64 positions of 64 channels) keep enough threads, and so loads,
# in flight. A chunk's rough mean is that of the whole chunk
# (pilot_length=0); the schedules also take a pilot (pilot_length=64 or 16,
# as on x86, saving a pass), not yet measured on a GPU.
set(NORMGEN_CUDA_BATCH_NORM_channels_first threads_per_block=256 chunks_per_block=8 elements_per_chunk=16384)
set(NORMGEN_CUDA_BATCH_NORM_channels_last threads_per_block=256 chunks_per_block=8 elements_per_chunk=4096)
set(NORMGEN_CUDA_BATCH_NORM_FORWARD_channels_first pilot_length=0)
set(NORMGEN_CUDA_BATCH_NORM_FORWARD_channels_last pilot_length=0)
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_warp_per_row row_class=warp_per_row warps_per_block=4)
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_block_per_row row_class=block_per_row threads_per_row=256)
# A block sums 64 rows of each of its 128 elements.
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_PARAMETERS rows_per_task=64)
