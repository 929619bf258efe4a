#include "plot.hpp"

#include "bitmap_font.hpp"
#include "error.hpp"
#include "file_io.hpp"

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

namespace lenet {
namespace {

struct Rgb {
    uint8_t r, g, b;
};

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kGrid{228, 228, 228};
constexpr Rgb kLegendBorder{170, 170, 170};
// Matplotlib's "tab10": ten colours told apart by most colour-blind readers.
constexpr std::array<Rgb, 10> kPalette = {{{31, 119, 180},
                                           {255, 127, 14},
                                           {44, 160, 44},
                                           {214, 39, 40},
                                           {148, 103, 189},
                                           {140, 86, 75},
                                           {227, 119, 194},
                                           {127, 127, 127},
                                           {188, 189, 34},
                                           {23, 190, 207}}};

constexpr int kMinPanelWidth = 160;
constexpr int kMinPanelHeight = 120;
constexpr int kMaxPanelSide = 4096;
constexpr int kMaxImageWidth = 16384;
constexpr int kLineThickness = 2;
constexpr int kTickLength = 4;
constexpr int kTargetTicks = 5;

// Pixel rectangle [left, right) x [top, bottom).
struct Rect {
    int left, top, right, bottom;

    int width() const { return right - left; }
    int height() const { return bottom - top; }
    bool contains(int x, int y) const { return x >= left && x < right && y >= top && y < bottom; }
};

int text_width(const std::string &text, int scale = 1) {
    return text.empty() ? 0 : (static_cast<int>(text.size()) * kGlyphAdvance - 1) * scale;
}

// An RGB image that drops whatever falls outside its clip rectangle, so
// that no label spills into the next panel.
class Canvas {
public:
    Canvas(int width, int height)
        : width_(width),
          height_(height),
          pixels_(size_t(width) * height * 3, 255),
          clip_{0, 0, width, height} {}

    const std::vector<uint8_t> &pixels() const { return pixels_; }
    int width() const { return width_; }
    int height() const { return height_; }

    void clip_to(const Rect &rect) {
        clip_ = Rect{std::max(rect.left, 0), std::max(rect.top, 0), std::min(rect.right, width_),
                     std::min(rect.bottom, height_)};
    }

    void set(int x, int y, Rgb colour) {
        if (clip_.contains(x, y)) {
            uint8_t *pixel = &pixels_[(size_t(y) * width_ + x) * 3];
            pixel[0] = colour.r;
            pixel[1] = colour.g;
            pixel[2] = colour.b;
        }
    }

    void fill(const Rect &rect, Rgb colour) {
        for (int y = rect.top; y < rect.bottom; ++y) {
            for (int x = rect.left; x < rect.right; ++x) {
                set(x, y, colour);
            }
        }
    }

    void outline(const Rect &rect, Rgb colour) {
        fill({rect.left, rect.top, rect.right, rect.top + 1}, colour);
        fill({rect.left, rect.bottom - 1, rect.right, rect.bottom}, colour);
        fill({rect.left, rect.top, rect.left + 1, rect.bottom}, colour);
        fill({rect.right - 1, rect.top, rect.right, rect.bottom}, colour);
    }

    // Bresenham's line, stamped with a thickness x thickness square.
    void line(int x0, int y0, int x1, int y1, Rgb colour, int thickness) {
        const int dx = std::abs(x1 - x0);
        const int dy = -std::abs(y1 - y0);
        const int step_x = x0 < x1 ? 1 : -1;
        const int step_y = y0 < y1 ? 1 : -1;
        int error = dx + dy;
        while (true) {
            fill({x0, y0, x0 + thickness, y0 + thickness}, colour);
            if (x0 == x1 && y0 == y1) {
                return;
            }
            const int doubled = 2 * error;
            if (doubled >= dy) {
                error += dy;
                x0 += step_x;
            }
            if (doubled <= dx) {
                error += dx;
                y0 += step_y;
            }
        }
    }

    // Text with its top-left corner at (x, y), each font pixel scale x scale.
    void text(int x, int y, const std::string &text, Rgb colour, int scale = 1) {
        for (size_t k = 0; k < text.size(); ++k) {
            const auto &columns = glyph_columns(text[k]);
            for (int c = 0; c < kGlyphWidth; ++c) {
                for (int r = 0; r < kGlyphHeight; ++r) {
                    if (columns[c] >> r & 1) {
                        const int left = x + (int(k) * kGlyphAdvance + c) * scale;
                        fill({left, y + r * scale, left + scale, y + (r + 1) * scale}, colour);
                    }
                }
            }
        }
    }

    // Text turned a quarter turn anticlockwise, read bottom to top, as a y
    // axis label: its first character's bottom-left corner at (x, y).
    void vertical_text(int x, int y, const std::string &text, Rgb colour) {
        for (size_t k = 0; k < text.size(); ++k) {
            const auto &columns = glyph_columns(text[k]);
            for (int c = 0; c < kGlyphWidth; ++c) {
                for (int r = 0; r < kGlyphHeight; ++r) {
                    if (columns[c] >> r & 1) {
                        set(x + r, y - 1 - (int(k) * kGlyphAdvance + c), colour);
                    }
                }
            }
        }
    }

private:
    int width_, height_;
    std::vector<uint8_t> pixels_;
    Rect clip_;
};

// An axis from low to high with ticks at every multiple of step between.
struct Axis {
    double low, high, step;

    std::vector<double> ticks() const {
        std::vector<double> result;
        // The bound guards against a step so small that low + i * step
        // stops advancing.
        for (int i = 0; i <= 4 * kTargetTicks; ++i) {
            const double value = low + i * step;
            if (value > high + step * 1e-9) {
                break;
            }
            result.push_back(std::abs(value) < step * 1e-9 ? 0.0 : value);
        }
        return result;
    }

    std::string label(double value) const {
        const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
        char text[32];
        if (decimals > 6 || std::max(std::abs(low), std::abs(high)) >= 1e6) {
            std::snprintf(text, sizeof text, "%.3g", value);
        } else {
            std::snprintf(text, sizeof text, "%.*f", decimals, value);
        }
        return text;
    }
};

// An axis around [min, max] (no extent: no data) widened by `margin` of the
// span on both sides, with about kTargetTicks ticks at 1, 2 or 5 times a
// power of ten.
Axis nice_axis(std::optional<std::pair<double, double>> extent, double margin,
               const std::string &what) {
    double min = extent ? extent->first : 0.0;
    double max = extent ? extent->second : 1.0;
    const double pad = min != max ? (max - min) * margin : min != 0.0 ? std::abs(min) * 0.1 : 1.0;
    min -= pad;
    max += pad;
    const double span = max - min;
    if (!std::isfinite(span)) {
        throw Error(what + " span from " + std::to_string(min) + " to " + std::to_string(max) +
                    ": too wide to plot");
    }
    const double raw_step = span / (kTargetTicks - 1);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
    const double fraction = raw_step / magnitude;
    const double step = (fraction <= 1.0   ? 1.0
                         : fraction <= 2.0 ? 2.0
                         : fraction <= 5.0 ? 5.0
                                           : 10.0) *
                        magnitude;
    if (!(step > 0.0) || !std::isfinite(step)) {  // a span near the smallest doubles
        return Axis{min, max, span};
    }
    return Axis{std::floor(min / step) * step, std::ceil(max / step) * step, step};
}

bool finite_point(const Series &series, size_t i) {
    return std::isfinite(series.x[i]) && std::isfinite(series.y[i]);
}

// The smallest and largest finite x and y over all series' points.
struct Extents {
    std::optional<std::pair<double, double>> x, y;
};

Extents data_extents(const Panel &panel) {
    Extents extents;
    const auto widen = [](std::optional<std::pair<double, double>> &extent, double value) {
        extent = extent ? std::pair{std::min(extent->first, value), std::max(extent->second, value)}
                        : std::pair{value, value};
    };
    for (const Series &series : panel.series) {
        for (size_t i = 0; i < series.x.size(); ++i) {
            if (finite_point(series, i)) {
                widen(extents.x, series.x[i]);
                widen(extents.y, series.y[i]);
            }
        }
    }
    return extents;
}

// Maps data coordinates to pixels of the plot area.
struct Projection {
    Rect area;
    Axis x_axis, y_axis;

    int x(double value) const {
        return area.left +
               static_cast<int>(std::lround((value - x_axis.low) / (x_axis.high - x_axis.low) *
                                            (area.width() - kLineThickness)));
    }
    int y(double value) const {
        return area.bottom - kLineThickness -
               static_cast<int>(std::lround((value - y_axis.low) / (y_axis.high - y_axis.low) *
                                            (area.height() - kLineThickness)));
    }
};

void draw_series(Canvas &canvas, const Projection &projection, const Series &series, Rgb colour) {
    const size_t count = series.x.size();
    for (size_t i = 0; i < count; ++i) {
        if (!finite_point(series, i)) {
            continue;
        }
        const int x = projection.x(series.x[i]);
        const int y = projection.y(series.y[i]);
        const bool previous = i > 0 && finite_point(series, i - 1);
        const bool next = i + 1 < count && finite_point(series, i + 1);
        if (next) {
            canvas.line(x, y, projection.x(series.x[i + 1]), projection.y(series.y[i + 1]), colour,
                        kLineThickness);
        } else if (!previous) {  // a lone point: a dot, or it would not show
            canvas.fill({x - 1, y - 1, x + kLineThickness + 1, y + kLineThickness + 1}, colour);
        }
    }
}

constexpr int kLegendRowHeight = kGlyphHeight + 4;
constexpr int kLegendSwatchWidth = 16;
constexpr int kLegendPadding = 5;

// The legend's corner of the plot area: the one that hides the fewest
// points, top-right first when they tie.
Rect legend_box(const Panel &panel, const Projection &projection, int rows) {
    int text = 0;
    for (const Series &series : panel.series) {
        text = std::max(text, text_width(series.label));
    }
    const int width = 2 * kLegendPadding + kLegendSwatchWidth + 4 + text;
    const int height = 2 * kLegendPadding + rows * kLegendRowHeight - 4;
    const Rect &area = projection.area;
    const int inset = 6;
    const std::array<Rect, 4> corners = {{
        {area.right - inset - width, area.top + inset, area.right - inset,
         area.top + inset + height},
        {area.right - inset - width, area.bottom - inset - height, area.right - inset,
         area.bottom - inset},
        {area.left + inset, area.top + inset, area.left + inset + width, area.top + inset + height},
        {area.left + inset, area.bottom - inset - height, area.left + inset + width,
         area.bottom - inset},
    }};
    Rect best = corners[0];
    size_t fewest = std::numeric_limits<size_t>::max();
    for (const Rect &corner : corners) {
        size_t hidden = 0;
        for (const Series &series : panel.series) {
            for (size_t i = 0; i < series.x.size(); ++i) {
                hidden += finite_point(series, i) &&
                          corner.contains(projection.x(series.x[i]), projection.y(series.y[i]));
            }
        }
        if (hidden < fewest) {
            fewest = hidden;
            best = corner;
        }
    }
    return best;
}

void draw_legend(Canvas &canvas, const Panel &panel, const Projection &projection) {
    const int rows =
        static_cast<int>(std::count_if(panel.series.begin(), panel.series.end(),
                                       [](const Series &s) { return !s.label.empty(); }));
    if (rows == 0) {
        return;
    }
    const Rect box = legend_box(panel, projection, rows);
    canvas.fill(box, kWhite);
    canvas.outline(box, kLegendBorder);
    int y = box.top + kLegendPadding;
    for (size_t i = 0; i < panel.series.size(); ++i) {
        if (panel.series[i].label.empty()) {
            continue;
        }
        const int swatch_y = y + kGlyphHeight / 2 - 1;
        canvas.fill({box.left + kLegendPadding, swatch_y,
                     box.left + kLegendPadding + kLegendSwatchWidth, swatch_y + kLineThickness},
                    kPalette[i % kPalette.size()]);
        canvas.text(box.left + kLegendPadding + kLegendSwatchWidth + 4, y, panel.series[i].label,
                    kInk);
        y += kLegendRowHeight;
    }
}

void draw_panel(Canvas &canvas, const Panel &panel, const Rect &bounds) {
    canvas.clip_to(bounds);
    const Extents extents = data_extents(panel);
    const std::string name = "panel \"" + panel.title + "\":";
    // A margin on y keeps a curve that peaks at the last epoch off the
    // frame; on x, curves end at the frame anyway.
    const Axis x_axis = nice_axis(extents.x, 0.0, name + " x values");
    const Axis y_axis = nice_axis(extents.y, 0.02, name + " y values");
    const std::vector<double> x_ticks = x_axis.ticks();
    const std::vector<double> y_ticks = y_axis.ticks();

    // Title on top at twice the size where it fits; tick labels left of and
    // below the plot area; the axis labels outside those.
    const int margin = 8;
    const int title_scale = text_width(panel.title, 2) <= bounds.width() - 2 * margin ? 2 : 1;
    int y_tick_label_width = 0;
    for (double tick : y_ticks) {
        y_tick_label_width = std::max(y_tick_label_width, text_width(y_axis.label(tick)));
    }
    const int y_label_width = panel.y_label.empty() ? 0 : kGlyphHeight + margin;
    const int x_label_height = panel.x_label.empty() ? 0 : kGlyphHeight + margin;
    const Rect area{
        bounds.left + margin + y_label_width + y_tick_label_width + kTickLength + 3,
        bounds.top + margin + kGlyphHeight * title_scale + margin,
        bounds.right - 2 * margin,
        bounds.bottom - margin - x_label_height - kGlyphHeight - kTickLength - 4,
    };
    const Projection projection{area, x_axis, y_axis};

    canvas.text(bounds.left + (bounds.width() - text_width(panel.title, title_scale)) / 2,
                bounds.top + margin, panel.title, kInk, title_scale);
    for (double tick : x_ticks) {
        const int x = projection.x(tick) + kLineThickness / 2;
        canvas.fill({x, area.top, x + 1, area.bottom}, kGrid);
        canvas.fill({x, area.bottom, x + 1, area.bottom + kTickLength}, kInk);
        const std::string label = x_axis.label(tick);
        canvas.text(x - text_width(label) / 2, area.bottom + kTickLength + 3, label, kInk);
    }
    for (double tick : y_ticks) {
        const int y = projection.y(tick) + kLineThickness / 2;
        canvas.fill({area.left, y, area.right, y + 1}, kGrid);
        canvas.fill({area.left - kTickLength, y, area.left, y + 1}, kInk);
        const std::string label = y_axis.label(tick);
        canvas.text(area.left - kTickLength - 3 - text_width(label), y - kGlyphHeight / 2 + 1,
                    label, kInk);
    }
    canvas.outline(area, kInk);
    canvas.text(area.left + (area.width() - text_width(panel.x_label)) / 2,
                bounds.bottom - margin - kGlyphHeight, panel.x_label, kInk);
    canvas.vertical_text(bounds.left + margin,
                         area.top + (area.height() + text_width(panel.y_label)) / 2, panel.y_label,
                         kInk);

    canvas.clip_to({area.left + 1, area.top + 1, area.right - 1, area.bottom - 1});
    for (size_t i = 0; i < panel.series.size(); ++i) {
        draw_series(canvas, projection, panel.series[i], kPalette[i % kPalette.size()]);
    }
    draw_legend(canvas, panel, projection);
}

std::vector<uint8_t> encode_png(const Canvas &canvas, const std::string &path) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(canvas.width());
    image.height = static_cast<png_uint_32>(canvas.height());
    image.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    const int row_stride = canvas.width() * 3;
    std::vector<uint8_t> bytes;
    if (png_image_write_get_memory_size(image, size, 0, canvas.pixels().data(), row_stride,
                                        nullptr)) {
        bytes.resize(size);
        if (!png_image_write_to_memory(&image, bytes.data(), &size, 0, canvas.pixels().data(),
                                       row_stride, nullptr)) {
            size = 0;
        }
    }
    if (size == 0) {
        throw Error("cannot write " + path +
                    ": libpng failed to encode the plot: " + image.message);
    }
    bytes.resize(size);
    return bytes;
}

}  // namespace

void write_line_plot_png(const std::string &path, const std::vector<Panel> &panels, int panel_width,
                         int panel_height) {
    if (panels.empty()) {
        throw Error("write_line_plot_png(" + path + "): expected at least one panel, got none");
    }
    if (panel_width < kMinPanelWidth || panel_height < kMinPanelHeight ||
        panel_width > kMaxPanelSide || panel_height > kMaxPanelSide) {
        throw Error("write_line_plot_png(" + path + "): expected a panel size from " +
                    std::to_string(kMinPanelWidth) + "x" + std::to_string(kMinPanelHeight) +
                    " to " + std::to_string(kMaxPanelSide) + "x" + std::to_string(kMaxPanelSide) +
                    ", got " + std::to_string(panel_width) + "x" + std::to_string(panel_height));
    }
    if (panels.size() > size_t(kMaxImageWidth / panel_width)) {
        throw Error("write_line_plot_png(" + path + "): " + std::to_string(panels.size()) +
                    " panels of width " + std::to_string(panel_width) +
                    " exceed the largest image width, " + std::to_string(kMaxImageWidth));
    }
    for (const Panel &panel : panels) {
        for (const Series &series : panel.series) {
            if (series.x.size() != series.y.size()) {
                throw Error("write_line_plot_png(" + path + "): panel \"" + panel.title +
                            "\", series \"" + series.label +
                            "\": expected as many y values as x values, got " +
                            std::to_string(series.x.size()) + " x and " +
                            std::to_string(series.y.size()) + " y");
            }
        }
    }
    Canvas canvas(panel_width * static_cast<int>(panels.size()), panel_height);
    for (size_t i = 0; i < panels.size(); ++i) {
        const int left = panel_width * static_cast<int>(i);
        draw_panel(canvas, panels[i], Rect{left, 0, left + panel_width, panel_height});
    }
    write_file_atomically(path, encode_png(canvas, path));
}

}  // namespace lenet
