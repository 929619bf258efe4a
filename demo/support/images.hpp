// Grayscale image files for the LeNet demo: a user's picture to classify, a
// test-set image to export.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lenet {

struct GrayImage {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> pixels;  // width * height, row-major, 0 = black
};

// Reads a PGM (P2 plain or P5 binary, maxval 1..65535, comments allowed) or
// a PNG (any bit depth and colour type), told apart by the file's first
// bytes, not its name. Samples are scaled linearly to 0..255 and taken as
// stored: gamma and colour-space chunks are ignored, as PGM has none. Colour
// becomes gray by Rec. 709 luma (0.2126 R + 0.7152 G + 0.0722 B). Alpha is
// composited on black, the background of Fashion-MNIST, so a transparent
// background reads as background. Throws lenet::Error naming the path for a
// missing, unsupported or corrupt file, and for one wider or taller than
// 16384 pixels.
GrayImage read_gray_image(const std::string &path);

// `image` resampled to width x height by area averaging: each output pixel
// is the mean of the input area it covers, partial pixels weighted by
// their overlap. That keeps thin strokes when a photo shrinks to 28x28,
// where bilinear sampling would skip them; enlarging gives blocky pixels.
// Throws lenet::Error for a size below 1 or above 16384, or an image whose
// pixel count does not match its size.
GrayImage resize_to(const GrayImage &image, int width, int height);

// Writes `image` as a binary PGM (P5, maxval 255), atomically: the file is
// either replaced whole or left as it was.
void write_gray_pgm(const std::string &path, const GrayImage &image);

}  // namespace lenet
