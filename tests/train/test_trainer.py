"""The training loop on a tiny random model (fast), and on the real default model (2 steps)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vsdpo.train.checkpoint import latest_checkpoint, list_checkpoints, remove_partial
from vsdpo.train.config import from_sources
from vsdpo.train.logs import read_jsonl
from vsdpo.train.trainer import RunExistsError, Trainer

FAST = {
    "prompts_per_step": 1,
    "group_size": 2,
    "max_new_tokens": 24,
    "render_workers": 1,
    "probes": 0,
    "report": "none",
    "tensorboard": False,
}


def _config(model: Path, out: Path, **kw):
    return from_sources(overrides={"model": str(model), "output_dir": str(out), **FAST, **kw})


@pytest.mark.parametrize(
    "preset,extra",
    [
        ("grpo", {}),
        ("sdpo", {"distill": "full"}),
        ("vsdpo", {"distill": "sampled_token", "teacher": "ema", "iterations": 2}),
        ("vsdpo", {"distill": "jsd", "teacher": "base", "kl_coef": 0.1}),
        ("vsdpo", {"distill": "topk", "lora": "on", "teacher": "base", "kl_coef": 0.1}),
    ],
)
def test_two_steps_log_checkpoint_and_export(tiny_model_dir, tmp_path, preset, extra) -> None:
    cfg = _config(
        tiny_model_dir, tmp_path / "run", preset=preset, steps=2, checkpoint_every=1, **extra
    )
    start = {n: p.clone() for n, p in load_file(str(tiny_model_dir / "model.safetensors")).items()}
    summary = Trainer(cfg, progress=False).train()
    assert summary["finished"] and summary["steps"] == 2

    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert 0.0 <= r["exec_rate"] <= 1.0
        assert r["time/generate"] > 0 and r["time/render"] > 0 and r["time/student_backward"] > 0
        if preset != "grpo" or r["reward/std"] > 0:  # GRPO learns nothing from equal rewards
            assert r["grad_norm"] > 0
        if preset == "grpo":
            assert "loss/distill" not in r and "time/teacher_forward" not in r
        else:
            assert r["time/teacher_forward"] > 0 and r["kl/teacher"] is not None
            assert r["credit/mean_weight"] >= 1.0
        if extra.get("kl_coef"):
            assert "loss/kl_ref" in r
    rollouts = read_jsonl(tmp_path / "run" / "rollouts.jsonl")
    assert len(rollouts) == 4 and all(r["completion"] is not None for r in rollouts)
    if preset != "grpo":
        assert all(r["feedback"] for r in rollouts)

    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [1, 2]
    final = tmp_path / "run" / "final"
    assert (final / "tokenizer.json").is_file()
    if extra.get("lora") == "on":  # the adapter only: the base weights never change
        assert (final / "adapter_model.safetensors").is_file()
        assert not (final / "model.safetensors").exists()
        adapter = load_file(str(final / "adapter_model.safetensors"))
        assert any("lora_B" in n and t.abs().max() > 0 for n, t in adapter.items())
        return
    assert (final / "model.safetensors").is_file()
    trained = load_file(str(final / "model.safetensors"))
    changed = [n for n in start if n in trained and not torch.equal(start[n], trained[n])]
    if preset == "grpo":
        # with all-equal rewards GRPO has nothing to learn from; otherwise weights move
        if any(r["reward/std"] > 0 for r in rows):
            assert changed
    else:
        assert changed


def test_refuses_to_overwrite_a_run_and_resumes_a_finished_one(tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "run"
    Trainer(_config(tiny_model_dir, out, steps=1), progress=False).train()
    with pytest.raises(RunExistsError, match="--resume"):
        Trainer(_config(tiny_model_dir, out, steps=1), progress=False).train()
    # resuming a finished run with a larger budget continues from its last step
    summary = Trainer(_config(tiny_model_dir, out, steps=2, resume=True), progress=False).train()
    assert summary["steps"] == 2
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [1, 2]


def test_partial_checkpoints_are_ignored_and_cleaned(tmp_path) -> None:
    root = tmp_path / "checkpoints"
    (root / "step-000003").mkdir(parents=True)  # no state file: incomplete
    (root / ".tmp-step-000004-1-2").mkdir()
    (root / "step-000002").mkdir()
    (root / "step-000002" / "trainer_state.json").write_text("{}")
    assert latest_checkpoint(tmp_path).name == "step-000002"
    assert remove_partial(tmp_path) == 1
    assert not (root / ".tmp-step-000004-1-2").exists()


def _train_cmd(model: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vsdpo", "train", "--model", str(model), "--output-dir", str(out),
        "--steps", "4", "--checkpoint-every", "2", "--keep-checkpoints", "5",
        "--prompts-per-step", "1", "--group-size", "2", "--max-new-tokens", "24",
        "--render-workers", "1", "--probes", "0", "--report", "none", "--no-tensorboard",
        *extra,
    ]  # fmt: skip


def test_sigkill_mid_step_then_resume_continues_exactly(tiny_model_dir, tmp_path) -> None:
    env = {**os.environ, "TQDM_DISABLE": "1"}
    reference = tmp_path / "reference"
    subprocess.run(_train_cmd(tiny_model_dir, reference), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _train_cmd(tiny_model_dir, killed),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (killed / "checkpoints" / "step-000002").is_dir():
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the run lost at most the steps after its checkpoint, and the checkpoint is whole
    assert [s for s, _ in list_checkpoints(killed)][-1] in (2, 4)
    resumed = subprocess.run(
        _train_cmd(tiny_model_dir, killed, "--resume"), env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = load_file(str(reference / "checkpoints" / "step-000004" / "trainable.safetensors"))
    b = load_file(str(killed / "checkpoints" / "step-000004" / "trainable.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed run diverged"
    rows = read_jsonl(killed / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # the lost step is logged once
    ref_rows = read_jsonl(reference / "metrics.jsonl")
    assert [r["reward/mean"] for r in rows] == [r["reward/mean"] for r in ref_rows]


def test_sigterm_stops_after_the_step_with_a_checkpoint(tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(
        _train_cmd(tiny_model_dir, out, "--steps", "50"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output  # stopped early, not finished
    assert "--resume" in output
    steps = [r["step"] for r in read_jsonl(out / "metrics.jsonl")]
    assert latest_checkpoint(out).name == f"step-{steps[-1]:06d}"


def test_two_steps_with_the_real_default_model(default_model_dir, tmp_path) -> None:
    """The embedded SmolLM2-135M-Instruct, end to end: sample, render, detect, distil, report."""
    cfg = from_sources(
        overrides={
            "output_dir": str(tmp_path / "run"),
            "steps": 2,
            "prompts_per_step": 1,
            "group_size": 2,
            "max_new_tokens": 48,
            "render_workers": 1,
            "probes": 1,
            "report": "both",
            "tensorboard": True,
        }
    )
    summary = Trainer(cfg, progress=False).train()
    run = tmp_path / "run"
    assert summary["finished"]
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(r["kl/teacher"] is not None and r["kl/teacher"] >= 0 for r in rows)
    assert (run / "report.md").is_file() and (run / "report.html").is_file()
    assert (run / "probes" / "before" / "probe-0.png").is_file()
    assert (run / "probes" / "after" / "probe-0.png").is_file()
    assert any((run / "tb").iterdir())
    rollouts = read_jsonl(run / "rollouts.jsonl")
    # the real model writes English around (attempted) code; every rollout got feedback
    assert all(r["feedback"] and r["completion"].strip() for r in rollouts)
    assert json.loads((run / "probes" / "after" / "summary.json").read_text())["step"] == 2
