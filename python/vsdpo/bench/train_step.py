"""``vsdpo bench train``: where the time of one training step goes, per preset, on the same settings.

Each preset (``grpo``, ``sdpo``, ``vsdpo``) gets a fresh copy of the model, the same seed and
the same prompts, and runs ``--warmup`` untimed steps then ``--steps`` measured ones through the
trainer's own two halves, :meth:`Trainer.rollouts` and :meth:`Trainer.update`, whose
:class:`PhaseTimer` splits a step into generate, render, defects, credit, teacher forward,
student forward, student backward and optimizer. What those phases do not cover (scoring,
writing each rollout's feedback and tokenising the teacher prompts, padding) is reported as
``other``.

Completions are sampled, so their lengths differ between presets and steps; every phase is also
reported per 1,000 completion tokens, and the vsdpo/grpo ratio is given raw, per token, and with
generation and rendering (the phases every preset shares) left out.

With ``--trl`` (the default) TRL's ``SDPOTrainer`` is timed on the same model, batch, lengths and
divergence in the same run (see :mod:`vsdpo.bench.trl_step`). ``--out DIR`` writes
``train_step.json`` and ``train_step.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vsdpo.bench.timing import command_line, machine_description, markdown_table
from vsdpo.train.config import DISTILL_MODES, PRESETS, TrainConfig, from_sources
from vsdpo.train.trainer import PhaseTimer

#: the timer's phases in step order (``reference_forward`` only appears with a KL penalty); a
#: phase the trainer times that is not listed here is reported too, after these
PHASES = (
    "generate",
    "render",
    "defects",
    "fidelity",
    "credit",
    "teacher_forward",
    "reference_forward",
    "student_forward",
    "student_backward",
    "optimizer",
)
#: time inside a step that no phase covers: scoring, feedback text, teacher prompt tokenising
OTHER = "other"
#: the phases every preset pays the same way; left out of the "method cost" ratio
SHARED_PHASES = ("generate", "render")
CREDIT_TARGET_PERCENT = 1.0
VSDPO_OVER_GRPO_TARGET = 1.5


def _cuda_sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class SyncedPhaseTimer(PhaseTimer):
    """A :class:`PhaseTimer` that waits for the GPU at both ends of a phase, so asynchronous
    kernels are charged to the phase that launched them (a no-op on CPU)."""

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        _cuda_sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            _cuda_sync()
            self.totals[phase] += time.perf_counter() - t0


@dataclass
class StepTiming:
    """One measured step: seconds per phase, the wall time and the completion tokens."""

    phases: dict[str, float]
    wall_s: float
    completion_tokens: int
    rollouts: int
    load_1min: float | None = None  # the machine's load average when the step ended

    @property
    def other_s(self) -> float:
        return max(0.0, self.wall_s - sum(self.phases.values()))


@dataclass
class PresetProfile:
    """The measured steps of one preset."""

    preset: str
    steps: list[StepTiming] = field(default_factory=list)

    def mean_phase(self, phase: str) -> float:
        if not self.steps:
            return 0.0
        if phase == OTHER:
            return statistics.fmean(s.other_s for s in self.steps)
        return statistics.fmean(s.phases.get(phase, 0.0) for s in self.steps)

    @property
    def step_s(self) -> float:
        return statistics.fmean(s.wall_s for s in self.steps) if self.steps else 0.0

    @property
    def tokens(self) -> float:
        return statistics.fmean(s.completion_tokens for s in self.steps) if self.steps else 0.0

    def per_1k_tokens(self, seconds: float) -> float:
        return 1000.0 * seconds / self.tokens if self.tokens else math.inf

    @property
    def student_s(self) -> float:
        return self.mean_phase("student_forward") + self.mean_phase("student_backward")

    @property
    def method_s(self) -> float:
        """The step without generation and rendering: what the loss and its inputs cost."""
        return self.step_s - sum(self.mean_phase(p) for p in SHARED_PHASES)

    def summary(self) -> dict[str, Any]:
        return {
            "phases": {p: self.mean_phase(p) for p in phase_names([self])},
            "step_s": self.step_s,
            "completion_tokens": self.tokens,
            "credit_percent": 100.0 * self.mean_phase("credit") / self.step_s
            if self.step_s
            else 0.0,
            "student_fwd_bwd_s_per_1k_tokens": self.per_1k_tokens(self.student_s),
            "teacher_forward_s_per_1k_tokens": self.per_1k_tokens(
                self.mean_phase("teacher_forward")
            ),
            "step_s_per_1k_tokens": self.per_1k_tokens(self.step_s),
            "step_without_generate_render_s": self.method_s,
        }


def phase_names(profiles: Sequence[PresetProfile]) -> list[str]:
    """:data:`PHASES` (``reference_forward`` only when timed), then any other phase the trainer
    timed, in the order first seen, then ``other``."""
    seen: list[str] = []
    for p in profiles:
        for step in p.steps:
            seen += [name for name in step.phases if name not in seen]
    names = [n for n in PHASES if n != "reference_forward" or n in seen]
    return [*names, *(n for n in seen if n not in PHASES), OTHER]


@dataclass
class BenchSettings:
    """What every preset (and TRL) runs with."""

    model: str | None
    tasks: str
    steps: int
    warmup: int
    prompts: int
    group_size: int
    max_new_tokens: int
    distill: str
    seed: int
    dtype: str
    lora: str
    render_workers: int

    def config(self, preset: str, output_dir: Path) -> TrainConfig:
        return from_sources(
            overrides={
                "model": self.model,
                "tasks": self.tasks,
                "preset": preset,
                "output_dir": str(output_dir),
                "steps": self.warmup + self.steps,
                "prompts_per_step": self.prompts,
                "group_size": self.group_size,
                "max_new_tokens": self.max_new_tokens,
                "distill": self.distill,
                "seed": self.seed,
                "dtype": self.dtype,
                "lora": self.lora,
                "render_workers": self.render_workers,
                "tensorboard": False,
                "probes": 0,
                "report": "none",
                "save_rollouts": False,
            }
        )


def step_batches(settings: BenchSettings) -> list[list[Any]]:
    """The prompts of every step (warm-up included): the same for every preset and for TRL."""
    import numpy as np

    from vsdpo.tasks import load_tasks

    cfg = settings.config("vsdpo", Path("unused"))
    tasks = load_tasks(cfg.tasks, cfg.split)
    if not tasks:
        raise ValueError(f"no tasks in {cfg.tasks!r}")
    n = (settings.warmup + settings.steps) * settings.prompts
    order = np.random.default_rng(settings.seed).permutation(len(tasks))
    picked = [tasks[int(order[i % len(tasks)])] for i in range(n)]
    p = settings.prompts
    return [picked[i : i + p] for i in range(0, n, p)]


def profile_preset(
    preset: str, settings: BenchSettings, batches: Sequence[Sequence[Any]], workdir: Path
) -> PresetProfile:
    """Run ``batches`` through a fresh trainer of ``preset``; keep the steps after the warm-up."""
    from vsdpo.train.trainer import Trainer

    cfg = settings.config(preset, workdir / preset)
    all_tasks = [t for batch in batches for t in batch]
    trainer = Trainer(cfg, tasks=all_tasks, progress=False)
    profile = PresetProfile(preset)
    with contextlib.ExitStack() as stack:
        trainer._setup(stack)  # loads the model afresh and seeds every RNG with cfg.seed
        for k, batch in enumerate(batches):
            timer = SyncedPhaseTimer()
            _cuda_sync()
            t0 = time.perf_counter()
            rollouts = trainer.rollouts(list(batch), timer)
            trainer.update(rollouts, timer)
            _cuda_sync()
            wall = time.perf_counter() - t0
            if k < settings.warmup:
                continue
            profile.steps.append(
                StepTiming(
                    phases=dict(timer.totals),
                    wall_s=wall,
                    completion_tokens=sum(len(r.completion_ids) for r in rollouts),
                    rollouts=len(rollouts),
                    load_1min=_load_1min(),
                )
            )
    del trainer
    _free_memory()
    return profile


def _load_1min() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --- tables ---------------------------------------------------------------------------------


def _s(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def phase_table(profiles: Sequence[PresetProfile]) -> str:
    """Rows: phases; per preset, mean seconds per step and the share of the step."""
    headers = ["phase"]
    for p in profiles:
        headers += [f"{p.preset} s", f"{p.preset} %"]
    rows = []
    for phase in phase_names(profiles):
        row = [phase]
        for p in profiles:
            s = p.mean_phase(phase)
            row += [_s(s), f"{100 * s / p.step_s:.1f}" if p.step_s else "n/a"]
        rows.append(row)
    step_row = ["**step**"]
    for p in profiles:
        step_row += [f"**{_s(p.step_s)}**", "100"]
    rows.append(step_row)
    return markdown_table(headers, rows, align="l" + "r" * (len(headers) - 1))


def normalised_table(profiles: Sequence[PresetProfile]) -> str:
    """Per-token figures: seconds per 1,000 completion tokens."""
    headers = ["per step", *(p.preset for p in profiles)]
    lines = [
        ("completion tokens", lambda p: f"{p.tokens:,.0f}"),
        ("generate s / 1k tokens", lambda p: _s(p.per_1k_tokens(p.mean_phase("generate")))),
        ("student fwd+bwd s / 1k tokens", lambda p: _s(p.per_1k_tokens(p.student_s))),
        (
            "teacher fwd s / 1k tokens",
            lambda p: _s(p.per_1k_tokens(p.mean_phase("teacher_forward"))),
        ),
        ("step s / 1k tokens", lambda p: _s(p.per_1k_tokens(p.step_s))),
        (
            "step without generate+render s / 1k tokens",
            lambda p: _s(p.per_1k_tokens(p.method_s)),
        ),
        ("credit % of step", lambda p: f"{100 * p.mean_phase('credit') / p.step_s:.3f}"),
        ("machine load (1-min avg) after each step", _loads),
    ]
    rows = [[name, *(fmt(p) for p in profiles)] for name, fmt in lines]
    return markdown_table(headers, rows, align="l" + "r" * len(profiles))


def _loads(p: PresetProfile) -> str:
    loads = [s.load_1min for s in p.steps if s.load_1min is not None]
    return ", ".join(f"{x:.1f}" for x in loads) or "n/a"


def preset_ratios(profiles: Sequence[PresetProfile]) -> dict[str, dict[str, float]]:
    """Each preset against grpo: raw, per token, and without generation and rendering."""
    by = {p.preset: p for p in profiles}
    base = by.get("grpo")
    out: dict[str, dict[str, float]] = {}
    if base is None:
        return out
    for p in profiles:
        if p is base:
            continue
        out[f"{p.preset}/grpo"] = {
            "step": _ratio(p.step_s, base.step_s),
            "step_per_token": _ratio(p.per_1k_tokens(p.step_s), base.per_1k_tokens(base.step_s)),
            "without_generate_render": _ratio(p.method_s, base.method_s),
            "without_generate_render_per_token": _ratio(
                p.per_1k_tokens(p.method_s), base.per_1k_tokens(base.method_s)
            ),
        }
    return out


def ratio_table(ratios: dict[str, dict[str, float]]) -> str:
    headers = ["ratio", "step", "step per token", "w/o generate+render", "w/o gen+render per token"]
    keys = (
        "step",
        "step_per_token",
        "without_generate_render",
        "without_generate_render_per_token",
    )
    rows = [[name, *(f"{r[k]:.2f}x" for k in keys)] for name, r in ratios.items()]
    return markdown_table(headers, rows, align="lrrrr")


def target_lines(
    profiles: Sequence[PresetProfile], ratios: dict[str, dict[str, float]]
) -> list[str]:
    lines = []
    worst = max((p.summary()["credit_percent"] for p in profiles), default=0.0)
    met = "met" if worst < CREDIT_TARGET_PERCENT else "**not met**"
    lines.append(
        f"- credit < {CREDIT_TARGET_PERCENT:g} % of the step: {met} (largest share {worst:.3f} %)"
    )
    r = ratios.get("vsdpo/grpo")
    if r is not None:
        met = "met" if r["step"] <= VSDPO_OVER_GRPO_TARGET else "**not met**"
        met_tok = "met" if r["step_per_token"] <= VSDPO_OVER_GRPO_TARGET else "**not met**"
        lines.append(
            f"- vsdpo step <= {VSDPO_OVER_GRPO_TARGET:g}x grpo step: raw {r['step']:.2f}x ({met}); "
            f"per completion token {r['step_per_token']:.2f}x ({met_tok}); the phases the method "
            f"adds (teacher forward, credit, feedback) on their own: "
            f"{r['without_generate_render']:.2f}x without generate+render"
        )
    return lines


# --- the command ----------------------------------------------------------------------------


def _device_line() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return "GPU: none (CPU run)"


def build_report(
    command: str,
    settings: BenchSettings,
    profiles: Sequence[PresetProfile],
    trl: dict[str, Any] | None,
) -> tuple[str, dict[str, Any]]:
    """The markdown report and the JSON document of one run."""
    ratios = preset_ratios(profiles)
    parts = [
        f"`{command}`",
        "",
        f"- machine: {machine_description(('torch', 'transformers', 'trl'))}; {_device_line()}",
        f"- settings: model {settings.model or 'smollm2 (embedded default)'}, "
        f"{settings.prompts} prompts x {settings.group_size} completions, max {settings.max_new_tokens} "
        f"new tokens, distill {settings.distill}, dtype {settings.dtype}, {settings.warmup} warm-up + "
        f"{settings.steps} measured steps, seed {settings.seed}, same prompts for every preset",
        "",
        "Seconds per step (mean of the measured steps) and share of the step:",
        "",
        phase_table(profiles),
        "",
        "Normalised by the completion tokens sampled (lengths differ between presets):",
        "",
        normalised_table(profiles),
        "",
    ]
    if ratios:
        parts += [ratio_table(ratios), ""]
    parts += target_lines(profiles, ratios)
    parts += [
        "",
        f"`{OTHER}`: the part of a step no phase timer covers: scoring, each rollout's feedback text "
        "and the tokenising of the teacher prompts, padding.",
    ]
    if trl is not None:
        from vsdpo.bench.trl_step import trl_report_lines

        parts += ["", *trl_report_lines(trl, {p.preset: p for p in profiles})]
    doc = {
        "command": command,
        "machine": machine_description(("torch", "transformers", "trl")),
        "device": _device_line(),
        "settings": asdict(settings),
        "presets": {
            p.preset: {"mean": p.summary(), "steps": [asdict(s) for s in p.steps]} for p in profiles
        },
        "ratios": ratios,
        "trl": trl,
    }
    return "\n".join(parts), doc


def parse_args(argv: Sequence[str], prog: str) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n\n")[0].replace("``", "")
    )
    parser.add_argument("--model", help="model id or path (default: the embedded SmolLM2-135M)")
    parser.add_argument("--tasks", default=defaults.tasks, help="task suite (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=2, help="measured steps (default: 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: 1)")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per step (default: 2)")
    parser.add_argument("--group-size", type=int, default=4, help="completions per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="longest completion")
    parser.add_argument(
        "--presets", default="grpo,sdpo,vsdpo", help="comma-separated (default: %(default)s)"
    )
    parser.add_argument("--distill", default=defaults.distill, choices=DISTILL_MODES)
    parser.add_argument(
        "--trl",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time TRL's SDPOTrainer on the same settings (default: on)",
    )
    parser.add_argument("--out", help="directory for train_step.json and train_step.md")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default=defaults.dtype, help="as `vsdpo train --dtype`")
    parser.add_argument("--lora", default=defaults.lora, choices=("auto", "on", "off"))
    parser.add_argument("--render-workers", type=int, default=defaults.render_workers)
    args = parser.parse_args(list(argv))
    for name in ("steps", "prompts", "group_size", "max_new_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    args.preset_list = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in args.preset_list if p not in PRESETS]
    if unknown or not args.preset_list:
        parser.error(f"--presets: choose from {', '.join(PRESETS)}; got {args.presets!r}")
    return args


def main(argv: Sequence[str] | None = None, prog: str = "vsdpo bench train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv, prog)
    settings = BenchSettings(
        model=args.model,
        tasks=args.tasks,
        steps=args.steps,
        warmup=args.warmup,
        prompts=args.prompts,
        group_size=args.group_size,
        max_new_tokens=args.max_new_tokens,
        distill=args.distill,
        seed=args.seed,
        dtype=args.dtype,
        lora=args.lora,
        render_workers=args.render_workers,
    )
    batches = step_batches(settings)
    profiles = []
    trl: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="vsdpo-bench-train-") as tmp:
        for preset in args.preset_list:
            print(f"{prog}: {preset} ...", file=sys.stderr, flush=True)
            profiles.append(profile_preset(preset, settings, batches, Path(tmp)))
            done = profiles[-1]
            print(
                f"{prog}: {preset}: {done.step_s:.2f} s/step, {done.tokens:.0f} completion tokens",
                file=sys.stderr,
                flush=True,
            )
        if args.trl:
            from vsdpo.bench.trl_step import profile_trl

            print(f"{prog}: TRL SDPOTrainer ...", file=sys.stderr, flush=True)
            trl = profile_trl(settings, batches, Path(tmp) / "trl")
    report, doc = build_report(command_line(prog, argv), settings, profiles, trl)
    print(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_step.json").write_text(
            json.dumps(_finite(doc), indent=2, default=str, allow_nan=False), encoding="utf-8"
        )
        (out / "train_step.md").write_text(report + "\n", encoding="utf-8")
    return 0


def _finite(x: Any) -> Any:
    """``x`` with every non-finite float as None (JSON has no infinity)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


if __name__ == "__main__":
    sys.exit(main())
