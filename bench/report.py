"""Turn normgen_bench's results.json into results.md and results.png.

Usage: python bench/report.py bench/out/results.json

Writes results.md (tables per thread count and op, and the performance
targets evaluated from the data) and results.png (time relative to the memory
bandwidth limit per case and implementation) next to the JSON file. Needs only
the standard library for the Markdown; the PNG needs matplotlib, and without it
the Markdown is still written and the reason for the missing PNG printed.

A record of results.json is one median time of one implementation ("impl") on
one case; a case is (op, shape, layout, mode, dtype, threads). op is
"layer_norm", "batch_norm", or their backward, "layer_norm_backward" and
"batch_norm_backward" (all three gradients). impl is "normgen",
"normgen:<variant>", an anchor ("onednn", "torch", "onnxruntime"), or a bound:
"limit" (out-of-place y = a*x over the same bytes; for backward z = x + a*dy,
two inputs read and one output written) and "limit:read_twice" (batch_norm
training: the input read twice, the output written once). Any impl can be
absent from any case.
"""

import json
import math
import os
import sys
from dataclasses import dataclass, field

SCHEMA = 1
NORMGEN = "normgen"
LIMIT = "limit"
READ_TWICE = "limit:read_twice"
VARIANT_PREFIX = "normgen:"
ANCHORS = ("onednn", "torch", "onnxruntime")
ANCHOR_NAMES = {"onednn": "oneDNN", "torch": "PyTorch", "onnxruntime": "ONNX Runtime"}
FORWARD_OPS = ("layer_norm", "batch_norm")
BACKWARD_OPS = ("layer_norm_backward", "batch_norm_backward")
OP_ORDER = FORWARD_OPS + BACKWARD_OPS
OP_NAMES = {"layer_norm": "LayerNorm", "batch_norm": "BatchNorm",
            "layer_norm_backward": "LayerNorm backward", "batch_norm_backward": "BatchNorm backward"}
# The modes of the LayerNorms, which have one each: labels leave them out.
SINGLE_MODES = ("forward", "backward")
VARIANT_ORDER = ("avx512", "avx2", "sse41")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
MIB = 1 << 20
# The targets concern the full machine unless they say otherwise.
TARGET_THREADS = 2
ABSENT = "—"


@dataclass
class Case:
    op: str
    shape: tuple
    layout: str
    mode: str
    dtype: str
    threads: int
    normalized_shape: tuple
    times: dict = field(default_factory=dict)  # impl -> median ms

    def ratio(self, impl, base=LIMIT):
        """impl's time over base's, or None if either is absent."""
        if impl in self.times and base in self.times:
            return self.times[impl] / self.times[base]
        return None

    def speedup(self, anchor):
        """How many times faster normgen is than the anchor, or None."""
        return self.ratio(anchor, NORMGEN)

    @property
    def mib(self):
        return math.prod(self.shape) * DTYPE_BYTES.get(self.dtype, 4) / MIB

    @property
    def shape_label(self):
        """4096x1024 or 64x(20x24x24) for LayerNorm, NxCxHxW otherwise."""
        if not self.op.startswith("layer_norm") or not self.normalized_shape:
            return "x".join(map(str, self.shape))
        k = len(self.normalized_shape)
        inner = "x".join(map(str, self.normalized_shape))
        inner = inner if k == 1 else f"({inner})"
        return "x".join([str(d) for d in self.shape[:-k]] + [inner])

    @property
    def label(self):
        parts = [self.shape_label, self.layout] + ([self.mode] if self.mode not in SINGLE_MODES else [])
        return " ".join(parts)

    @property
    def variants(self):
        return [impl for impl in self.times if impl.startswith(VARIANT_PREFIX)]


# ------------------------------------------------------------------ loading


def load_results(path):
    with open(path, encoding="utf-8") as file:
        results = json.load(file)
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {results.get('schema')!r}, this report reads schema {SCHEMA}")
    return results


def group_cases(records):
    """Cases in the order the records first name them."""
    cases = {}
    for record in records:
        key = (record["op"], tuple(record["shape"]), record["layout"], record["mode"],
               record["dtype"], record["threads"])
        if key not in cases:
            cases[key] = Case(*key, normalized_shape=tuple(record.get("normalized_shape") or ()))
        case = cases[key]
        if record["impl"] in case.times:
            print(f"warning: {record['impl']} timed twice on {case.label}; keeping the later",
                  file=sys.stderr)
        case.times[record["impl"]] = record["median_ms"]
    return list(cases.values())


def ordered_ops(cases):
    ops = {case.op for case in cases}
    return [op for op in OP_ORDER if op in ops] + sorted(ops - set(OP_ORDER))


def select(cases, threads=None, op=None):
    return [c for c in cases if (threads is None or c.threads == threads) and (op is None or c.op == op)]


def variant_order(variants):
    known = [VARIANT_PREFIX + v for v in VARIANT_ORDER if VARIANT_PREFIX + v in variants]
    return known + sorted(set(variants) - set(known))


def present(cases, impls):
    """Those of impls timed on at least one of the cases, in the given order."""
    return [impl for impl in impls if any(impl in case.times for case in cases)]


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


# ----------------------------------------------------------------- markdown


def fmt_ms(ms):
    if ms is None:
        return ABSENT
    # Three significant digits, trailing zeros kept so that columns line up.
    return f"{ms:.0f}" if ms >= 100 else f"{ms:#.3g}"


def fmt_x(value, decimals=2):
    return ABSENT if value is None else f"{value:.{decimals}f}x"


def fmt_target(value):
    # One more decimal than the tables, so that 1.152 against a bound of 1.15
    # does not read "1.15x: FAIL".
    return fmt_x(value, 3)


@dataclass
class Column:
    header: str
    cell: object  # Case -> str
    speedup_of: str = None  # the anchor, for the speed-up columns the geomean row sums up
    text: bool = False  # left-aligned


def table_columns(cases):
    columns = [Column("shape", lambda c: c.shape_label, text=True),
               Column("layout", lambda c: c.layout, text=True)]
    if any(c.mode not in SINGLE_MODES for c in cases):
        columns.append(Column("mode", lambda c: c.mode, text=True))
    columns += [
        Column("MiB", lambda c: f"{c.mib:.2f}"),
        Column("limit ms", lambda c: fmt_ms(c.times.get(LIMIT))),
        Column("normgen ms", lambda c: fmt_ms(c.times.get(NORMGEN))),
        Column("normgen/limit", lambda c: fmt_x(c.ratio(NORMGEN))),
    ]
    if any(READ_TWICE in c.times for c in cases):
        columns.append(Column("normgen/read_twice", lambda c: fmt_x(c.ratio(NORMGEN, READ_TWICE))))
    for anchor in present(cases, ANCHORS):
        columns.append(Column(f"vs {ANCHOR_NAMES[anchor]}",
                              lambda c, a=anchor: fmt_x(c.speedup(a)), speedup_of=anchor))
    all_variants = [v for c in cases for v in c.variants]
    for variant in variant_order(all_variants):
        columns.append(Column(f"{variant[len(VARIANT_PREFIX):]}/limit",
                              lambda c, v=variant: fmt_x(c.ratio(v))))
    return columns


def geomean_cell(cases, column):
    if column.speedup_of is None:
        return ""
    speedups = [s for s in (c.speedup(column.speedup_of) for c in cases) if s is not None]
    return f"**{fmt_x(geomean(speedups))}**" if speedups else ABSENT


def markdown_table(cases):
    columns = table_columns(cases)
    lines = ["| " + " | ".join(c.header for c in columns) + " |",
             "|" + "|".join(":--" if c.text else "--:" for c in columns) + "|"]
    lines += ["| " + " | ".join(col.cell(case) for col in columns) + " |" for case in cases]
    footer = [geomean_cell(cases, col) for col in columns]
    footer[0] = "**geometric mean**"
    lines.append("| " + " | ".join(footer) + " |")
    return lines


def header_lines(results, json_name):
    machine = results.get("machine", {})
    variant = machine.get("normgen_default_variant")
    lines = [
        "# normgen benchmark",
        "",
        f"{results.get('date', 'undated')} on {machine.get('cpu', 'an unnamed CPU')}, "
        f"{machine.get('cores', '?')} cores"
        + (f" (normgen's default variant: {variant})" if variant else "")
        + f"; reproduce with `{results.get('command', '?')}` (data: `{json_name}`).",
        "",
    ]
    notes = results.get("notes") or []
    lines += ["Notes:", ""] + [f"- {note}" for note in notes] if notes else ["Notes: none."]
    lines += [
        "",
        "Times are medians in ms. *limit* is an out-of-place y = a*x over a tensor of the "
        "input's size (the memory-bandwidth bound); for backward (all three gradients) it is "
        "z = x + a*dy, the two inputs backward reads and the one output it writes; "
        "*read_twice* reads the input twice and writes the output once. *vs X* is X's time "
        "over normgen's (above 1x: normgen is faster); *variant/limit* is that CPU variant of "
        "normgen over the limit.",
    ]
    return lines


def table_sections(cases):
    lines = []
    for threads in sorted({c.threads for c in cases}, reverse=True):
        for op in ordered_ops(cases):
            chosen = select(cases, threads, op)
            if chosen:
                plural = "s" if threads != 1 else ""
                lines += ["", f"## {OP_NAMES.get(op, op)}, {threads} thread{plural}", ""]
                lines += markdown_table(chosen)
    return lines


# ------------------------------------------------------------------ targets


def notes_about(results, impl):
    return [note for note in results.get("notes") or [] if note.split(":", 1)[0] == impl]


def target_line(status, title, detail):
    return f"- **{status}** {title}: {detail}"


def every_case_target(title, measured, total, passes, worst_is_max, why_absent):
    """measured: [(case, value)] over the `total` cases the target covers."""
    if not measured:
        return target_line("NOT MEASURED", title, why_absent)
    pick = max if worst_is_max else min
    worst_case, worst = pick(measured, key=lambda pair: pair[1])
    status = "PASS" if all(passes(value) for _, value in measured) else "FAIL"
    return target_line(status, title, f"worst {describe(worst_case)} at {fmt_target(worst)}, "
                                      f"over {coverage(measured, total)}")


def geomean_target(title, measured, total, passes, why_absent):
    if not measured:
        return target_line("NOT MEASURED", title, why_absent)
    value = geomean([v for _, v in measured])
    worst_case, worst = min(measured, key=lambda pair: pair[1])
    status = "PASS" if passes(value) else "FAIL"
    return target_line(status, title, f"geomean {fmt_target(value)} over {coverage(measured, total)}; "
                                      f"worst {describe(worst_case)} at {fmt_target(worst)}")


def describe(case):
    return f"{OP_NAMES.get(case.op, case.op)} {case.label}"


def coverage(measured, total):
    """Says when the target could only be checked on some of its cases."""
    return f"{len(measured)} cases" if len(measured) == total else f"{len(measured)} of {total} cases"


def measured(cases, value):
    return [(c, v) for c, v in ((c, value(c)) for c in cases) if v is not None]


def absent_anchor(results, anchor, scope):
    why = f"no {ANCHOR_NAMES[anchor]} timings for {scope}"
    notes = notes_about(results, anchor)
    return why + (f"; notes: {' / '.join(notes)}" if notes else "")


def speedup_target(results, cases, anchor, scope, title, passes, on_geomean=False):
    """passes(speed-up) must hold on every case, or on their geometric mean."""
    pairs = measured(cases, lambda c: c.speedup(anchor))
    why = absent_anchor(results, anchor, scope)
    if on_geomean:
        return geomean_target(title, pairs, len(cases), passes, why)
    return every_case_target(title, pairs, len(cases), passes, False, why)


def faster(speedup):
    return speedup > 1


def limit_target(cases, title, bound, scope):
    pairs = measured(cases, lambda c: c.ratio(NORMGEN))
    return every_case_target(title, pairs, len(cases), lambda r: r <= bound, True,
                             f"normgen and limit not both timed on any {scope}")


def layer_norm_targets(results, cases):
    at = f"LayerNorm at {TARGET_THREADS} threads"
    large = [c for c in cases if c.mib >= 1]
    return [
        limit_target(large, "LayerNorm: normgen <= 1.15x limit on every input >= 1 MiB", 1.15,
                     f"LayerNorm case >= 1 MiB at {TARGET_THREADS} threads"),
        speedup_target(results, cases, "onednn", at, "LayerNorm: faster than oneDNN on every shape", faster),
        speedup_target(results, cases, "onednn", at, "LayerNorm: geomean speed-up over oneDNN >= 1.3",
                       lambda s: s >= 1.3, on_geomean=True),
        speedup_target(results, cases, "torch", at, "LayerNorm: geomean speed-up over PyTorch >= 2",
                       lambda s: s >= 2, on_geomean=True),
    ]


def batch_norm_targets(results, cases):
    at = f"BatchNorm at {TARGET_THREADS} threads"
    training = [c for c in cases if c.mode == "training"]
    inference = [c for c in cases if c.mode == "inference"]
    return [
        limit_target(training, "BatchNorm training: normgen <= 1.6x limit on every shape and layout",
                     1.6, f"BatchNorm training case at {TARGET_THREADS} threads"),
        limit_target(inference, "BatchNorm inference: normgen <= 1.15x limit on every shape and layout",
                     1.15, f"BatchNorm inference case at {TARGET_THREADS} threads"),
        speedup_target(results, cases, "onednn", at,
                       "BatchNorm: faster than oneDNN on every shape, layout and mode", faster),
        speedup_target(results, cases, "torch", at,
                       "BatchNorm: faster than PyTorch on every shape, layout and mode", faster),
    ]


def onnxruntime_targets(results, cases):
    lines = []
    for op in ("layer_norm", "batch_norm"):
        name = OP_NAMES[op]
        lines.append(speedup_target(
            results, select(cases, op=op), "onnxruntime", f"{name} at {TARGET_THREADS} threads",
            f"{name}: faster than ONNX Runtime on the geometric mean", faster, on_geomean=True))
    return lines


def backward_targets(results, cases):
    """Issue 6's, over both backward ops together."""
    at = f"backward at {TARGET_THREADS} threads"
    large = [c for c in cases if c.mib >= 1]
    return [
        limit_target(large, "Backward: normgen <= 1.3x limit on every input >= 1 MiB", 1.3,
                     f"backward case >= 1 MiB at {TARGET_THREADS} threads"),
        speedup_target(results, cases, "torch", at,
                       "Backward: geomean speed-up over PyTorch (autograd) >= 2",
                       lambda s: s >= 2, on_geomean=True),
    ]


def target_section(results, cases):
    full = select(cases, threads=TARGET_THREADS)
    single_forward = [c for c in select(cases, threads=1) if c.op in FORWARD_OPS]
    lines = ["", "## Targets", "", f"At {TARGET_THREADS} threads unless the line says otherwise.", ""]
    lines += layer_norm_targets(results, select(full, op="layer_norm"))
    lines += batch_norm_targets(results, select(full, op="batch_norm"))
    lines += onnxruntime_targets(results, full)
    lines.append(speedup_target(results, single_forward, "onednn", "forward at 1 thread",
                                "1 thread: no forward case (either op) slower than oneDNN",
                                lambda s: s >= 1))
    lines += backward_targets(results, [c for c in full if c.op in BACKWARD_OPS])
    return lines


def write_markdown(results, cases, json_path, md_path):
    lines = header_lines(results, os.path.basename(json_path))
    lines += table_sections(cases) if cases else ["", "No records."]
    lines += target_section(results, cases)
    with open(md_path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------- plot

# impl -> (marker, size, colour); normgen stands out, variants stay in the background.
STYLES = {
    NORMGEN: ("o", 80, "tab:red"),
    "onednn": ("s", 45, "tab:blue"),
    "torch": ("^", 45, "tab:orange"),
    "onnxruntime": ("D", 40, "tab:green"),
    READ_TWICE: ("_", 160, "black"),
}
VARIANT_STYLES = [("x", 35, "tab:purple"), ("+", 45, "tab:brown"), ("1", 45, "tab:gray")]


def plot_series(cases):
    impls = [NORMGEN, *ANCHORS, READ_TWICE]
    impls += variant_order([v for c in cases for v in c.variants])
    return present(cases, impls)


def style(impl, variants):
    return STYLES.get(impl) or VARIANT_STYLES[variants.index(impl) % len(VARIANT_STYLES)]


# Candidate y ticks; a log axis labels only powers of ten by itself, too few
# for ratios that mostly lie between 0.5 and 5.
Y_TICKS = (0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000)


def draw_panel(axes, cases, series, variants, title):
    from matplotlib.ticker import NullFormatter

    axes.set_title(title, fontsize=12)
    if not cases:
        axes.text(0.5, 0.5, "no cases", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    spread = 0.5 / len(series)
    for i, impl in enumerate(series):
        marker, size, colour = style(impl, variants)
        offset = (i - (len(series) - 1) / 2) * spread  # side by side, not on top of each other
        points = [(x + offset, case.ratio(impl)) for x, case in enumerate(cases) if case.ratio(impl) is not None]
        if points:
            xs, ys = zip(*points)
            axes.scatter(xs, ys, marker=marker, s=size, color=colour, label=impl, zorder=3)
    axes.axhline(1.0, color="black", linewidth=1, linestyle="--", zorder=2)
    axes.set_yscale("log")
    low, high = axes.get_ylim()
    ticks = [t for t in Y_TICKS if low <= t <= high]
    axes.set_yticks(ticks, [f"{t:g}" for t in ticks])
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_ylabel("time / limit (log)")
    axes.set_xticks(range(len(cases)), [c.label for c in cases], rotation=30, ha="right", fontsize=9)
    axes.set_xlim(-0.6, len(cases) - 0.4)
    axes.grid(True, axis="y", alpha=0.3)


def write_png(cases, png_path):
    """Write the figure; returns None, or why there is no PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        return f"matplotlib is not available ({error})"
    if not cases:
        return "there are no records to plot"
    thread_counts = sorted({c.threads for c in cases}, reverse=True)
    ops = ordered_ops(cases)
    series = plot_series(cases)
    variants = [impl for impl in series if impl.startswith(VARIANT_PREFIX)]
    figure, grid = plt.subplots(len(thread_counts), len(ops), figsize=(8 * len(ops), 10),
                                squeeze=False)
    for row, threads in enumerate(thread_counts):
        for col, op in enumerate(ops):
            plural = "s" if threads != 1 else ""
            draw_panel(grid[row][col], select(cases, threads, op), series, variants,
                       f"{OP_NAMES.get(op, op)}, {threads} thread{plural}")
    legend = {}
    for axes in grid.flat:
        handles, labels = axes.get_legend_handles_labels()
        legend.update(zip(labels, handles))
    labels = [impl for impl in series if impl in legend]
    figure.legend([legend[impl] for impl in labels], labels, loc="upper center", bbox_to_anchor=(0.5, 0.965),
                  ncol=len(labels), fontsize=11, frameon=False)
    figure.suptitle("normgen benchmark: median time relative to the memory-bandwidth limit "
                    "(dashed line at 1; lower is better)", fontsize=13)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.savefig(png_path, dpi=110)
    plt.close(figure)
    return None


# --------------------------------------------------------------------- main


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} path/to/results.json", file=sys.stderr)
        return 2
    json_path = argv[1]
    try:
        results = load_results(json_path)
        cases = group_cases(results.get("records", []))
    except (OSError, ValueError, KeyError) as error:
        print(f"{argv[0]}: cannot read {json_path}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    out_dir = os.path.dirname(os.path.abspath(json_path))
    md_path = os.path.join(out_dir, "results.md")
    png_path = os.path.join(out_dir, "results.png")
    write_markdown(results, cases, json_path, md_path)
    print(f"wrote {md_path}")
    why_not = write_png(cases, png_path)
    if why_not is None:
        print(f"wrote {png_path}")
        return 0
    # A PNG left from an earlier run would not match the new Markdown.
    if os.path.exists(png_path):
        os.remove(png_path)
    print(f"no {png_path}: {why_not}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
