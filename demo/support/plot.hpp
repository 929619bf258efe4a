// Line plots as PNG files, drawn without a plotting library: the LeNet
// demo's loss and accuracy curves.
#pragma once

#include <string>
#include <vector>

namespace lenet {

// One curve. Points whose x or y is not finite (NaN, infinity) are left
// out and break the line there; a point with no drawn neighbour shows as a
// dot.
struct Series {
    std::string label;  // in the legend; an empty label is left out of it
    std::vector<double> x, y;
};

struct Panel {
    std::string title, x_label, y_label;
    std::vector<Series> series;  // coloured in order from a 10-colour palette
};

// Draws the panels side by side, each panel_width x panel_height pixels,
// with axes fitted to the data at "nice" ticks (1, 2 or 5 times a power of
// ten), grid lines, the title, axis labels and a legend in the corner of
// the plot that covers the fewest points. Writes the PNG atomically: `path`
// is either replaced whole or left as it was. Throws lenet::Error for no
// panels, a panel size outside 160x120 .. 4096x4096, a total width above
// 16384, a series whose x and y differ in length, values whose span is not
// finite, or a file that cannot be written.
void write_line_plot_png(const std::string &path, const std::vector<Panel> &panels,
                         int panel_width = 480, int panel_height = 360);

}  // namespace lenet
