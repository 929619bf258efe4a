"""Turn the LeNet benchmark's runs (bench/lenet/run) into lenet.md.

Usage: python bench/lenet/report.py bench/out/lenet.jsonl [--command "bench/lenet/run ..."]

Each line of the input is one run of one side, as demo/lenet benchmark and
bench/lenet/torch_lenet.py print it:

    {"impl": "normgen" or "torch", "norm": "ln", "batch": 64, "threads": 2,
     "steps": 50, "seconds": ..., "images_per_second": ..., "final_loss": ...,
     "torch_version": ... (torch's lines)}

Of the runs of one side with the same norm, batch and threads the best counts.
Writes lenet.md next to the input (a table per thread count and the target
evaluated) and prints it. The machine named is the one running this script,
so run it where the measurements were taken; the date is the input's last
change. Standard library only.
"""

import argparse
import datetime
import json
import os
import sys
from collections import Counter
from pathlib import Path

NORMGEN = "normgen"
TORCH = "torch"
IMPLS = (NORMGEN, TORCH)
NORM_ORDER = ("ln", "bn", "none")
REQUIRED_FIELDS = ("impl", "norm", "batch", "threads", "steps", "images_per_second")
# The project's target: normgen trains at least this many times PyTorch's
# images/s at this thread count, for every one of these norms.
TARGET_SPEEDUP = 2.0
TARGET_THREADS = 2
TARGET_NORMS = NORM_ORDER
ABSENT = "—"


def read_runs(path):
    runs = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                run = json.loads(line)
            except json.JSONDecodeError as error:
                sys.exit(f"{path}:{number}: not JSON ({error}): {line.strip()}")
            missing = [name for name in REQUIRED_FIELDS if name not in run]
            if missing:
                sys.exit(f"{path}:{number}: missing {', '.join(missing)}: {line.strip()}")
            if run["impl"] not in IMPLS:
                sys.exit(f"{path}:{number}: impl {run['impl']!r}, expected one of {IMPLS}")
            runs.append(run)
    if not runs:
        sys.exit(f"{path}: no runs")
    return runs


def best_runs(runs):
    """(threads, norm, batch) -> impl -> the run with the most images/s."""
    best = {}
    for run in runs:
        key = (run["threads"], run["norm"], run["batch"])
        sides = best.setdefault(key, {})
        if run["impl"] not in sides or run["images_per_second"] > sides[run["impl"]]["images_per_second"]:
            sides[run["impl"]] = run
    return best


def speedup(sides):
    """normgen's images/s over torch's, or None if either is absent."""
    if NORMGEN in sides and TORCH in sides:
        return sides[NORMGEN]["images_per_second"] / sides[TORCH]["images_per_second"]
    return None


def norm_rank(norm):
    return NORM_ORDER.index(norm) if norm in NORM_ORDER else len(NORM_ORDER)


def cell(sides, impl):
    return f"{sides[impl]['images_per_second']:,.0f}" if impl in sides else ABSENT


def tables(best):
    lines = []
    for threads in sorted({threads for threads, _, _ in best}, reverse=True):
        keys = sorted((key for key in best if key[0] == threads),
                      key=lambda key: (norm_rank(key[1]), key[1], key[2]))
        lines += [f"## {threads} thread{'s' if threads != 1 else ''}", "",
                  "| norm | batch | normgen img/s | torch img/s | normgen/torch |",
                  "|:--|--:|--:|--:|--:|"]
        for key in keys:
            sides = best[key]
            ratio = speedup(sides)
            lines.append(f"| {key[1]} | {key[2]} | {cell(sides, NORMGEN)} | {cell(sides, TORCH)} | "
                         f"{f'{ratio:.2f}x' if ratio is not None else ABSENT} |")
        lines.append("")
    return lines


def target_line(best):
    """PASS when every target norm has both sides measured at the target thread
    count and every such pair meets the speedup; FAIL when a measured pair
    falls short; INCOMPLETE when none falls short but a pair is missing."""
    checked, short, missing = [], [], []
    for norm in TARGET_NORMS:
        pairs = [(batch, speedup(sides)) for (threads, n, batch), sides in sorted(best.items())
                 if threads == TARGET_THREADS and n == norm and speedup(sides) is not None]
        if not pairs:
            missing.append(norm)
        for batch, ratio in pairs:
            checked.append(f"{norm} {ratio:.2f}x at batch {batch}")
            if ratio < TARGET_SPEEDUP:
                short.append(norm)
    verdict = "FAIL" if short else "INCOMPLETE" if missing else "PASS"
    what = (f"normgen's images/s >= {TARGET_SPEEDUP:g}x torch's at {TARGET_THREADS} threads, "
            f"for every one of {', '.join(TARGET_NORMS)}, at every batch size measured")
    details = [f"measured: {'; '.join(checked) if checked else 'nothing'}"]
    if missing:
        details.append(f"not measured on both sides: {', '.join(missing)}")
    return f"**Target: {verdict}**: {what} ({'; '.join(details)})."


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "an unnamed CPU"


def header_lines(runs, path, command):
    measured = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    torch_versions = sorted({run.get("torch_version") for run in runs
                             if run["impl"] == TORCH and run.get("torch_version")})
    steps = sorted({run["steps"] for run in runs})
    rounds = max(Counter((run["impl"], run["threads"], run["norm"], run["batch"])
                         for run in runs).values())
    reproduce = f"reproduce with `{command}`" if command else "command not recorded"
    return [
        "# LeNet training throughput: normgen against PyTorch",
        "",
        f"{measured:%Y-%m-%dT%H:%M:%SZ} on {cpu_model()}, {os.cpu_count()} cores; "
        f"PyTorch {', '.join(torch_versions) or ABSENT}; {reproduce} (data: `{path.name}`).",
        "",
        "Images per second of training (forward, softmax cross-entropy, backward, SGD step "
        "with momentum and weight decay): the batch over the median time of "
        f"{', '.join(map(str, steps))} timed steps, each timed apart, after untimed warm-up "
        f"steps; each side ran up to {rounds} times, alternating with the other, and its best "
        "run counts. norm: ln = LayerNorm over C x H x W, bn = BatchNorm in training mode, "
        "none = no norm. *normgen/torch* above 1x: normgen is faster.",
        "",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the JSON lines of bench/lenet/run")
    parser.add_argument("--command", help="the command that measured them, for the report")
    arguments = parser.parse_args()
    runs = read_runs(arguments.results)
    best = best_runs(runs)
    lines = header_lines(runs, arguments.results, arguments.command) + tables(best) + [target_line(best)]
    markdown = "\n".join(lines) + "\n"
    output = arguments.results.with_suffix(".md")
    output.write_text(markdown, encoding="utf-8")
    print(markdown, end="")
    print(f"(written to {output})")


if __name__ == "__main__":
    main()
