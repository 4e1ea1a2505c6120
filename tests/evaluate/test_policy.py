"""`vsdpo eval` and `vsdpo experiment ablation` end to end on a tiny random model (fast)."""

from __future__ import annotations

import json

from PIL import Image

from vsdpo.evaluate.policy import EvalConfig, evaluate, summarise
from vsdpo.tasks import load_tasks


def test_eval_writes_results_summary_and_report_and_resumes(tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "eval"
    cfg = EvalConfig(
        model=str(tiny_model_dir),
        split="test",
        limit=3,
        output_dir=str(out),
        max_new_tokens=16,
        batch_size=2,
        render_workers=1,
        progress=False,
    )
    summary = evaluate(cfg)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    tasks = load_tasks("builtin:chart", "test")[:3]
    assert [r["task"] for r in rows] == [t.id for t in tasks]
    assert summary["overall"]["n"] == 3
    assert set(summary["tiers"]) == {t.tier for t in tasks}
    for r in rows:
        Image.open(out / r["candidate_image"]).verify()
        # every built-in chart task has reference code, so a reference image is written
        assert r["reference_image"] and (out / r["reference_image"]).is_file()
    html = (out / "report.html").read_text()
    assert "reference" in html and "candidate" in html and "<script" not in html.lower()
    assert "| **all** | 3 |" in (out / "summary.md").read_text()

    # resuming: a model path that does not exist is never loaded when every task is done
    again = evaluate(EvalConfig(**{**cfg.__dict__, "model": str(tmp_path / "no-such-model")}))
    assert again["overall"] == summary["overall"]


def test_per_tier_takes_the_first_tasks_of_every_tier(tiny_model_dir, tmp_path) -> None:
    cfg = EvalConfig(
        model=str(tiny_model_dir),
        split="test",
        per_tier=1,
        output_dir=str(tmp_path),
        max_new_tokens=8,
        batch_size=4,
        render_workers=1,
        progress=False,
    )
    summary = evaluate(cfg)
    tiers = {t.tier for t in load_tasks("builtin:chart", "test")}
    assert set(summary["tiers"]) == tiers
    assert all(b["n"] == 1 for b in summary["tiers"].values())


def test_summarise_counts_rates_and_defects_per_kind() -> None:
    def row(tier, ok, defects):
        return {
            "tier": tier,
            "executable": float(ok),
            "defect_free": float(ok and not defects),
            "reward": 0.5 if ok else 0.0,
            "truncated": False,
            "defects": [{"kind": k} for k in defects],
            "reference_scores": {"overall": 0.4 if ok else 0.0},
        }

    s = summarise(
        [
            row("edit", True, []),
            row("edit", True, ["overlap", "overlap"]),
            row("repair", False, ["exec_error"]),
        ]
    )
    assert s["overall"]["exec_rate"] == 2 / 3
    assert s["overall"]["defect_free_rate"] == 1 / 3
    assert s["overall"]["defects_per_artifact"]["overlap"] == round(2 / 3, 4)
    assert s["tiers"]["edit"]["defect_free_rate"] == 0.5
    assert s["overall"]["reference_scores"]["overall"] == (0.4 + 0.4 + 0.0) / 3


def test_ablation_runs_every_method_and_compares_them(tiny_model_dir, tmp_path) -> None:
    from vsdpo.experiment import AblationConfig, run_ablation

    cfg = AblationConfig(
        model=str(tiny_model_dir),
        output_dir=str(tmp_path / "abl"),
        steps=1,
        prompts_per_step=1,
        group_size=2,
        max_new_tokens=12,
        eval_limit=2,
        eval_max_new_tokens=12,
        progress=False,
    )
    result = run_ablation(cfg)
    assert [r["method"] for r in result["rows"]] == ["zero-shot", "grpo", "sdpo", "vsdpo"]
    assert all(r["steps"] == (0 if r["method"] == "zero-shot" else 1) for r in result["rows"])
    table = (tmp_path / "abl" / "ablation.md").read_text()
    assert all(f"| {m} |" in table for m in ("zero-shot", "grpo", "sdpo", "vsdpo"))
    Image.open(tmp_path / "abl" / "curves.png").verify()
    # a second call reuses every finished run and evaluation
    again = run_ablation(cfg)
    assert [r["primary"] for r in again["rows"]] == [r["primary"] for r in result["rows"]]
