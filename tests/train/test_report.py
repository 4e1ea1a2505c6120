"""The end-of-run report on a synthetic run directory: files, plots, numbers, escaping, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vsdpo.train.report import load_run, write_report

PLOTS = ("reward", "rates", "defects", "loss", "kl", "credit", "time")
SCRIPT = "<script>alert('pwned')</script>"
BAD_MESSAGE = "line 3: <img src=x onerror=alert(1)> | *bold* [link](http://x)"

CONFIG = """\
model: null
tasks: builtin:chart
split: train
output_dir: RUN
preset: vsdpo
steps: 3
sd_weight: 1.0
beta: 0.5
credit_lambda: 1.0
learning_rate: 2.0e-05
"""


def _metrics_rows() -> list[str]:
    """Three steps with missing keys and nulls, a half-written line and a NaN."""
    step1 = {
        "step": 1,
        "lr": 2e-5,
        "reward/mean": 0.2,
        "reward/std": 0.1,
        "reward/max": 0.4,
        "reward/fidelity": None,
        "exec_rate": 0.5,
        "defect_free_rate": 0.25,
        "truncated_rate": 0.0,
        "tokens/completion_mean": 120.0,
        "defects/overlap": 1.5,
        "defects/clipped_text": 0.5,
        "defects/exec_error": None,
        "credit/mean_weight": 1.2,
        "credit/max_weight": 2.0,
        "credit/weighted_fraction": 0.1,
        "loss/total": 1.0,
        "loss/distill": 0.8,
        "loss/grpo": 0.2,
        "kl/teacher": None,  # logged as null
        "grad_norm": 0.9,
        "time/generate": 2.0,
        "time/render": 1.0,
        "time/teacher_forward": 0.5,
        "time/step": 3.5,
        "time/elapsed": 3.5,
    }
    step2 = {  # no kl, no credit, no defects keys at all
        "step": 2,
        "reward/mean": 0.3,
        "reward/std": 0.2,
        "reward/max": float("nan"),
        "exec_rate": 0.5,
        "defect_free_rate": 0.25,
        "kl/teacher": 0.08,
        "loss/total": 0.9,
        "time/generate": 2.5,
        "time/render": 1.5,
        "time/step": 4.0,
        "time/elapsed": 7.5,
    }
    step3 = {
        "step": 3,
        "reward/mean": 0.45,
        "reward/std": 0.15,
        "reward/max": 0.9,
        "exec_rate": 0.75,
        "defect_free_rate": 0.5,
        "tokens/completion_mean": 100.0,
        "defects/overlap": 0.5,
        "defects/clipped_text": 0.0,
        "credit/mean_weight": 1.1,
        "credit/max_weight": 1.5,
        "credit/weighted_fraction": 0.05,
        "loss/total": 0.7,
        "loss/distill": 0.6,
        "loss/grpo": 0.1,
        "kl/teacher": 0.05,
        "kl/teacher_weighted": 0.07,
        "time/generate": 2.0,
        "time/render": 1.0,
        "time/optimizer": 0.25,
        "time/step": 3.25,
        "time/elapsed": 3725.0,
    }
    return [json.dumps(step1), json.dumps(step2), '{"step": 4, "reward/me', json.dumps(step3)]


def _rollout(step: int, task: str, total: float, completion: str, **kw) -> dict:
    row = {
        "step": step,
        "task": task,
        "completion": completion,
        "reward": {"executable": 1.0, "quality": total, "fidelity": None, "total": total},
        "advantage": 0.0,
        "error": None,
        "defects": [],
        "feedback": "",
        "demonstration": None,
        "blamed_tokens": 0,
    }
    row.update(kw)
    return row


def _png(path: Path, color: tuple[int, int, int]) -> None:
    img = Image.new("RGB", (64, 48), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, 40, 30), fill=color)
    draw.line((0, 47, 63, 0), fill="black", width=2)
    img.save(path)


def _probe(i: int, tag: str, total: float, completion: str, defects: list[dict]) -> dict:
    return {
        "probe": i,
        "task": f"chart-{i}",
        "prompt": f"Write matplotlib code for chart {i}. " + "x" * 2000,
        "completion": completion,
        "reward": {"executable": 1.0, "quality": total, "fidelity": None, "total": total},
        "error": None,
        "defects": defects,
        "image": f"probe-{i}.png",
    }


def make_run(root: Path, *, after: bool = True) -> Path:
    run = root / "run"
    run.mkdir()
    (run / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (run / "metrics.jsonl").write_text("\n".join(_metrics_rows()) + "\n", encoding="utf-8")
    fenced = "Here:\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\n```\n"
    rollouts = [
        _rollout(2, "old-task", 0.99, "old"),
        _rollout(3, "task-best", 0.9, fenced, advantage=1.3, feedback="clean render"),
        _rollout(3, "task-low", 0.1, SCRIPT, defects=[BAD_MESSAGE], feedback="fix " + SCRIPT),
        _rollout(3, "task-mid", 0.5, "mid"),
        _rollout(3, "task-worst", 0.0, "boom", error="NameError: name 'plt' is not defined"),
    ]
    (run / "rollouts.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rollouts), encoding="utf-8"
    )
    overlap = {"kind": "overlap", "severity": 0.5, "message": BAD_MESSAGE, "lines": [3]}
    tags = (
        {"before": (0, [0.2, 0.4]), "after": (3, [0.5, 0.7])}
        if after
        else {"before": (0, [0.2, 0.4])}
    )
    for tag, (step, totals) in tags.items():
        d = run / "probes" / tag
        d.mkdir(parents=True)
        for i, total in enumerate(totals):
            completion = SCRIPT if tag == "after" else f"plt.plot([{i}])"
            defects = [overlap] if (tag == "before" and i == 0) else []
            (d / f"probe-{i}.json").write_text(
                json.dumps(_probe(i, tag, total, completion, defects))
            )
            _png(d / f"probe-{i}.png", (200, 30, 30) if tag == "before" else (30, 30, 200))
        summary = {
            "tag": tag,
            "step": step,
            "probes": len(totals),
            "reward_mean": sum(totals) / len(totals),
            "exec_rate": 1.0,
            "defect_free_rate": 0.5 if tag == "before" else 1.0,
        }
        (d / "summary.json").write_text(json.dumps(summary))
    (run / "checkpoints" / "step-000003").mkdir(parents=True)
    (run / "final").mkdir()
    return run


def _assert_real_png(path: Path) -> None:
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width >= 300 and img.height >= 200
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.std() > 5.0  # not a blank canvas
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # lines, text, fills


def _table_row(md: str, label: str) -> list[str]:
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] == label:
            return cells
    raise AssertionError(f"no table row {label!r} in the report")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path)


def test_writes_reports_and_plots(run_dir: Path) -> None:
    written = write_report(run_dir)
    assert written == [run_dir / "report.md", run_dir / "report.html"]
    for p in written:
        assert p.is_file() and p.stat().st_size > 1000
    for name in PLOTS:
        _assert_real_png(run_dir / "plots" / f"{name}.png")
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    for name in PLOTS:
        assert f"plots/{name}.png" in md
        assert f'src="plots/{name}.png"' in page
    # nothing temporary left behind
    leftovers = [p.name for p in run_dir.rglob(".*")]
    assert leftovers == []


def test_summary_numbers_come_from_the_rows(run_dir: Path) -> None:
    md = (write_report(run_dir, formats="md")[0]).read_text(encoding="utf-8")
    assert _table_row(md, "metric") == ["metric", "first (step 1)", "last (step 3)", "change"]
    assert _table_row(md, "reward (mean)") == ["reward (mean)", "0.200", "0.450", "+0.250"]
    # the NaN of step 2 is skipped; the last is step 3
    assert _table_row(md, "reward (max)") == ["reward (max)", "0.400", "0.900", "+0.500"]
    assert _table_row(md, "executable rate") == ["executable rate", "50.0%", "75.0%", "+25.0 pp"]
    assert _table_row(md, "defect-free rate") == ["defect-free rate", "25.0%", "50.0%", "+25.0 pp"]
    # overlap + clipped: 1.5 + 0.5 at step 1, 0.5 + 0.0 at step 3; step 2 logged none
    assert _table_row(md, "defects per rollout") == [
        "defects per rollout",
        "2.000",
        "0.500",
        "-1.500",
    ]
    # null at step 1, so KL is first logged at step 2
    kl = _table_row(md, "KL(student ‖ teacher)")
    assert kl == ["KL(student ‖ teacher)", "0.08 (step 2)", "0.05", "-0.03"]
    assert _table_row(md, "completion length (tokens)")[1:] == ["120.0", "100.0", "-20.0"]
    # fidelity was only ever null: left out
    assert "fidelity |" not in md
    # probes: before (0.2, 0.4) vs after (0.5, 0.7)
    assert (
        _table_row(
            md,
            "reward (mean)",
        )
        is not None
    )
    probe_rows = [line for line in md.splitlines() if line.startswith("| reward (mean) |")]
    assert probe_rows[1] == "| reward (mean) | 0.300 | 0.600 | +0.300 |"
    assert "| defect-free rate | 50.0% | 100.0% | +50.0 pp |" in md
    assert "| defects per probe | 0.500 | 0.000 | -0.500 |" in md
    # header: wall time is the last time/elapsed (3725 s)
    assert "1 h 02 min" in md
    assert "3 of 3" in md and "stopped early" not in md
    assert "SmolLM2-135M-Instruct" in md and "builtin:chart" in md
    assert "step-000003" in md and "final/" in md


def test_examples_are_best_and_worst_of_the_last_step(run_dir: Path) -> None:
    md = (write_report(run_dir, formats="md")[0]).read_text(encoding="utf-8")
    assert "## Example rollouts (step 3)" in md
    order = [
        md.index(f"### {label}: task-{t}")
        for label, t in (
            ("best #1", "best"),
            ("best #2", "mid"),
            ("worst #1", "worst"),
            ("worst #2", "low"),
        )
    ]
    assert order == sorted(order)
    assert "old-task" not in md  # an earlier step's rollout
    assert "NameError" in md
    # a completion that holds a ``` fence is wrapped in a longer fence
    assert "````\nHere:\n```python" in md


def test_model_text_is_escaped(run_dir: Path) -> None:
    write_report(run_dir)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "script-src 'none'" in page  # CSP as a second fence
    assert page.count("<details>") >= 4 + 4  # probe completions and example completions
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    # inline (outside code fences) the defect message cannot open a tag, a link or a cell
    assert "<img src=x" not in md
    assert "&lt;img src=x onerror=alert(1)&gt; \\| \\*bold\\* \\[link\\](http://x)" in md


def test_probe_side_by_side(run_dir: Path) -> None:
    write_report(run_dir)
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    for tag in ("before", "after"):
        for i in (0, 1):
            assert f"probes/{tag}/probe-{i}.png" in md
            assert f'src="probes/{tag}/probe-{i}.png"' in page
    assert "### Probe 0: chart-0" in md
    assert "x" * 2000 not in md  # the prompt is an excerpt
    assert "[overlap] line 3: &lt;img" in page


def test_run_without_after_probes(tmp_path: Path) -> None:
    run = make_run(tmp_path, after=False)
    md_path, html_path = write_report(run)
    md = md_path.read_text(encoding="utf-8")
    page = html_path.read_text(encoding="utf-8")
    assert "| reward (mean) | 0.300 | — | — |" in md
    assert "the run stopped before it finished" in md
    assert "not rendered" in md
    assert "no probes after training" in page
    assert "probes/after/" not in md


def test_missing_series_skip_their_plots(tmp_path: Path) -> None:
    run = tmp_path / "grpo"
    run.mkdir()
    rows = [
        {
            "step": s,
            "reward/mean": 0.1 * s,
            "exec_rate": 0.5,
            "loss/total": 1.0 / s,
            "loss/grpo": 1.0 / s,
            "time/generate": 1.0,
            "time/step": 1.0,
        }
        for s in (1, 2)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "plots").mkdir()
    (run / "plots" / "kl.png").write_bytes(b"stale")
    (md_path,) = write_report(run, formats="md")
    made = sorted(p.stem for p in (run / "plots").glob("*.png"))
    assert made == ["loss", "rates", "reward", "time"]
    md = md_path.read_text(encoding="utf-8")
    assert "| KL(student ‖ teacher) | — | — | not logged |" in md
    assert "No probes were rendered" in md
    assert "config.yaml is missing" in md


def test_formats_and_errors(run_dir: Path, tmp_path: Path) -> None:
    assert write_report(run_dir, formats="html") == [run_dir / "report.html"]
    assert not (run_dir / "report.md").exists()
    with pytest.raises(ValueError, match="formats"):
        write_report(run_dir, formats="pdf")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="does not look like a vsdpo run"):
        write_report(empty)


def test_load_run_keeps_last_of_a_repeated_step(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    rows = [
        {"step": 1, "reward/mean": 0.1},
        {"step": 2, "reward/mean": 0.2},
        {"step": 2, "reward/mean": 0.25},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_run(run)
    assert [r["reward/mean"] for r in data.metrics] == [0.1, 0.25]


def test_cli_report(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vsdpo.cli import main

    assert main(["report", str(run_dir), "--format", "md"]) == 0
    assert (run_dir / "report.md").is_file() and not (run_dir / "report.html").exists()
    assert str(run_dir / "report.md") in capsys.readouterr().out
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    with pytest.raises(SystemExit, match="no such run directory"):
        main(["report", str(run_dir / "nope")])
