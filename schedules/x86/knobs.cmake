# Knob values of the x86 schedules, per shape class (what a knob means:
# schedules/<kernel>_schedule.h, BatchNorm's schedules/batch_norm_knobs.h).
# Hand-picked, each beside the measurement that chose it: there is no autotuner yet.
# long_rows: tasks of 32 rows (4096x768 and 16384x1024, 2 threads: 0.88x and 0.91x the time of
# tasks of 16; 64x11520 and 256x3200 unchanged). A rows_per_task that shrinks for few rows, as
# backward's, put the statistics of each row on the heap (2x the time).
set(NORMGEN_X86_LAYER_NORM_FORWARD_long_rows vectors_per_step=4 rows_per_task=32 pilot_length=64)
# split_rows also sets the algorithm's chunk length: a task per chunk of the statistics,
# one pass over it after its pilot (1x1048576, 2 threads: 165 us with chunks of 4096,
# 151 with 16384).
set(NORMGEN_X86_LAYER_NORM_FORWARD_split_rows vectors_per_step=2 elements_per_task=16384
    elements_per_chunk=16384 pilot_length=64)
# wide_rows: groups of 8 rows, output chunks of 128 columns (2 threads, interleaved calls on
# 4096x4096: groups of 8 and chunks of 128 0.81-0.84x the time of long_rows; of 4 and 128 0.87x;
# 4 and 64 0.87x; 8 and 32 0.87x; 8 and 64 0.87x; 4 and 256 0.93x; 16 and 128 0.91x; 4 and 512
# 1.0x).
set(NORMGEN_X86_LAYER_NORM_FORWARD_wide_rows vectors_per_step=4 rows_per_task=32 pilot_length=64
    rows_per_group=8 columns_per_chunk=128)
# short_rows: a pilot of 4 of a row's (at most 63) values costs a quarter of a pass over
# it where 64 would cost a whole one (65536x16, 1 thread: 718 -> 505 us). Tasks of 4096 rows,
# at least 2 (interleaved calls, 2 threads, against tasks of 1024: 65536x16 0.87x the time,
# 65536x8 0.83x, 32768x32 0.96x, 16384x16 0.93x, 8192x16 0.94x, 4096x16 0.99x; tasks of 2048
# or 8192 rows measured the same as 4096, of 256 or 128 1.3-1.4x).
set(NORMGEN_X86_LAYER_NORM_FORWARD_short_rows vectors_per_step=1 rows_per_task=4096 fewest_tasks=2
    pilot_length=4)
# vector_rows: the pilot of short_rows; tasks of a constant 512 rows (2 threads: 5000x16 and
# 4095x32 0.66x and 0.60x the time of tasks of 4096, 65536x16 and 32768x32 the same). A count
# that shrinks for few rows (fewest_tasks) put branches in every row: 65536x16 1.2x the time.
set(NORMGEN_X86_LAYER_NORM_FORWARD_vector_rows rows_per_task=512 pilot_length=4)
# channels_first: output tasks of 64 Ki elements, not 16 Ki (2 threads: 32x64x56x56 inference
# 0.91x the time, training 0.94x; 128x256x14x14 and 256x50x8x8 0.97-1.03x). The statistics sum
# each plane in whole steps of lanes x vectors_per_step values
# (schedules/batch_norm_plane_step.cpp).
set(NORMGEN_X86_BATCH_NORM_FORWARD_channels_first vectors_per_step=2 pilot_length=64
    channels_per_task=64 elements_per_task=65536)
# channels_last: chunks of 32768 values (512 positions of 64 channels) rather than 4096, so
# that the chunks' combination, one thread's work, stays short (32x64x56x56 NHWC training, 2
# threads: 2.9 -> 1.8 ms; backward 4.1 -> 3.2 ms). Output tasks of 64 Ki elements, not 16 Ki
# (2 threads, inference: 0.93-0.96x the time on 32x64x56x56, 64x20x24x24, 256x50x8x8; 1.01x on
# 128x256x14x14; training within noise); now equal shares of about 256 Ki, an even number of
# them (see parallel_batch_norm_elementwise; shares of about 128 Ki measured within 1-3% of it,
# 256 Ki in an odd number 1.05x on 64x20x24x24).
set(NORMGEN_X86_BATCH_NORM_FORWARD_channels_last vectors_per_step=1 elements_per_task=262144
    task_multiple=2 elements_per_chunk=32768 pilot_length=16)
# long_rows: tasks of 64 rows, fewer where there would be fewer than 4 tasks (see
# schedules/x86/layer_norm_backward.cpp).
set(NORMGEN_X86_LAYER_NORM_BACKWARD_long_rows row_class=long_rows vectors_per_step=4 rows_per_task=64
    fewest_tasks=4)
# wide_rows: as the forward's, groups of 8 rows and chunks of 128 columns (grad_input), tasks of
# 64 rows (interleaved calls, 2 threads: 4096x4096 0.90-0.94x the time of long_rows, 4096x4097
# 0.95x, 2048x8192 0.91x, 64x11520 0.95x, 8192x2048 1.0x; groups of 4 and chunks of 128 0.90x,
# groups of 8 and chunks of 256 0.93x; tasks of 16 or 32 rows 1.0-1.4x).
set(NORMGEN_X86_LAYER_NORM_BACKWARD_wide_rows row_class=wide_rows vectors_per_step=4
    rows_per_task=64 fewest_tasks=4 rows_per_group=8 columns_per_chunk=128)
set(NORMGEN_X86_LAYER_NORM_BACKWARD_short_rows row_class=short_rows rows_per_task=1024
    fewest_tasks=1)
set(NORMGEN_X86_LAYER_NORM_BACKWARD_split_rows row_class=split_rows vectors_per_step=2 elements_per_task=16384)
set(NORMGEN_X86_LAYER_NORM_BACKWARD_PARAMETERS rows_per_task=64)
set(NORMGEN_X86_BATCH_NORM_BACKWARD_channels_first vectors_per_step=2 channels_per_task=64)
set(NORMGEN_X86_BATCH_NORM_BACKWARD_channels_last vectors_per_step=2 elements_per_chunk=32768)
# <prefix>_<variant>: a CPU variant's own values, for every shape class. On
# the AMD EPYC of the benchmarks, AVX-512 code runs faster with 8-lane
# vectors (its 16-lane instructions are split in two there): LayerNorm
# 4096x768, 2 threads, 380 -> 335 us, as fast as the avx2 variant.
foreach (kernel IN ITEMS LAYER_NORM_FORWARD LAYER_NORM_BACKWARD BATCH_NORM_FORWARD
                         BATCH_NORM_BACKWARD)
    set(NORMGEN_X86_${kernel}_avx512 vector_width=8)
endforeach ()
# <prefix>_<shape class>_<variant>: a LayerNorm class's own values for one
# variant, over the variant's. On the Intel Xeon virtual machine (AVX-512
# at full width), 16-lane vectors, alternating processes, 2 threads:
# long_rows (32 values a step, as before) 16384x1024 0.80-0.83x the time,
# 4096x768 and 4096x1024 1.01x; wide_rows 4096x4096 and 4096x4097 0.88x,
# 64x11520 0.96x, 256x3200 0.99x; in float16 within 3% either way, in bfloat16 0.79-0.83x. (On
# the AMD EPYC above, 4096x768 in 16 lanes was 1.13x the time of 8.)
set(NORMGEN_X86_LAYER_NORM_FORWARD_long_rows_avx512 vector_width=16 vectors_per_step=2)
set(NORMGEN_X86_LAYER_NORM_FORWARD_wide_rows_avx512 vector_width=16)
# Backward, the same way: long_rows 16384x1024 0.93x the time, 4096x768 0.96x, 4096x1024 0.94x;
# wide_rows 4096x4096 0.96x, 64x11520 0.94x, 256x3200 0.94x.
set(NORMGEN_X86_LAYER_NORM_BACKWARD_long_rows_avx512 vector_width=16)
set(NORMGEN_X86_LAYER_NORM_BACKWARD_wide_rows_avx512 vector_width=16)
# The LeNet demo's layers (see schedules/layers_schedule.h); <prefix>_<variant>
# holds a CPU variant's own values: AVX-512 has 32 vector registers, room
# for register tiles twice as large (its vectors stay 8 lanes wide: on the
# AMD EPYC here 16-lane vectors ran slower).
set(NORMGEN_X86_CONVOLUTION kernel_size=5 vector_width=8 rows_per_tile=2 channels_per_tile=5)
set(NORMGEN_X86_CONVOLUTION_avx512 channels_per_tile=10)
set(NORMGEN_X86_CONVOLUTION_INPUT kernel_size=5 vector_width=8 rows_per_tile=2)
set(NORMGEN_X86_CONVOLUTION_INPUT_avx512 rows_per_tile=4)
set(NORMGEN_X86_CONVOLUTION_WEIGHT kernel_size=5 vector_width=8 channels_per_tile=2
    samples_per_chunk=16)
set(NORMGEN_X86_CONVOLUTION_WEIGHT_avx512 channels_per_tile=4)
set(NORMGEN_X86_POOLING vector_width=8)
set(NORMGEN_X86_LINEAR vector_width=8 features_per_tile=4 samples_per_tile=2)
set(NORMGEN_X86_LINEAR_avx512 features_per_tile=8)
set(NORMGEN_X86_LINEAR_BACKWARD vector_width=8 features_per_tile=4 samples_per_tile=4)
set(NORMGEN_X86_LINEAR_BACKWARD_avx512 features_per_tile=8 samples_per_tile=8)
set(NORMGEN_X86_OPTIMIZER vector_width=8 elements_per_task=32768)
