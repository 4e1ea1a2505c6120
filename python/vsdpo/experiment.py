"""``vsdpo experiment ablation``: does Visual-SDPO help, and which part of it?

With the same model, seed, data and step budget, it trains three runs -- ``grpo`` (reward only),
``sdpo`` (self-distillation with uniform credit, no GRPO) and ``vsdpo`` (credit-weighted
distillation plus GRPO) -- evaluates the zero-shot model and each trained model on the held-out
split, and writes one comparison table (``ablation.md`` / ``ablation.json``) and the training
curves of all three on one figure (``curves.png``). Every piece is resumable: a finished run or
evaluation is reused, an interrupted one is continued.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRESETS = ("grpo", "sdpo", "vsdpo")


@dataclass
class AblationConfig:
    model: str | None = None
    tasks: str = "builtin:chart"
    output_dir: str = "runs/ablation"
    steps: int = 8
    prompts_per_step: int = 2
    group_size: int = 4
    max_new_tokens: int = 256
    learning_rate: float = 2e-5
    eval_limit: int | None = 24
    eval_max_new_tokens: int = 256
    seed: int = 0
    presets: tuple[str, ...] = PRESETS
    progress: bool = True


def _primary(summary: dict[str, Any]) -> tuple[str, float]:
    """The headline metric: the benchmark's overall score when the suite has references, else reward."""
    from vsdpo.metrics.reference import PRIMARY

    scores = summary["overall"].get("reference_scores") or {}
    for key in PRIMARY.values():
        if key in scores:
            return key, float(scores[key])
    return "reward", float(summary["overall"]["reward"])


def run_ablation(cfg: AblationConfig) -> dict[str, Any]:
    from vsdpo.evaluate.policy import EvalConfig, evaluate
    from vsdpo.train.checkpoint import latest_checkpoint
    from vsdpo.train.config import from_sources
    from vsdpo.train.logs import read_jsonl
    from vsdpo.train.trainer import train

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)

    def run_eval(name: str, model: str | None) -> dict[str, Any]:
        ecfg = EvalConfig(
            model=model,
            tasks=cfg.tasks,
            split="test",
            limit=cfg.eval_limit,
            output_dir=str(out / name / "eval"),
            max_new_tokens=cfg.eval_max_new_tokens,
            seed=cfg.seed,
            progress=cfg.progress,
        )
        return evaluate(ecfg)

    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    summary = run_eval("zero-shot", cfg.model)
    metric, value = _primary(summary)
    rows.append(
        {
            "method": "zero-shot",
            "metric": metric,
            "primary": value,
            "steps": 0,
            "train_time_s": 0.0,
            **_rates(summary),
            "eval_time_s": summary["wall_time_s"],
        }
    )
    curves: dict[str, list[dict[str, Any]]] = {}
    for preset in cfg.presets:
        run_dir = out / preset
        tcfg = from_sources(
            overrides={
                "model": cfg.model,
                "tasks": cfg.tasks,
                "output_dir": str(run_dir),
                "preset": preset,
                "steps": cfg.steps,
                "prompts_per_step": cfg.prompts_per_step,
                "group_size": cfg.group_size,
                "max_new_tokens": cfg.max_new_tokens,
                "learning_rate": cfg.learning_rate,
                "seed": cfg.seed,
                "probes": 0,
                "report": "md",
                "resume": latest_checkpoint(run_dir) is not None,
            }
        )
        if not (run_dir / "final").is_dir():
            train(tcfg, progress=cfg.progress)
        metrics = read_jsonl(run_dir / "metrics.jsonl")
        curves[preset] = metrics
        summary = run_eval(preset, str(run_dir / "final"))
        metric, value = _primary(summary)
        rows.append(
            {
                "method": preset,
                "metric": metric,
                "primary": value,
                "steps": metrics[-1]["step"] if metrics else 0,
                "train_time_s": metrics[-1].get("time/elapsed", 0.0) if metrics else 0.0,
                **_rates(summary),
                "eval_time_s": summary["wall_time_s"],
            }
        )
    result = {
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
        "rows": rows,
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    (out / "ablation.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (out / "ablation.md").write_text(ablation_markdown(result), encoding="utf-8")
    plot_curves(curves, out / "curves.png")
    return result


def _rates(summary: dict[str, Any]) -> dict[str, float]:
    o = summary["overall"]
    return {
        "exec_rate": o["exec_rate"],
        "defect_free_rate": o["defect_free_rate"],
        "reward": o["reward"],
    }


def ablation_markdown(result: dict[str, Any]) -> str:
    c = result["config"]
    lines = [
        f"Ablation on `{c['tasks']}` (held-out split, {c['eval_limit'] or 'all'} tasks), model "
        f"`{c['model'] or 'smollm2 (default)'}`, {c['steps']} steps x {c['prompts_per_step']} prompts x "
        f"{c['group_size']} samples, seed {c['seed']}",
        "",
        "| method | primary metric | exec rate | defect-free | reward | steps | train time | eval time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['method']} | {r['metric']} {r['primary']:.3f} | {r['exec_rate']:.1%} | "
            f"{r['defect_free_rate']:.1%} | {r['reward']:.3f} | {r['steps']} | "
            f"{r['train_time_s']:.0f}s | {r['eval_time_s']:.0f}s |"
        )
    lines.append(f"\nTotal wall time {result['wall_time_s']:.0f}s.")
    return "\n".join(lines) + "\n"


def plot_curves(curves: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Reward and execution rate per step of every run on one figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    axes = fig.subplots(1, 3)
    for ax, key, title in zip(
        axes,
        ("reward/mean", "exec_rate", "defect_free_rate"),
        ("mean reward", "execution rate", "defect-free rate"),
    ):
        for preset, rows in curves.items():
            pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=preset)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    buffer = io.BytesIO()  # not a path: see vsdpo.train.report._Plotter.save
    fig.savefig(buffer, format="png")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="vsdpo experiment ablation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d = AblationConfig()
    p.add_argument(
        "--model", default=d.model, help="model id or path (default: the embedded SmolLM2-135M)"
    )
    p.add_argument("--tasks", default=d.tasks, help="task suite or directory")
    p.add_argument("--output-dir", default=d.output_dir)
    p.add_argument("--steps", type=int, default=d.steps, help="training steps per method")
    p.add_argument("--prompts-per-step", type=int, default=d.prompts_per_step)
    p.add_argument("--group-size", type=int, default=d.group_size)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument(
        "--eval-limit", type=int, default=d.eval_limit, help="held-out tasks evaluated (0: all)"
    )
    p.add_argument("--eval-max-new-tokens", type=int, default=d.eval_max_new_tokens)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--presets", default=",".join(d.presets), help="comma-separated: grpo,sdpo,vsdpo"
    )
    args = p.parse_args(argv)
    presets = tuple(s for s in args.presets.split(",") if s)
    bad = [s for s in presets if s not in PRESETS]
    if bad:
        raise SystemExit(
            f"vsdpo experiment ablation: unknown preset(s) {bad}; choose from {PRESETS}"
        )
    cfg = AblationConfig(
        model=args.model,
        tasks=args.tasks,
        output_dir=args.output_dir,
        steps=args.steps,
        prompts_per_step=args.prompts_per_step,
        group_size=args.group_size,
        max_new_tokens=args.max_new_tokens,
        learning_rate=args.learning_rate,
        eval_limit=args.eval_limit or None,
        eval_max_new_tokens=args.eval_max_new_tokens,
        seed=args.seed,
        presets=presets,
    )
    result = run_ablation(cfg)
    print(ablation_markdown(result))
    print(f"-> {Path(cfg.output_dir) / 'ablation.md'}, {Path(cfg.output_dir) / 'curves.png'}")
    return 0
