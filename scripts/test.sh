#!/usr/bin/env bash
# The whole test suite, as CI runs it: build the wheel from scratch with maturin, install it
# into a clean target directory, then run the Rust unit tests and pytest against that wheel
# (not against the source tree). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(bash scripts/env.sh)"
export PATH="$venv/bin:$PATH"

echo "== ruff (lint and format check)"
ruff check python tests benches
ruff format --check python tests benches

echo "== cargo fmt and clippy"
cargo fmt --check
cargo clippy --release --quiet --all-targets -- -D warnings

echo "== cargo test"
cargo test --release --quiet

echo "== maturin build (wheel from scratch)"
rm -rf dist
maturin build --release --quiet --out dist
wheel=$(ls dist/vsdpo-*.whl)

# Install the wheel into its own directory and put it first on sys.path, so the tests import
# exactly what users get, whatever editable install a developer has in the shared venv.
site="$(mktemp -d /tmp/vsdpo-wheel.XXXXXX)"
chmod 755 "$site"  # the sandbox drops to an unprivileged user that must still import vsdpo
trap 'rm -rf "$site"' EXIT
python -m pip install --quiet --no-deps --no-compile --target "$site" "$wheel"

echo "== pytest (against $wheel)"
PYTHONPATH="$site" VSDPO_EXPECT_WHEEL="$site" python -m pytest "$@"
