// Argument validation shared by the public calls. Every check throws
// normgen::Error with a message that names what was expected and what was
// given; none of them touches tensor data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "normgen/normgen.hpp"

namespace normgen::detail {

// "[20, 5, 10]", as torch prints sizes.
std::string format_shape(const std::vector<int64_t> &shape);

[[noreturn]] void fail(const std::string &message);

size_t element_size(DType dtype);

// A tensor with a known device and dtype, consistent shape/strides and data
// for its elements. `what` names it in messages ("input", "weight", ...).
void check_tensor(const TensorView &tensor, const char *what);

// check_tensor, and on `device` with `dtype`, for the reason `because`
// ("the input's", "statistics are float32").
void check_placed(const TensorView &tensor, const char *what, Device device, DType dtype,
                  const char *because);

// Every size and stride fits the kernels' 32-bit indexing.
void check_int32_indexable(const TensorView &tensor, const char *what);

// A cuda tensor spans at most 2^31 - 1 bytes (the CUDA kernels' addressing).
void check_cuda_addressable(const TensorView &tensor, const char *what);

void check_same_shape(const TensorView &tensor, const std::vector<int64_t> &expected_shape,
                      const char *what, const std::string &because);

// Tensors with their names in messages; null entries are absent ones.
using NamedTensors = std::vector<std::pair<const TensorView *, const char *>>;

// No tensor a call writes shares memory with one it reads or with another
// it writes.
void check_written_apart(const NamedTensors &written, const NamedTensors &read);

void check_eps(double eps);

}  // namespace normgen::detail
