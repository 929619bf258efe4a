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

void check_cpu_float_tensor(const TensorView &tensor, const char *what) {
    if (tensor.device != Device::cpu) {
        fail(std::string(what) + " is on " + to_string(tensor.device) +
             ", but this call runs on the CPU: expected a cpu tensor");
    }
    if (tensor.dtype != DType::float32) {
        fail(std::string(what) + " has dtype " + to_string(tensor.dtype) +
             ": the CPU kernels take float32");
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
    const int64_t element_size = 4;
    return {base + low * element_size, base + (high + 1) * element_size};
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
