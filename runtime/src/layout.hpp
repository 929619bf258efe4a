// Memory formats as stride patterns.
#pragma once

#include <cstdint>
#include <vector>

#include "normgen/normgen.hpp"

namespace normgen::detail {

// Dimensions from innermost to outermost in memory for `format`:
// contiguous is rank-1 ... 0; channels_last is 1, rank-1 ... 2, 0.
std::vector<size_t> memory_order(size_t rank, MemoryFormat format);

// The strides of a dense tensor of `shape` in `format`. Throws for
// channels_last below rank 2.
std::vector<int64_t> dense_strides(const std::vector<int64_t> &shape, MemoryFormat format);

// Whether `strides` are those of a dense tensor in `format`; as in torch,
// the stride of a dimension of size 1 does not matter.
bool has_dense_strides(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides,
                       MemoryFormat format);

// The product of the sizes.
int64_t element_count(const std::vector<int64_t> &shape);

// A module's parameter gradient: `accumulated += gradient` where both are
// defined (torch's .grad accumulation), and setting it to zero.
void accumulate(Tensor &accumulated, const Tensor &gradient);
void fill_zeros(Tensor &gradient);

}  // namespace normgen::detail
