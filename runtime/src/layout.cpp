#include "layout.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

#include "checks.hpp"

namespace normgen::detail {

std::vector<size_t> memory_order(size_t rank, MemoryFormat format) {
    std::vector<size_t> order;
    if (format == MemoryFormat::channels_last) {
        order.push_back(1);
        for (size_t d = rank; d-- > 2;) order.push_back(d);
        order.push_back(0);
    } else {
        for (size_t d = rank; d-- > 0;) order.push_back(d);
    }
    return order;
}

std::vector<int64_t> dense_strides(const std::vector<int64_t> &shape, MemoryFormat format) {
    if (format == MemoryFormat::channels_last && shape.size() < 2) {
        fail("channels_last needs at least 2 dimensions (N, C, ...), got shape " +
             format_shape(shape));
    }
    std::vector<int64_t> strides(shape.size());
    int64_t stride = 1;
    for (size_t d : memory_order(shape.size(), format)) {
        strides[d] = stride;
        stride *= shape[d];
    }
    return strides;
}

bool has_dense_strides(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides,
                       MemoryFormat format) {
    int64_t expected = 1;
    for (size_t d : memory_order(shape.size(), format)) {
        if (shape[d] != 1 && strides[d] != expected) {
            return false;
        }
        expected *= shape[d];
    }
    return true;
}

int64_t element_count(const std::vector<int64_t> &shape) {
    return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

void accumulate(Tensor &accumulated, const Tensor &gradient) {
    if (!gradient.defined()) return;
    std::transform(accumulated.values().begin(), accumulated.values().end(),
                   gradient.values().begin(), accumulated.values().begin(), std::plus<>());
}

void fill_zeros(Tensor &gradient) {
    std::fill(gradient.values().begin(), gradient.values().end(), 0.0f);
}

}  // namespace normgen::detail
