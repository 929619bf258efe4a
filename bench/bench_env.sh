#!/usr/bin/env bash
# Sourced after scripts/setup.sh by bench/run and bench/lenet/run: the
# benchmarks' Python environment, BENCH_VENV, and create_bench_env, which
# creates it where it is missing or older than bench/requirements.txt.

BENCH_VENV=$NORMGEN_ROOT/.venv-bench

# PyTorch, ONNX Runtime and matplotlib, newest from PyPI (torch brings its
# CUDA libraries, about 5 GB); if PyPI's torch cannot be installed, Debian's
# python3-torch. Whatever is missing in the end is a column the benchmark
# leaves out, saying why.
create_bench_env() {
  local stamp=$BENCH_VENV/.requirements
  if [ -f "$stamp" ] && cmp -s "$stamp" "$NORMGEN_ROOT/bench/requirements.txt"; then
    return 0
  fi
  echo "bench: creating $BENCH_VENV (PyTorch, ONNX Runtime, matplotlib from PyPI)"
  rm -rf "$BENCH_VENV"
  python3 -m venv "$BENCH_VENV"
  if ! "$BENCH_VENV/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$NORMGEN_ROOT/bench/requirements.txt"; then
    echo "bench: PyPI's torch could not be installed; falling back to Debian's python3-torch"
    install_debian_packages python3-torch
    rm -rf "$BENCH_VENV"
    /usr/bin/python3 -m venv --system-site-packages "$BENCH_VENV"
    grep -v '^torch==' "$NORMGEN_ROOT/bench/requirements.txt" |
      "$BENCH_VENV/bin/python" -m pip install -q --disable-pip-version-check -r /dev/stdin ||
      echo "bench: some Python anchors are missing; the benchmark says which"
  fi
  cp "$NORMGEN_ROOT/bench/requirements.txt" "$stamp"
}
