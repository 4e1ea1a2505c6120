"""Evaluating a model on a task suite: ``vsdpo eval --model M --tasks SUITE_OR_DIR``.

For every task: generate (greedy by default), render in the sandbox, detect defects, score
(execution, defect-free, reward, and the benchmark's own metric against the reference when the
task has one), and keep the images. Results are appended to ``results.jsonl`` one task at a time,
so an interrupted evaluation resumes where it stopped. At the end: a table per tier (terminal and
``summary.md``), ``summary.json``, and ``report.html`` with reference | candidate (defects
outlined) side by side.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.artifact import DefectKind, RenderResult


@dataclass
class EvalConfig:
    model: str | None = None  # HF id, local path, a training run's final/ dir, or None (default)
    tasks: str = "builtin:chart"
    split: str = "test"
    limit: int | None = None  # evaluate only the first N tasks of the split
    per_tier: int | None = None  # or only the first N tasks of each difficulty tier
    output_dir: str = "runs/eval"
    batch_size: int = 8
    max_new_tokens: int = 256
    max_prompt_tokens: int = 768
    greedy: bool = True
    temperature: float = 0.8
    top_p: float = 0.95
    render_workers: int = 2
    seed: int = 0
    progress: bool = True


def _safe(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id)


def read_results(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # half-written by a killed run: that task is redone
            done[row["task"]] = row
    return done


def _reference_score(
    domain: str, candidate: RenderResult, reference: RenderResult | None
) -> dict[str, Any]:
    """The benchmark's own metric against the reference render, when one exists (else {})."""
    if reference is None or not reference.ok:
        return {}
    try:
        from vsdpo import metrics
    except ImportError:
        return {}
    scorer = getattr(metrics, "reference_scores", None)
    return dict(scorer(domain, candidate, reference)) if scorer else {}


class Evaluator:
    def __init__(
        self, config: EvalConfig, *, loaded: Any | None = None, tasks: Sequence[Any] | None = None
    ) -> None:
        self.cfg = config
        self.out = Path(config.output_dir)
        self._loaded = loaded
        self._tasks = list(tasks) if tasks is not None else None

    def run(self) -> dict[str, Any]:
        import torch
        from tqdm.auto import tqdm

        from vsdpo.defects import detect_defects
        from vsdpo.inspect_image import save_annotated
        from vsdpo.model import load_model
        from vsdpo.render import open_renderer
        from vsdpo.rewards import score
        from vsdpo.tasks import load_tasks
        from vsdpo.train.prompts import build_prompt
        from vsdpo.train.rollout import sample_groups

        cfg = self.cfg
        tasks = self._tasks if self._tasks is not None else load_tasks(cfg.tasks, cfg.split)
        if cfg.per_tier is not None:
            taken: dict[str, int] = defaultdict(int)
            kept = []
            for t in tasks:
                if taken[t.tier] < cfg.per_tier:
                    taken[t.tier] += 1
                    kept.append(t)
            tasks = kept
        if cfg.limit is not None:
            tasks = tasks[: cfg.limit]
        if not tasks:
            raise ValueError(f"no tasks in {cfg.tasks!r} (split {cfg.split!r})")
        domains = {t.domain for t in tasks}
        if len(domains) != 1:
            raise ValueError(
                f"evaluate one domain at a time; {cfg.tasks!r} mixes {sorted(domains)}"
            )
        domain = domains.pop()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "images").mkdir(exist_ok=True)
        results_path = self.out / "results.jsonl"
        done = read_results(results_path)
        todo = [t for t in tasks if t.id not in done]
        (self.out / "eval_config.json").write_text(
            json.dumps(asdict(cfg), indent=2), encoding="utf-8"
        )
        t0 = time.perf_counter()
        if todo:
            torch.manual_seed(cfg.seed)
            loaded = self._loaded or load_model(cfg.model, lora=False)
            model, tokenizer = loaded.model, loaded.tokenizer
            model.eval()
            bar = tqdm(
                total=len(tasks),
                initial=len(tasks) - len(todo),
                desc="vsdpo eval",
                unit="task",
                disable=not cfg.progress,
                dynamic_ncols=True,
            )
            with open_renderer(domain, workers=cfg.render_workers) as renderer:
                for start in range(0, len(todo), cfg.batch_size):
                    batch = todo[start : start + cfg.batch_size]
                    rollouts = sample_groups(
                        model,
                        tokenizer,
                        [
                            build_prompt(tokenizer, None, t.prompt, cfg.max_prompt_tokens)
                            for t in batch
                        ],
                        1,
                        max_new_tokens=cfg.max_new_tokens,
                        temperature=cfg.temperature,
                        top_p=cfg.top_p,
                        top_k=0,
                        do_sample=not cfg.greedy,
                        device=next(model.parameters()).device,
                    )
                    results = renderer.render_many([r.completion for r in rollouts])
                    references = self._references(renderer, batch)
                    rows = []
                    for task, r, res, ref in zip(batch, rollouts, results, references):
                        defects = detect_defects([res])[0]
                        reward = score(res, defects, task.required_texts)
                        name = _safe(task.id)
                        save_annotated(res, defects, self.out / "images" / f"{name}.candidate.png")
                        ref_image = self._save_reference(task, ref, name)
                        rows.append(
                            {
                                "task": task.id,
                                "tier": task.tier,
                                "domain": domain,
                                "completion": r.completion,
                                "truncated": r.truncated,
                                "executable": reward.executable,
                                "defect_free": float(reward.executable == 1.0 and not defects),
                                "reward": reward.total,
                                "fidelity": reward.fidelity,
                                "defects": [d.to_dict() for d in defects],
                                "error": res.error.summary() if res.error else None,
                                "reference_scores": _reference_score(domain, res, ref),
                                "candidate_image": f"images/{name}.candidate.png",
                                "reference_image": ref_image,
                            }
                        )
                    with open(results_path, "a", encoding="utf-8") as f:
                        for row in rows:
                            f.write(json.dumps(row) + "\n")
                    bar.update(len(batch))
            bar.close()
        rows = [read_results(results_path)[t.id] for t in tasks]
        summary = summarise(rows)
        summary["model"] = cfg.model or "smollm2 (default)"
        summary["tasks"] = cfg.tasks
        summary["split"] = cfg.split
        summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        table = summary_markdown(summary)
        (self.out / "summary.md").write_text(table, encoding="utf-8")
        write_html(self.out, summary, rows)
        return summary

    def _references(self, renderer: Any, batch: Sequence[Any]) -> list[RenderResult | None]:
        """Reference renders of the tasks that carry reference code (one render_many call)."""
        idx = [i for i, t in enumerate(batch) if t.reference_code]
        out: list[RenderResult | None] = [None] * len(batch)
        if idx:
            rendered = renderer.render_many([batch[i].reference_code for i in idx], extract=False)
            for i, res in zip(idx, rendered):
                out[i] = res
        return out

    def _save_reference(self, task: Any, ref: RenderResult | None, name: str) -> str | None:
        from PIL import Image

        path = self.out / "images" / f"{name}.reference.png"
        if task.reference_image and Path(task.reference_image).is_file():
            Image.open(task.reference_image).convert("RGB").save(path)
            return f"images/{path.name}"
        if ref is not None and ref.ok and ref.image is not None:
            Image.fromarray(ref.image).save(path)
            return f"images/{path.name}"
        return None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Execution rate, defect-free rate, mean reward, defects per artifact by kind, reference
    scores -- overall and per tier."""

    def block(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = len(rs)
        b: dict[str, Any] = {
            "n": n,
            "exec_rate": float(np.mean([r["executable"] for r in rs])) if n else 0.0,
            "defect_free_rate": float(np.mean([r["defect_free"] for r in rs])) if n else 0.0,
            "reward": float(np.mean([r["reward"] for r in rs])) if n else 0.0,
            "truncated_rate": float(np.mean([r["truncated"] for r in rs])) if n else 0.0,
        }
        per_kind = defaultdict(float)
        for r in rs:
            for d in r["defects"]:
                per_kind[d["kind"]] += 1.0 / n
        b["defects_per_artifact"] = {k: round(per_kind.get(k, 0.0), 4) for k in DefectKind.ALL}
        keys = sorted(
            {
                k
                for r in rs
                for k, v in (r.get("reference_scores") or {}).items()
                if isinstance(v, (int, float))
            }
        )
        b["reference_scores"] = {
            k: float(
                np.mean(
                    [
                        r["reference_scores"][k]
                        for r in rs
                        if isinstance((r.get("reference_scores") or {}).get(k), (int, float))
                    ]
                )
            )
            for k in keys
        }
        return b

    tiers = sorted({r["tier"] for r in rows})
    return {
        "overall": block(rows),
        "tiers": {t: block([r for r in rows if r["tier"] == t]) for t in tiers},
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    score_keys = list(summary["overall"]["reference_scores"])
    head = ["tier", "n", "exec rate", "defect-free", "reward", "truncated", *score_keys]
    lines = [
        f"Model `{summary.get('model')}` on `{summary.get('tasks')}` ({summary.get('split')} split)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    blocks = [*summary["tiers"].items(), ("**all**", summary["overall"])]
    for name, b in blocks:
        cells = [
            name,
            str(b["n"]),
            f"{b['exec_rate']:.1%}",
            f"{b['defect_free_rate']:.1%}",
            f"{b['reward']:.3f}",
            f"{b['truncated_rate']:.0%}",
        ]
        cells += [f"{b['reference_scores'].get(k, float('nan')):.3f}" for k in score_keys]
        lines.append("| " + " | ".join(cells) + " |")
    per_kind = summary["overall"]["defects_per_artifact"]
    lines += [
        "",
        "Defects per artifact: " + ", ".join(f"{k} {v:.2f}" for k, v in per_kind.items() if v),
    ]
    return "\n".join(lines) + "\n"


def write_html(out: Path, summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> Path:
    """``report.html``: the summary table and every task's reference | candidate side by side."""
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'\">",
        "<title>vsdpo eval</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        ".pair{display:flex;gap:1em;align-items:flex-start}.pair img{max-width:560px;border:1px solid #ddd}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:8px;max-height:24em;overflow:auto}</style>",
        f"<h1>Evaluation: {esc(str(summary.get('model')))}</h1>",
        f"<pre>{esc(summary_markdown(summary))}</pre>",
    ]
    for r in rows:
        status = "ok" if r["executable"] else f"failed: {r['error'] or 'drew nothing'}"
        parts.append(
            f"<h3>{esc(r['task'])} <small>({esc(r['tier'])}; reward {r['reward']:.3f}; {esc(status)})</small></h3>"
        )
        parts.append("<div class='pair'>")
        for label, key in (("reference", "reference_image"), ("candidate", "candidate_image")):
            if r.get(key):
                parts.append(
                    f"<figure><figcaption>{label}</figcaption><img src='{esc(r[key])}'></figure>"
                )
        parts.append("</div>")
        if r["defects"]:
            parts.append(
                "<ul>" + "".join(f"<li>{esc(d['message'])}</li>" for d in r["defects"]) + "</ul>"
            )
        parts.append(
            f"<details><summary>completion</summary><pre>{esc(r['completion'])}</pre></details>"
        )
    path = out / "report.html"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def evaluate(config: EvalConfig, **kwargs: Any) -> dict[str, Any]:
    return Evaluator(config, **kwargs).run()
