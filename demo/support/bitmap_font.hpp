// A 5x8 bitmap font for printable ASCII, for the plot writer's text.
// Internal to lenet_support.
#pragma once

#include <array>
#include <cstdint>

namespace lenet {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;  // 7 rows above the baseline, 1 for descenders
constexpr int kGlyphAdvance = kGlyphWidth + 1;

// The glyph's columns, left to right: bit r of a column is row r, top row
// first. Characters outside ' '..'~' show as '?'.
const std::array<uint8_t, kGlyphWidth> &glyph_columns(char character);

}  // namespace lenet
