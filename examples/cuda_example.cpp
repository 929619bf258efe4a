// normgen on CUDA tensors beside the CUDA runtime API: buffers from
// cudaMalloc, a stream of the caller's, no synchronization by normgen.
// LayerNorm over the last dimension of a bfloat16 [4096, 1024] tensor, then
// BatchNorm2d training on a float32 NHWC [32, 64, 56, 56] tensor.
//
// Exits with 77 (a skip for CTest) and says why where CUDA cannot run.
#include <cuda_runtime_api.h>
#include <normgen/normgen.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

namespace {

void check(cudaError_t status, const char *call) {
    if (status != cudaSuccess) {
        std::fprintf(stderr, "%s failed: %s\n", call, cudaGetErrorString(status));
        std::exit(1);
    }
}

uint16_t bfloat16_of(float value) {  // round to nearest even
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

}  // namespace

int main() {
    std::string reason;
    int devices = 0;
    if (!normgen::cuda_available(&reason) || cudaGetDeviceCount(&devices) != cudaSuccess ||
        devices == 0) {
        std::printf("SKIPPED: %s\n", reason.empty() ? "no GPU" : reason.c_str());
        return 77;
    }
    using normgen::DType;
    using normgen::Device;
    using normgen::TensorView;

    cudaStream_t stream;
    check(cudaStreamCreate(&stream), "cudaStreamCreate");
    normgen::CudaStreamGuard on_stream(stream);  // this thread's normgen calls run on `stream`

    // LayerNorm(1024) in bfloat16; mean and rstd come back in float32.
    const int64_t rows = 4096, features = 1024;
    std::vector<uint16_t> host_x(rows * features), host_ones(features, bfloat16_of(1.0f)),
        host_zeros(features, bfloat16_of(0.0f));
    for (size_t i = 0; i < host_x.size(); ++i) host_x[i] = bfloat16_of(float(i % 17) - 8.0f);
    void *x, *y, *weight, *bias, *mean, *rstd;
    check(cudaMalloc(&x, rows * features * 2), "cudaMalloc");
    check(cudaMalloc(&y, rows * features * 2), "cudaMalloc");
    check(cudaMalloc(&weight, features * 2), "cudaMalloc");
    check(cudaMalloc(&bias, features * 2), "cudaMalloc");
    check(cudaMalloc(&mean, rows * 4), "cudaMalloc");
    check(cudaMalloc(&rstd, rows * 4), "cudaMalloc");
    check(cudaMemcpyAsync(x, host_x.data(), host_x.size() * 2, cudaMemcpyHostToDevice, stream), "copy");
    check(cudaMemcpyAsync(weight, host_ones.data(), features * 2, cudaMemcpyHostToDevice, stream), "copy");
    check(cudaMemcpyAsync(bias, host_zeros.data(), features * 2, cudaMemcpyHostToDevice, stream), "copy");

    auto x_view = TensorView::of(x, DType::bfloat16, Device::cuda, {rows, features});
    auto y_view = TensorView::of(y, DType::bfloat16, Device::cuda, {rows, features});
    auto w_view = TensorView::of(weight, DType::bfloat16, Device::cuda, {features});
    auto b_view = TensorView::of(bias, DType::bfloat16, Device::cuda, {features});
    auto mean_view = TensorView::of(mean, DType::float32, Device::cuda, {rows});
    auto rstd_view = TensorView::of(rstd, DType::float32, Device::cuda, {rows});
    normgen::layer_norm(x_view, {features}, &w_view, &b_view, 1e-5, y_view, &mean_view,
                        &rstd_view);  // enqueued on `stream`; returns at once

    std::vector<float> host_mean(rows), host_rstd(rows);
    check(cudaMemcpyAsync(host_mean.data(), mean, rows * 4, cudaMemcpyDeviceToHost, stream), "copy");
    check(cudaMemcpyAsync(host_rstd.data(), rstd, rows * 4, cudaMemcpyDeviceToHost, stream), "copy");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    std::printf("LayerNorm(1024), bfloat16 [4096, 1024] on the GPU: row 0 mean %.4f, rstd %.4f\n",
                host_mean[0], host_rstd[0]);

    // BatchNorm2d(64) training, float32 NHWC, running statistics updated.
    const std::vector<int64_t> shape{32, 64, 56, 56};
    const int64_t count = 32 * 64 * 56 * 56, channels = 64;
    std::vector<float> host_input(count), host_var(channels, 1.0f);
    for (size_t i = 0; i < host_input.size(); ++i) host_input[i] = float(i % 29) * 0.25f;
    void *input, *output, *running_mean, *running_var;
    check(cudaMalloc(&input, count * 4), "cudaMalloc");
    check(cudaMalloc(&output, count * 4), "cudaMalloc");
    check(cudaMalloc(&running_mean, channels * 4), "cudaMalloc");
    check(cudaMalloc(&running_var, channels * 4), "cudaMalloc");
    check(cudaMemcpyAsync(input, host_input.data(), count * 4, cudaMemcpyHostToDevice, stream), "copy");
    check(cudaMemsetAsync(running_mean, 0, channels * 4, stream), "cudaMemsetAsync");
    check(cudaMemcpyAsync(running_var, host_var.data(), channels * 4, cudaMemcpyHostToDevice, stream), "copy");
    const auto nhwc = normgen::MemoryFormat::channels_last;
    auto in_view = TensorView::of(input, DType::float32, Device::cuda, shape, nhwc);
    auto out_view = TensorView::of(output, DType::float32, Device::cuda, shape, nhwc);
    auto rm_view = TensorView::of(running_mean, DType::float32, Device::cuda, {channels});
    auto rv_view = TensorView::of(running_var, DType::float32, Device::cuda, {channels});
    normgen::batch_norm(in_view, &rm_view, &rv_view, nullptr, nullptr, /*training=*/true, 0.1,
                        1e-5, out_view);
    std::vector<float> host_running_mean(channels);
    check(cudaMemcpyAsync(host_running_mean.data(), running_mean, channels * 4,
                          cudaMemcpyDeviceToHost, stream), "copy");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    std::printf("BatchNorm2d(64) training, float32 NHWC [32, 64, 56, 56]: running_mean[0] %.4f\n",
                host_running_mean[0]);

    for (void *buffer : {x, y, weight, bias, mean, rstd, input, output, running_mean, running_var}) {
        cudaFree(buffer);
    }
    cudaStreamDestroy(stream);
    return 0;
}
