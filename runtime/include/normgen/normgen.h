/* normgen C ABI: the functional API of normgen.hpp for FFI.
 *
 * Every call returns a status; on failure nothing was written, and
 * normgen_last_error() (per thread) says what was expected and what was
 * given. */
#ifndef NORMGEN_H
#define NORMGEN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum normgen_status {
    NORMGEN_OK = 0,
    NORMGEN_INVALID_ARGUMENT = 1, /* a shape, stride, dtype, value or pointer is wrong */
    NORMGEN_KERNEL_FAILED = 2,    /* a generated kernel reported an error */
    NORMGEN_INTERNAL_ERROR = 3,   /* anything else, e.g. out of memory */
    NORMGEN_CUDA_UNAVAILABLE = 4  /* cuda tensors, but no CUDA driver or device here */
} normgen_status;

typedef enum normgen_dtype {
    NORMGEN_FLOAT32 = 0,
    NORMGEN_FLOAT16 = 1,
    NORMGEN_BFLOAT16 = 2
} normgen_dtype;

typedef enum normgen_device { NORMGEN_CPU = 0, NORMGEN_CUDA = 1 } normgen_device;

/* A tensor view: shape and strides in elements, outermost first. strides may
 * be NULL for a contiguous (row-major) tensor. NORMGEN_CUDA tensors are device
 * pointers (cudaMalloc, PyTorch, ...). Every tensor of a call is on the
 * input's device; input, output, weight and bias share its dtype; statistics
 * are float32. */
typedef struct normgen_tensor {
    void *data;
    normgen_dtype dtype;
    normgen_device device;
    int32_t rank;
    const int64_t *shape;
    const int64_t *strides;
} normgen_tensor;

/* torch.nn.functional.layer_norm over the trailing normalized_rank dims,
 * whose sizes are normalized_shape. weight, bias, mean, rstd may be NULL. */
normgen_status normgen_layer_norm(const normgen_tensor *input, const int64_t *normalized_shape,
                                  int32_t normalized_rank, const normgen_tensor *weight,
                                  const normgen_tensor *bias, double eps,
                                  const normgen_tensor *output, const normgen_tensor *mean,
                                  const normgen_tensor *rstd);

/* torch.nn.functional.batch_norm. running_mean, running_var, weight, bias,
 * num_batches_tracked, save_mean, save_invstd may be NULL. momentum NaN
 * means a cumulative moving average (torch's momentum=None), which needs
 * num_batches_tracked. */
normgen_status normgen_batch_norm(const normgen_tensor *input, const normgen_tensor *running_mean,
                                  const normgen_tensor *running_var, const normgen_tensor *weight,
                                  const normgen_tensor *bias, int training, double momentum,
                                  double eps, const normgen_tensor *output,
                                  int64_t *num_batches_tracked, const normgen_tensor *save_mean,
                                  const normgen_tensor *save_invstd);

/* Gradients of normgen_layer_norm from the mean and rstd it produced, as
 * torch's native_layer_norm_backward; weight, grad_input, grad_weight and
 * grad_bias may be NULL (absent, or not wanted). */
normgen_status normgen_layer_norm_backward(
    const normgen_tensor *grad_output, const normgen_tensor *input, const int64_t *normalized_shape,
    int32_t normalized_rank, const normgen_tensor *mean, const normgen_tensor *rstd,
    const normgen_tensor *weight, const normgen_tensor *grad_input,
    const normgen_tensor *grad_weight, const normgen_tensor *grad_bias);

/* Gradients of normgen_batch_norm, as torch's native_batch_norm_backward:
 * training uses save_mean and save_invstd; evaluation running_mean and
 * running_var with eps. Every pointer but grad_output and input may be NULL. */
normgen_status normgen_batch_norm_backward(
    const normgen_tensor *grad_output, const normgen_tensor *input, const normgen_tensor *weight,
    const normgen_tensor *running_mean, const normgen_tensor *running_var,
    const normgen_tensor *save_mean, const normgen_tensor *save_invstd, int training, double eps,
    const normgen_tensor *grad_input, const normgen_tensor *grad_weight,
    const normgen_tensor *grad_bias);

/* The message of this thread's last failed call ("" if none). */
const char *normgen_last_error(void);

/* "avx512", "avx2" or "sse41": the CPU variant the kernels run; "" (and
 * normgen_last_error() says why) if NORMGEN_CPU_VARIANT names one this CPU
 * cannot run. */
const char *normgen_cpu_variant(void);

/* Forces every later kernel call onto `variant` ("avx512", "avx2",
 * "sse41"), which this CPU must support; "" returns to the best one. */
normgen_status normgen_set_cpu_variant(const char *variant);

/* The CUDA stream (a cudaStream_t; NULL: the legacy default stream) this
 * thread's later calls on cuda tensors run on, asynchronously. normgen runs in
 * the primary context of the tensors' device, as the CUDA runtime API does. */
void normgen_set_cuda_stream(void *stream);
void *normgen_cuda_stream(void);

/* 1 if calls on cuda tensors can run here; otherwise 0, and
 * normgen_last_error() says why ("CUDA unavailable: ..."). */
int normgen_cuda_available(void);

/* Threads of the CPU kernels' pool, the calling thread included; n >= 1.
 * A new count restarts the pool once a parallel loop that another thread's
 * kernel runs on it has ended. */
normgen_status normgen_set_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif /* NORMGEN_H */
