"""Prints Nsight Compute's CSV (on stdin; scripts/gpu-profile) as one line
per profiled kernel, in launch order: its duration, grid, block and name."""
import csv
import sys


def main():
    rows = [row for row in csv.reader(sys.stdin) if row]
    header = next((i for i, row in enumerate(rows) if "Kernel Name" in row), None)
    if header is None:
        print("kernel_summary: no kernel in the report", file=sys.stderr)
        return 1
    names = rows[header]
    for values in rows[header + 1:]:
        kernel = dict(zip(names, values))
        if kernel.get("Metric Name") != "gpu__time_duration.sum":
            continue
        duration = f"{kernel['Metric Value']} {kernel['Metric Unit']}"
        print(f"{duration:>16}  grid {kernel.get('Grid Size', '?'):>16}  "
              f"block {kernel.get('Block Size', '?'):>12}  {kernel['Kernel Name'][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
