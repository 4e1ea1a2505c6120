#!/usr/bin/env bash
# The main job on a fresh machine: set up the environment, build vsdpo, and run it.
# Until `vsdpo train` lands, the main job is the kernel benchmark plus a chart and a web page
# with layout mistakes, rendered and inspected.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(bash scripts/env.sh)"
bash scripts/dev-build.sh
export PATH="$venv/bin:$PATH"
mkdir -p runs/demo
vsdpo bench kernels --markdown runs/demo/bench_kernels.md
vsdpo inspect examples/crowded_chart.py -o runs/demo/crowded_chart.inspect.png
vsdpo inspect examples/cramped_page.html -o runs/demo/cramped_page.inspect.png
echo "demo outputs are in runs/demo/"
