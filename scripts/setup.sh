#!/usr/bin/env bash
# Sourced by scripts/demo and scripts/test. Brings a fresh machine to a built
# tree, doing only what is missing: Debian packages, the project venv with
# Halide, CMake and Ninja from PyPI, the configured build folder, the build.
set -euo pipefail

NORMGEN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NORMGEN_VENV=$NORMGEN_ROOT/.venv
NORMGEN_BUILD=$NORMGEN_ROOT/build

install_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "normgen setup: installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

create_venv() {
  local stamp=$NORMGEN_VENV/.requirements
  if [ -f "$stamp" ] && cmp -s "$stamp" "$NORMGEN_ROOT/requirements.txt"; then
    return 0
  fi
  echo "normgen setup: creating $NORMGEN_VENV (Halide, CMake, Ninja from PyPI)"
  python3 -m venv "$NORMGEN_VENV"
  "$NORMGEN_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$NORMGEN_ROOT/requirements.txt"
  cp "$NORMGEN_ROOT/requirements.txt" "$stamp"
}

configure_and_build() {
  # The venv's bin/ first on PATH lets find_package(Halide) see the wheel's
  # CMake package and makes the venv's cmake and ninja the ones used.
  export PATH=$NORMGEN_VENV/bin:$PATH
  if [ ! -f "$NORMGEN_BUILD/CMakeCache.txt" ]; then
    cmake -S "$NORMGEN_ROOT" -B "$NORMGEN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
  fi
  cmake --build "$NORMGEN_BUILD"
}

# zlib and libpng: the LeNet demo reads Fashion-MNIST (gzip), PNG images and
# writes PNG plots; dataset-fashion-mnist is its data.
install_debian_packages catch2 python3-venv python3-dev zlib1g-dev libpng-dev dataset-fashion-mnist
create_venv
configure_and_build
