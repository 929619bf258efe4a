#include "checks.hpp"

#include <cmath>
#include <limits>
#include <sstream>

namespace normgen::detail {

std::string format_shape(const std::vector<int64_t> &shape) {
    std::ostringstream out;
    out << "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        out << (i ? ", " : "") << shape[i];
    }
    out << "]";
    return out.str();
}

void fail(const std::string &message) { throw Error(message); }

size_t element_size(DType dtype) { return dtype == DType::float32 ? 4 : 2; }

void check_tensor(const TensorView &tensor, const char *what) {
    if (tensor.device != Device::cpu && tensor.device != Device::cuda) {
        fail(std::string(what) + " has device " + std::to_string(static_cast<int>(tensor.device)) +
             ": expected cpu (0) or cuda (1)");
    }
    if (tensor.dtype != DType::float32 && tensor.dtype != DType::float16 &&
        tensor.dtype != DType::bfloat16) {
        fail(std::string(what) + " has dtype " + std::to_string(static_cast<int>(tensor.dtype)) +
             ": expected float32 (0), float16 (1) or bfloat16 (2)");
    }
    if (tensor.strides.size() != tensor.shape.size()) {
        fail(std::string(what) + " has " + std::to_string(tensor.shape.size()) +
             " sizes " + format_shape(tensor.shape) + " but " +
             std::to_string(tensor.strides.size()) + " strides " + format_shape(tensor.strides));
    }
    for (int64_t size : tensor.shape) {
        if (size < 0) {
            fail(std::string(what) + " has a negative size: " + format_shape(tensor.shape));
        }
    }
    if (tensor.data == nullptr && tensor.numel() > 0) {
        fail(std::string(what) + " has " + std::to_string(tensor.numel()) +
             " elements (shape " + format_shape(tensor.shape) + ") but a null data pointer");
    }
}

void check_placed(const TensorView &tensor, const char *what, Device device, DType dtype,
                  const char *because) {
    check_tensor(tensor, what);
    if (tensor.device != device || tensor.dtype != dtype) {
        fail("expected " + std::string(what) + " on " + to_string(device) + " with dtype " +
             to_string(dtype) + " (" + because + "), but got a " + to_string(tensor.dtype) +
             " tensor on " + to_string(tensor.device));
    }
}

void check_int32_indexable(const TensorView &tensor, const char *what) {
    constexpr int64_t limit = std::numeric_limits<int32_t>::max();
    for (size_t i = 0; i < tensor.shape.size(); ++i) {
        if (tensor.shape[i] > limit || std::abs(tensor.strides[i]) > limit) {
            fail(std::string(what) + " has shape " + format_shape(tensor.shape) + " and strides " +
                 format_shape(tensor.strides) +
                 ": the kernels index with 32 bits, so every size and stride must be at most " +
                 std::to_string(limit));
        }
    }
}

void check_cuda_addressable(const TensorView &tensor, const char *what) {
    if (tensor.device != Device::cuda) return;
    int64_t last = 0;
    for (size_t i = 0; i < tensor.shape.size(); ++i) {
        if (tensor.shape[i] > 0) last += (tensor.shape[i] - 1) * std::abs(tensor.strides[i]);
    }
    const int64_t bytes = (last + 1) * static_cast<int64_t>(element_size(tensor.dtype));
    constexpr int64_t limit = std::numeric_limits<int32_t>::max();
    if (tensor.numel() > 0 && bytes > limit) {
        fail(std::string(what) + " spans " + std::to_string(bytes) +
             " bytes: the CUDA kernels address with 32 bits, so a cuda tensor must span at most " +
             std::to_string(limit) + " bytes");
    }
}

void check_same_shape(const TensorView &tensor, const std::vector<int64_t> &expected_shape,
                      const char *what, const std::string &because) {
    if (tensor.shape != expected_shape) {
        fail("expected " + std::string(what) + " of shape " + format_shape(expected_shape) + " (" +
             because + "), but got " + format_shape(tensor.shape));
    }
}

namespace {

// The bytes a view can touch: [first, last).
std::pair<uintptr_t, uintptr_t> byte_range(const TensorView &tensor) {
    auto base = reinterpret_cast<uintptr_t>(tensor.data);
    int64_t low = 0, high = 0;
    for (size_t i = 0; i < tensor.shape.size(); ++i) {
        int64_t reach = (tensor.shape[i] - 1) * tensor.strides[i];
        (reach < 0 ? low : high) += reach;
    }
    const auto size = static_cast<int64_t>(element_size(tensor.dtype));
    return {base + low * size, base + (high + 1) * size};
}

}  // namespace

void check_written_apart(const NamedTensors &written, const NamedTensors &read) {
    auto check_pair = [](const std::pair<const TensorView *, const char *> &first,
                         const std::pair<const TensorView *, const char *> &second) {
        if (first.first == nullptr || second.first == nullptr || first.first->numel() == 0 ||
            second.first->numel() == 0) {
            return;
        }
        auto [begin, end] = byte_range(*first.first);
        auto [other_begin, other_end] = byte_range(*second.first);
        if (begin < other_end && other_begin < end) {
            fail(std::string(first.second) + " overlaps " + second.second +
                 " in memory: expected separate buffers (in-place calls are not supported)");
        }
    };
    for (size_t i = 0; i < written.size(); ++i) {
        for (const auto &other : read) check_pair(written[i], other);
        for (size_t j = i + 1; j < written.size(); ++j) check_pair(written[i], written[j]);
    }
}

void check_eps(double eps) {
    if (!std::isfinite(eps) || eps < 0) {
        std::ostringstream given;
        given << eps;
        fail("eps must be a finite number >= 0, got " + given.str());
    }
}

}  // namespace normgen::detail
