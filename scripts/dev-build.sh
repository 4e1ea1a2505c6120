#!/usr/bin/env bash
# Developer build: compile the Rust kernels and install vsdpo into the project's venv in
# editable mode (Python edits under python/ take effect without rebuilding).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/env.sh")"
cd "$root"
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet
