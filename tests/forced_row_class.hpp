// Test-scoped settings of the runtime, undone however a test ends, so that
// no test leaves the next one on a forced setting.
#pragma once

#include <normgen/normgen.hpp>

#include <optional>
#include <vector>

namespace normgen::testing {

// The LayerNorm row classes of the CPU, each of which tests force in turn.
inline const std::vector<LayerNormRowClass> cpu_row_classes{
    LayerNormRowClass::long_rows, LayerNormRowClass::short_rows, LayerNormRowClass::split_rows,
    LayerNormRowClass::wide_rows, LayerNormRowClass::vector_rows};

// Forces a LayerNorm row class while alive.
class ForcedRowClass {
public:
    explicit ForcedRowClass(LayerNormRowClass row_class) { force_layer_norm_row_class(row_class); }
    ~ForcedRowClass() { force_layer_norm_row_class(std::nullopt); }
    ForcedRowClass(const ForcedRowClass &) = delete;
    ForcedRowClass &operator=(const ForcedRowClass &) = delete;
};

}  // namespace normgen::testing
