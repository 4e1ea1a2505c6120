"""Training step profile: seconds per phase for grpo, sdpo and vsdpo on the same settings, and
TRL's SDPOTrainer step on the same model, batch and lengths.

    python benches/bench_train_step.py [--model M] [--steps 2] [--warmup 1] [--prompts 2]
        [--group-size 4] [--max-new-tokens 128] [--presets grpo,sdpo,vsdpo] [--distill topk]
        [--trl/--no-trl] [--out DIR]

The same as ``vsdpo bench train``; see vsdpo/bench/train_step.py for what is measured.
"""

import sys

from vsdpo.bench.train_step import main

if __name__ == "__main__":
    sys.exit(main(prog="python benches/bench_train_step.py"))
