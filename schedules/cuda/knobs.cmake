# Knob values of the CUDA schedules (see each schedule's header for what a
# knob means). Chosen without a GPU to measure on: scripts/gpu-check
# measures them where one is lent.
set(NORMGEN_CUDA_LAYER_NORM_FORWARD_warp_per_row warps_per_block=4)
set(NORMGEN_CUDA_LAYER_NORM_FORWARD_block_per_row threads_per_row=256)
# Chunks of 16 Ki elements give a block 64 elements per thread.
set(NORMGEN_CUDA_BATCH_NORM_FORWARD threads_per_block=256 chunks_per_block=8 elements_per_chunk=16384)
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_warp_per_row row_class=warp_per_row warps_per_block=4)
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_block_per_row row_class=block_per_row threads_per_row=256)
# A block sums 64 rows of each of its 128 elements.
set(NORMGEN_CUDA_LAYER_NORM_BACKWARD_PARAMETERS rows_per_task=64)
set(NORMGEN_CUDA_BATCH_NORM_BACKWARD threads_per_block=256 chunks_per_block=8 elements_per_chunk=16384)
