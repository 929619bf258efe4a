// The tests' comparison with the float64 reference, as a Catch check.
#pragma once

#include <catch2/catch.hpp>

#include "reference.hpp"

namespace normgen::reference {

// CHECKs that got matches expected within atol + rtol * |expected| (see
// mismatch()), reporting the worst element on failure. Returns whether it did.
inline bool expect_close(const std::vector<float> &got, const std::vector<double> &expected,
                         double atol, double rtol) {
    const std::string report = mismatch(got, expected, atol, rtol);
    INFO(report);
    CHECK(report.empty());
    return report.empty();
}

}  // namespace normgen::reference
