"""Fixed probe prompts rendered before and after training, for the report's side-by-side view.

The probes are the first ``config.probes`` tasks of the suite's held-out split (the training
split when there is none), decoded greedily so "before" and "after" differ only by training.
Each probe leaves ``probes/<tag>/probe-<i>.png`` (the render with its defects outlined, or the
error) and ``probe-<i>.json`` (prompt, completion, reward, defects); ``summary.json`` sums up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def probe_tasks(trainer: Any) -> list[Any]:
    from vsdpo.tasks import load_tasks

    n = trainer.cfg.probes
    try:
        held_out = load_tasks(trainer.cfg.tasks, "test")
    except (ValueError, KeyError, FileNotFoundError):
        held_out = []
    return (held_out or trainer.tasks)[:n]


def run_probes(trainer: Any, tag: str) -> Path:
    from vsdpo.inspect_image import save_annotated
    from vsdpo.train.trainer import PhaseTimer

    out = Path(trainer.out) / "probes" / tag
    tmp = out.with_name(f".tmp-{tag}")
    tmp.mkdir(parents=True, exist_ok=True)
    tasks = probe_tasks(trainer)
    rollouts = trainer.rollouts(tasks, PhaseTimer(), greedy=True)
    rows = []
    for i, (task, r) in enumerate(zip(tasks, rollouts)):
        save_annotated(r.result, r.defects, tmp / f"probe-{i}.png")
        row = {
            "probe": i,
            "task": task.id,
            "prompt": task.prompt,
            "completion": r.completion,
            "reward": r.reward.to_dict(),
            "error": r.result.error.summary() if r.result.error else None,
            "defects": [d.to_dict() for d in r.defects],
            "image": f"probe-{i}.png",
        }
        (tmp / f"probe-{i}.json").write_text(json.dumps(row, indent=2), encoding="utf-8")
        rows.append(row)
    summary = {
        "tag": tag,
        "step": trainer.state.step,
        "probes": len(rows),
        "reward_mean": sum(r["reward"]["total"] for r in rows) / max(1, len(rows)),
        "exec_rate": sum(r["reward"]["executable"] for r in rows) / max(1, len(rows)),
        "defect_free_rate": sum(r["reward"]["executable"] == 1.0 and not r["defects"] for r in rows)
        / max(1, len(rows)),
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out
