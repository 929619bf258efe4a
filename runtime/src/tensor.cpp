#include <numeric>

#include "checks.hpp"
#include "layout.hpp"
#include "normgen/normgen.hpp"

namespace normgen {

const char *to_string(DType dtype) {
    switch (dtype) {
    case DType::float32: return "float32";
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    }
    return "unknown dtype";
}

const char *to_string(Device device) {
    switch (device) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
    }
    return "unknown device";
}

TensorView TensorView::of(const float *data, std::vector<int64_t> shape, MemoryFormat format) {
    return of(data, DType::float32, Device::cpu, std::move(shape), format);
}

TensorView TensorView::of(const void *data, DType dtype, Device device, std::vector<int64_t> shape,
                          MemoryFormat format) {
    TensorView view;
    view.data = const_cast<void *>(data);
    view.dtype = dtype;
    view.device = device;
    view.strides = detail::dense_strides(shape, format);
    view.shape = std::move(shape);
    return view;
}

int64_t TensorView::numel() const {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

bool TensorView::is_contiguous() const {
    return strides.size() == shape.size() &&
           detail::has_dense_strides(shape, strides, MemoryFormat::contiguous);
}

bool TensorView::is_channels_last() const {
    return shape.size() >= 2 && strides.size() == shape.size() &&
           detail::has_dense_strides(shape, strides, MemoryFormat::channels_last);
}

Tensor::Tensor(std::vector<int64_t> shape, float fill, MemoryFormat format)
    : defined_(true), shape_(std::move(shape)), format_(format) {
    detail::dense_strides(shape_, format_);  // rejects a format the rank cannot have
    int64_t count = std::accumulate(shape_.begin(), shape_.end(), int64_t{1}, std::multiplies<>());
    if (count < 0) {
        detail::fail("Tensor shape " + detail::format_shape(shape_) + " has a negative size");
    }
    values_.assign(static_cast<size_t>(count), fill);
}

TensorView Tensor::view() const { return TensorView::of(values_.data(), shape_, format_); }

}  // namespace normgen
