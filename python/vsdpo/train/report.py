"""The end-of-run report: ``report.md`` and/or ``report.html`` plus ``plots/*.png`` in a run dir.

The trainer writes it when a run finishes; ``vsdpo report RUN_DIR`` (re)writes it for any run
directory, finished or not. Everything comes from what the trainer left on disk:
``config.yaml``, ``metrics.jsonl`` (one row per step), ``rollouts.jsonl`` (one row per rollout),
``probes/before`` and ``probes/after`` (greedy renders of fixed prompts), ``checkpoints/`` and
``final/``. Any of them may be missing, and any metric may be missing or null in any row (the
``grpo`` preset logs no distillation or KL terms): the report shows what is there, says what is
not, and skips a plot whose series are all missing.

Contents: a header (model, preset, tasks, steps, wall time, date); a summary table (first vs last
logged step for reward, executable rate, defect-free rate, KL to the teacher, and the probes
before vs after training); the curves; the probes side by side; the best and worst rollouts of
the last step with the feedback the teacher saw; the config.

Completions, feedback, prompts and defect messages are untrusted model or task text: the HTML
escapes every byte of it (and forbids scripts by CSP as a second fence), and the markdown puts it
in code fences longer than any backtick run inside, or escapes it inline. Images are referenced
relatively (``plots/...``, ``probes/...``), so the run directory can be moved or archived whole.
Every file is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vsdpo.artifact import DefectKind

FORMATS = ("md", "html", "both")

#: the trainer's phases, in the order they run within a step (others follow, sorted)
PHASES = (
    "generate",
    "render",
    "defects",
    "credit",
    "teacher_forward",
    "reference_forward",
    "student_forward",
    "student_backward",
    "optimizer",
)

#: (metric key, label, format) of the summary table; ``defects/total`` is derived per row
SUMMARY_METRICS = (
    ("reward/mean", "reward (mean)", "num"),
    ("reward/max", "reward (max)", "num"),
    ("reward/fidelity", "fidelity", "num"),
    ("exec_rate", "executable rate", "rate"),
    ("defect_free_rate", "defect-free rate", "rate"),
    ("defects/total", "defects per rollout", "num"),
    ("kl/teacher", "KL(student ‖ teacher)", "kl"),
    ("tokens/completion_mean", "completion length (tokens)", "tokens"),
)
#: rows shown even when the run never logged them (as "—"); the others are left out then
REQUIRED_SUMMARY = ("reward/mean", "exec_rate", "defect_free_rate", "kl/teacher")

PROMPT_EXCERPT_CHARS = 600
MAX_TEXT_CHARS = 20_000  # completions and feedback are cut here (the JSONL keeps them whole)
EXAMPLES_EACH = 2  # best and worst rollouts of the last step


# -- reading a run --------------------------------------------------------------------------


@dataclass
class ProbeSet:
    tag: str
    summary: dict[str, Any]
    items: list[dict[str, Any]]  # probe-<i>.json rows, by probe index


@dataclass
class RunData:
    dir: Path
    config: dict[str, Any]
    config_text: str
    metrics: list[dict[str, Any]]  # one row per step, sorted, the last row of a repeated step kept
    last_rollouts: list[dict[str, Any]]  # the rollouts of the last step in rollouts.jsonl
    probes: dict[str, ProbeSet] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)
    has_final: bool = False


def _num(value: Any) -> float | None:
    """A finite number, or None for anything else (null, NaN, a string, a list)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _json_rows(path: Path) -> Any:
    """The objects of a JSONL file, skipping blank, half-written or non-object lines."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return None


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    by_step: dict[float, dict[str, Any]] = {}
    for row in _json_rows(path):
        step = _num(row.get("step"))
        if step is not None:
            by_step[step] = row  # a step logged twice (a resume) counts once, as last logged
    return [by_step[s] for s in sorted(by_step)]


def _read_last_rollouts(path: Path) -> list[dict[str, Any]]:
    """The rollouts of the last step, streaming (the file holds every rollout of the run)."""
    if not path.is_file():
        return []
    last: float | None = None
    rows: list[dict[str, Any]] = []
    for row in _json_rows(path):
        step = _num(row.get("step"))
        if step is None:
            continue
        if last is None or step > last:
            last, rows = step, [row]
        elif step == last:
            rows.append(row)
    return rows


_PROBE_FILE = re.compile(r"^probe-(\d+)\.json$")


def _read_probes(directory: Path, tag: str) -> ProbeSet | None:
    if not directory.is_dir():
        return None
    items = []
    for p in directory.iterdir():
        m = _PROBE_FILE.match(p.name)
        row = _read_json(p) if m else None
        if isinstance(row, dict):
            row.setdefault("probe", int(m.group(1)))
            items.append(row)
    items.sort(key=lambda r: _num(r.get("probe")) or 0.0)
    summary = _read_json(directory / "summary.json")
    summary = summary if isinstance(summary, dict) else {}
    if not items and not summary:
        return None
    return ProbeSet(tag=tag, summary=summary, items=items)


def load_run(output_dir: Path) -> RunData:
    """Everything the report needs from a run directory (missing pieces come back empty)."""
    d = Path(output_dir)
    config_text = ""
    config: dict[str, Any] = {}
    if (d / "config.yaml").is_file():
        import yaml

        config_text = (d / "config.yaml").read_text(encoding="utf-8", errors="replace")
        try:
            loaded = yaml.safe_load(config_text)
        except yaml.YAMLError:
            loaded = None
        config = loaded if isinstance(loaded, dict) else {}
    probes = {}
    for tag in ("before", "after"):
        ps = _read_probes(d / "probes" / tag, tag)
        if ps is not None:
            probes[tag] = ps
    ckpt_root = d / "checkpoints"
    checkpoints = (
        sorted(p.name for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith("step-"))
        if ckpt_root.is_dir()
        else []
    )
    return RunData(
        dir=d,
        config=config,
        config_text=config_text,
        metrics=_read_metrics(d / "metrics.jsonl"),
        last_rollouts=_read_last_rollouts(d / "rollouts.jsonl"),
        probes=probes,
        checkpoints=checkpoints,
        has_final=(d / "final").is_dir(),
    )


# -- numbers --------------------------------------------------------------------------------


def _value(row: dict[str, Any], key: str) -> float | None:
    if key == "defects/total":  # all kinds together, where the row logged any
        found = [_num(row.get(f"defects/{k}")) for k in DefectKind.ALL]
        found = [v for v in found if v is not None]
        return sum(found) if found else None
    return _num(row.get(key))


def series(metrics: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one metric, over the rows where it is a finite number."""
    steps, values = [], []
    for row in metrics:
        v = _value(row, key)
        if v is not None:
            steps.append(float(row["step"]))
            values.append(v)
    return steps, values


def first_last(
    metrics: Sequence[dict[str, Any]], key: str
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """((step, value) first logged, (step, value) last logged), or None if never logged."""
    steps, values = series(metrics, key)
    if not steps:
        return None
    return (steps[0], values[0]), (steps[-1], values[-1])


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "kl":
        return f"{value:.4g}"
    if kind == "tokens":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _fmt_change(a: float | None, b: float | None, kind: str) -> str:
    if a is None or b is None:
        return "—"
    d = b - a
    if kind == "rate":
        return f"{round(100 * d, 1) + 0.0:+.1f} pp"
    if kind == "kl":
        return f"{d:+.4g}"
    if kind == "tokens":
        return f"{round(d, 1) + 0.0:+.1f}"
    return f"{round(d, 3) + 0.0:+.3f}"


def _step(s: float) -> str:
    return str(int(s)) if float(s).is_integer() else f"{s:g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if seconds < 60:
        return f"{seconds:.1f} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _mtime(path: Path) -> str | None:
    try:
        t = path.stat().st_mtime
    except OSError:
        return None
    return _dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M %Z")


# -- the report's content, format-neutral ---------------------------------------------------


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


def header_fields(run: RunData) -> list[tuple[str, str]]:
    cfg = run.config
    model = cfg.get("model") or "SmolLM2-135M-Instruct (the default model)"
    preset = str(cfg.get("preset", "?"))
    knobs = [f"{k} {cfg[k]}" for k in ("sd_weight", "beta", "credit_lambda") if k in cfg]
    if knobs:
        preset += f" ({', '.join(knobs)})"
    tasks = str(cfg.get("tasks", "?"))
    if cfg.get("split"):
        tasks += f" (split {cfg['split']})"
    last_step = run.metrics[-1]["step"] if run.metrics else None
    planned = cfg.get("steps")
    if last_step is None:
        steps = "none logged"
    else:
        steps = _step(float(last_step))
        if planned is not None:
            steps += f" of {planned}"
            if _num(planned) is not None and float(last_step) < float(planned):
                steps += " (stopped early)"
    wall = None
    for row in reversed(run.metrics):
        wall = _num(row.get("time/elapsed"))
        if wall is not None:
            break
    if wall is None:  # no elapsed time logged: the sum of the steps' times
        wall_steps = series(run.metrics, "time/step")[1]
        wall = sum(wall_steps) if wall_steps else None
    fields = [
        ("model", str(model)),
        ("preset", preset),
        ("tasks", tasks),
        ("steps", steps),
        ("wall time", _duration(wall)),
        ("last step logged", _mtime(run.dir / "metrics.jsonl") or "—"),
        ("report written", _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
    ]
    extras = []
    if run.checkpoints:
        extras.append(f"checkpoints: {', '.join(run.checkpoints)}")
    extras.append("final model: final/" if run.has_final else "no final/ model")
    fields.append(("outputs", "; ".join(extras)))
    return fields


def summary_table(run: RunData) -> Table | None:
    if not run.metrics:
        return None
    s0, s1 = float(run.metrics[0]["step"]), float(run.metrics[-1]["step"])
    header = ["metric", f"first (step {_step(s0)})", f"last (step {_step(s1)})", "change"]
    rows = []
    for key, label, kind in SUMMARY_METRICS:
        fl = first_last(run.metrics, key)
        if fl is None:
            if key in REQUIRED_SUMMARY:
                rows.append([label, "—", "—", "not logged"])
            continue
        (a_step, a), (b_step, b) = fl
        first = _fmt(a, kind) + ("" if a_step == s0 else f" (step {_step(a_step)})")
        last = _fmt(b, kind) + ("" if b_step == s1 else f" (step {_step(b_step)})")
        rows.append([label, first, last, _fmt_change(a, b, kind)])
    return Table(header, rows)


def _probe_stat(ps: ProbeSet | None, key: str) -> float | None:
    if ps is None:
        return None
    if key == "defects":  # not in summary.json: count from the probes themselves
        if not ps.items:
            return None
        return sum(len(p.get("defects") or []) for p in ps.items) / len(ps.items)
    v = _num(ps.summary.get(key))
    if v is None and ps.items:  # summary missing: recompute from the probes
        rewards = [p.get("reward") or {} for p in ps.items]
        if key == "reward_mean":
            vals = [_num(r.get("total")) for r in rewards]
        elif key == "exec_rate":
            vals = [_num(r.get("executable")) for r in rewards]
        elif key == "defect_free_rate":
            vals = [
                float(_num(r.get("executable")) == 1.0 and not p.get("defects"))
                for r, p in zip(rewards, ps.items)
            ]
        else:
            vals = []
        vals = [x for x in vals if x is not None]
        v = sum(vals) / len(vals) if vals else None
    return v


def probe_table(run: RunData) -> Table | None:
    before, after = run.probes.get("before"), run.probes.get("after")
    if before is None and after is None:
        return None

    def col(ps: ProbeSet | None, name: str) -> str:
        if ps is None:
            return f"{name}: not rendered"
        step = _num(ps.summary.get("step"))
        n = _num(ps.summary.get("probes"))
        n = len(ps.items) if n is None else int(n)
        return f"{name} (step {_step(step)}, {n} probes)" if step is not None else name

    header = ["probes", col(before, "before"), col(after, "after"), "change"]
    rows = []
    for key, label, kind in (
        ("reward_mean", "reward (mean)", "num"),
        ("exec_rate", "executable rate", "rate"),
        ("defect_free_rate", "defect-free rate", "rate"),
        ("defects", "defects per probe", "num"),
    ):
        a, b = _probe_stat(before, key), _probe_stat(after, key)
        rows.append([label, _fmt(a, kind), _fmt(b, kind), _fmt_change(a, b, kind)])
    return Table(header, rows)


def _reward_text(reward: Any) -> str:
    if not isinstance(reward, dict):
        return "—"
    parts = []
    for k in ("executable", "quality", "fidelity"):
        v = _num(reward.get(k))
        if v is not None:
            parts.append(f"{k} {v:.3g}")
    total = _num(reward.get("total"))
    text = _fmt(total, "num")
    return f"{text} ({', '.join(parts)})" if parts else text


def _defect_lines(defects: Any) -> list[str]:
    out = []
    for d in defects or []:
        if isinstance(d, dict):
            text = f"[{d.get('kind', '?')}] {d.get('message', '')}"
            sev = _num(d.get("severity"))
            if sev is not None:
                text += f" (severity {sev:.2f})"
            out.append(text)
        else:
            out.append(str(d))
    return out


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [{len(text) - limit} more characters]"


def _probe_image(run: RunData, tag: str, item: dict[str, Any]) -> str | None:
    """The relative path of a probe's PNG, if it is a plain file name that exists."""
    name = item.get("image")
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        name = f"probe-{int(_num(item.get('probe')) or 0)}.png"
    if not (run.dir / "probes" / tag / name).is_file():
        return None
    return f"probes/{tag}/{name}"


@dataclass
class ProbeSide:
    tag: str
    image: str | None
    reward: str
    error: str | None
    defects: list[str]
    completion: str


@dataclass
class ProbeView:
    index: int
    task: str
    prompt: str
    sides: dict[str, ProbeSide | None]  # "before" / "after"


def probe_views(run: RunData) -> list[ProbeView]:
    by_index: dict[int, dict[str, dict[str, Any]]] = {}
    for tag, ps in run.probes.items():
        for item in ps.items:
            by_index.setdefault(int(_num(item.get("probe")) or 0), {})[tag] = item
    views = []
    for i in sorted(by_index):
        found = by_index[i]
        any_item = found.get("before") or found.get("after") or {}
        sides: dict[str, ProbeSide | None] = {}
        for tag in ("before", "after"):
            item = found.get(tag)
            sides[tag] = (
                None
                if item is None
                else ProbeSide(
                    tag=tag,
                    image=_probe_image(run, tag, item),
                    reward=_reward_text(item.get("reward")),
                    error=str(item["error"]) if item.get("error") else None,
                    defects=_defect_lines(item.get("defects")),
                    completion=_clip(item.get("completion"), MAX_TEXT_CHARS),
                )
            )
        views.append(
            ProbeView(
                index=i,
                task=str(any_item.get("task", "?")),
                prompt=_clip(any_item.get("prompt"), PROMPT_EXCERPT_CHARS),
                sides=sides,
            )
        )
    return views


def _reward_total(row: dict[str, Any]) -> float:
    r = row.get("reward")
    v = _num(r.get("total")) if isinstance(r, dict) else None
    return -math.inf if v is None else v


def example_rollouts(run: RunData, each: int = EXAMPLES_EACH) -> list[tuple[str, dict[str, Any]]]:
    """(label, row): the best and the worst rollouts of the last step, best first."""
    rows = run.last_rollouts
    if not rows:
        return []
    order = sorted(range(len(rows)), key=lambda i: _reward_total(rows[i]), reverse=True)
    best = order[: min(each, (len(rows) + 1) // 2)]
    worst = [i for i in reversed(order) if i not in best][:each]
    out = [(f"best #{k + 1}", rows[i]) for k, i in enumerate(best)]
    out += [(f"worst #{k + 1}", rows[i]) for k, i in enumerate(worst)]
    return out


# -- plots ----------------------------------------------------------------------------------


@dataclass
class Plot:
    file: str  # plots/<name>.png
    title: str
    caption: str


def _atomic_replace(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_replace(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class _Plotter:
    """Writes the plots with matplotlib's object API on Agg (no pyplot, no global state)."""

    def __init__(self, run: RunData, out: Path) -> None:
        self.run = run
        self.out = out
        self.metrics = run.metrics

    def figure(self, title: str, ncols: int = 1):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(4.2 * ncols + 3.0, 4.0), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        axes = [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]
        for ax in axes:
            ax.set_xlabel("step")
            ax.grid(True, alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.suptitle(title, fontweight="bold")
        return fig, axes

    def save(self, fig: Any, name: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{name}.png"
        # into a buffer, not a path: a host process that ran a chart program in-process (the
        # renderer's tests do) has matplotlib's path savefig hooked to record instead of write
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        _atomic_replace(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
        return path

    def lines(self, ax: Any, keys: Sequence[tuple[str, str, str]]) -> int:
        """Plot (key, label, style) series that have data; returns how many were drawn."""
        drawn = 0
        for key, label, style in keys:
            s, v = series(self.metrics, key)
            if s:
                marker = "o" if len(s) <= 30 else None
                ax.plot(s, v, style, label=label, marker=marker, markersize=3)
                drawn += 1
        return drawn

    def stacked(self, ax: Any, layers: Sequence[tuple[str, str]]) -> bool:
        """Stacked bars (or areas for long runs) of the (key, label) layers that have data."""
        import numpy as np

        present = [(k, label) for k, label in layers if series(self.metrics, k)[0]]
        if not present:
            return False
        rows = [r for r in self.metrics if any(_value(r, k) is not None for k, _ in present)]
        steps = np.array([float(r["step"]) for r in rows])
        values = [np.array([_value(r, k) or 0.0 for r in rows]) for k, _ in present]
        colors = [f"C{i % 10}" for i in range(len(present))]
        if len(steps) <= 60:
            every = np.array(sorted({float(r["step"]) for r in self.metrics}))
            width = 0.8 * (float(np.min(np.diff(every))) if len(every) > 1 else 1.0)
            bottom = np.zeros(len(steps))
            for (_, label), v, c in zip(present, values, colors):
                ax.bar(steps, v, width, bottom=bottom, label=label, color=c)
                bottom += v
        else:
            ax.stackplot(steps, *values, labels=[label for _, label in present], colors=colors)
        return True

    @staticmethod
    def legend(ax: Any, outside: bool = False) -> None:
        if not ax.get_legend_handles_labels()[0]:
            return
        if outside:  # stacked plots fill the axes: keep the legend off them
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
        else:
            ax.legend(loc="best", fontsize="small", framealpha=0.8)

    # one method per plot; each returns its Plot, or None when all its series are missing

    def reward(self) -> Plot | None:
        fig, (ax,) = self.figure("Reward per step")
        ms, mv = series(self.metrics, "reward/mean")
        std = {s: v for s, v in zip(*series(self.metrics, "reward/std"))}
        band = [(s, m, std[s]) for s, m in zip(ms, mv) if s in std]
        if band:
            ax.fill_between(
                [b[0] for b in band],
                [b[1] - b[2] for b in band],
                [b[1] + b[2] for b in band],
                alpha=0.2,
                color="C0",
                label="mean ± std",
            )
        n = self.lines(
            ax,
            [
                ("reward/mean", "mean", "-"),
                ("reward/max", "max", "--"),
                ("reward/fidelity", "fidelity (mean)", ":"),
            ],
        )
        if not n:
            return None
        ax.set_ylabel("reward")
        self.legend(ax)
        self.save(fig, "reward")
        return Plot(
            "plots/reward.png",
            "Reward",
            "Mean reward of the step's rollouts (± std), "
            "the best rollout, and the mean fidelity to the task where it has one.",
        )

    def rates(self) -> Plot | None:
        fig, (ax,) = self.figure("Executable and defect-free rollouts")
        n = self.lines(
            ax,
            [
                ("exec_rate", "executable", "-"),
                ("defect_free_rate", "defect-free", "-"),
                ("truncated_rate", "truncated (hit max_new_tokens)", ":"),
            ],
        )
        if not n:
            return None
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("fraction of rollouts")
        self.legend(ax)
        self.save(fig, "rates")
        return Plot(
            "plots/rates.png",
            "Executable and defect-free rate",
            "Fraction of rollouts that ran, that ran with no defect, and that were cut off.",
        )

    def defects(self) -> Plot | None:
        fig, (ax,) = self.figure("Defects per rollout, by kind")
        layers = [(f"defects/{k}", k.replace("_", " ")) for k in DefectKind.ALL]
        if not self.stacked(ax, layers):
            return None
        ax.set_ylabel("defects per rollout (mean count)")
        self.legend(ax, outside=True)
        self.save(fig, "defects")
        return Plot(
            "plots/defects.png",
            "Defects by kind",
            "Mean number of defects of each kind per rollout, stacked.",
        )

    def loss(self) -> Plot | None:
        fig, (ax,) = self.figure("Loss terms")
        n = self.lines(
            ax,
            [
                ("loss/total", "total", "-"),
                ("loss/distill", "self-distillation", "-"),
                ("loss/grpo", "GRPO", "-"),
                ("loss/kl_ref", "KL to reference", "--"),
            ],
        )
        if not n:
            return None
        ax.axhline(0.0, color="0.5", linewidth=0.8)
        ax.set_ylabel("loss")
        self.legend(ax)
        self.save(fig, "loss")
        return Plot(
            "plots/loss.png",
            "Loss terms",
            "The optimised loss and its terms (unweighted), averaged over the step's updates.",
        )

    def kl(self) -> Plot | None:
        fig, (ax,) = self.figure("KL(student ‖ teacher) on the completion tokens")
        n = self.lines(
            ax,
            [
                ("kl/teacher", "per token", "-"),
                ("kl/teacher_weighted", "credit-weighted", "--"),
            ],
        )
        if not n:
            return None
        ax.set_ylabel("KL (nats per token)")
        self.legend(ax)
        self.save(fig, "kl")
        return Plot(
            "plots/kl.png",
            "KL to the teacher",
            "The actual KL between student and feedback-conditioned teacher (not the "
            "training surrogate), plain and weighted by token credit.",
        )

    def credit(self) -> Plot | None:
        fig, (ax_w, ax_f) = self.figure("Credit weights on completion tokens", ncols=2)
        n = self.lines(
            ax_w,
            [
                ("credit/mean_weight", "mean weight", "-"),
                ("credit/max_weight", "max weight", "--"),
            ],
        )
        s, v = series(self.metrics, "credit/weighted_fraction")
        if s:
            ax_f.plot(
                s,
                [100 * x for x in v],
                "-",
                color="C2",
                label="tokens with weight > 1",
                marker="o" if len(s) <= 30 else None,
                markersize=3,
            )
        if not n and not s:
            return None
        ax_w.set_ylabel("token weight")
        ax_w.set_title("weights", fontsize="medium")
        ax_f.set_ylabel("% of completion tokens")
        ax_f.set_title("blamed tokens", fontsize="medium")
        self.legend(ax_w)
        self.legend(ax_f)
        self.save(fig, "credit")
        return Plot(
            "plots/credit.png",
            "Credit weights",
            "Weights of the completion tokens in the distillation loss (1 + lambda x the "
            "severity of the defects traced to them), and the share of tokens blamed.",
        )

    def time(self) -> Plot | None:
        fig, (ax,) = self.figure("Time per step, by phase")
        seen: set[str] = set()
        for row in self.metrics:
            seen.update(k[5:] for k in row if k.startswith("time/"))
        seen -= {"step", "elapsed"}
        order = [p for p in PHASES if p in seen] + sorted(seen - set(PHASES))
        if not self.stacked(ax, [(f"time/{p}", p.replace("_", " ")) for p in order]):
            return None
        ax.set_ylabel("seconds")
        self.legend(ax, outside=True)
        self.save(fig, "time")
        return Plot(
            "plots/time.png",
            "Time per phase",
            "Wall time of each phase of a step (rollouts, rendering, scoring, forward "
            "and backward passes, optimizer), stacked.",
        )

    def all(self) -> list[Plot]:
        made = []
        for name in ("reward", "rates", "defects", "loss", "kl", "credit", "time"):
            plot = getattr(self, name)()
            if plot is None:  # skipped: drop a stale one from an earlier report
                (self.out / f"{name}.png").unlink(missing_ok=True)
            else:
                made.append(plot)
        return made


def make_plots(run: RunData) -> tuple[list[Plot], str | None]:
    """The plots that have data, and a note when plotting is impossible (no matplotlib)."""
    if not run.metrics:
        return [], "no metrics were logged, so there is nothing to plot"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return [], "matplotlib is not installed (pip install 'vsdpo[charts]'): no plots"
    return _Plotter(run, run.dir / "plots").all(), None


# -- markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~!])")


def _md(text: Any) -> str:
    """Untrusted text as one inline markdown span: no HTML, no markup, no line breaks."""
    t = html.escape(str(text), quote=False)
    return " ".join(_MD_SPECIAL.sub(r"\\\1", t).split())


def _md_code(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_table(t: Table) -> str:
    out = ["| " + " | ".join(_md(h) for h in t.header) + " |"]
    out.append("|" + "|".join("---" for _ in t.header) + "|")
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
    return "\n".join(out)


def _md_details(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>\n\n{body}\n\n</details>"


def _md_cell_lines(lines: Sequence[str]) -> str:
    return "<br>".join(_md(x) for x in lines) if lines else "none"


def render_markdown(run: RunData, plots: list[Plot], plot_note: str | None) -> str:
    parts = [f"# vsdpo training report: {_md(run.dir.resolve().name)}", ""]
    parts += ["| | |", "|---|---|"]
    parts += [f"| **{_md(k)}** | {_md(v)} |" for k, v in header_fields(run)]

    parts += ["", "## Summary", ""]
    st = summary_table(run)
    parts.append(
        _md_table(st) if st else "_No metrics were logged (metrics.jsonl is missing or empty)._"
    )
    pt = probe_table(run)
    parts += ["", _md_table(pt) if pt else "_No probes were rendered._"]
    if pt and "after" not in run.probes:
        parts += ["", "_No probes after training: the run stopped before it finished._"]

    parts += ["", "## Curves", ""]
    if plot_note:
        parts.append(f"_{_md(plot_note)}_")
    for p in plots:
        parts += [f"### {p.title}", "", f"![{p.title}]({quote(p.file)})", "", p.caption, ""]

    views = probe_views(run)
    if views:
        parts += ["", "## Probes before and after training", ""]
        for v in views:
            parts += [f"### Probe {v.index}: {_md(v.task)}", "", "Prompt (excerpt):", ""]
            parts += [_md_code(v.prompt, "text"), ""]
            tags = ("before", "after")
            sides = [v.sides.get(t) for t in tags]
            parts.append("| | " + " | ".join(tags) + " |")
            parts.append("|---|" + "---|" * len(tags))

            def cell(side: ProbeSide | None, what: str) -> str:
                if side is None:
                    return "not rendered"
                if what == "image":
                    return f"![{side.tag}]({quote(side.image)})" if side.image else "no image"
                if what == "reward":
                    return _md(side.reward)
                if what == "error":
                    return _md(side.error) if side.error else "none"
                return _md_cell_lines(side.defects)

            for what in ("image", "reward", "error", "defects"):
                parts.append(f"| {what} | " + " | ".join(cell(s, what) for s in sides) + " |")
            parts.append("")
            for s in sides:
                if s is not None:
                    parts += [_md_details(f"{s.tag}: completion", _md_code(s.completion)), ""]

    examples = example_rollouts(run)
    if examples:
        step = _num(run.last_rollouts[0].get("step"))
        parts += ["", f"## Example rollouts (step {_step(step or 0)})", ""]
        for label, row in examples:
            parts += [f"### {label}: {_md(row.get('task', '?'))}", ""]
            adv = _num(row.get("advantage"))
            parts.append(f"- reward: {_md(_reward_text(row.get('reward')))}")
            if adv is not None:
                parts.append(f"- advantage: {adv:+.3f}")
            if row.get("error"):
                parts.append(f"- error: {_md(row['error'])}")
            defects = _defect_lines(row.get("defects"))
            parts.append("- defects: " + ("none" if not defects else ""))
            parts += [f"  - {_md(d)}" for d in defects]
            if _num(row.get("blamed_tokens")) is not None:
                parts.append(f"- blamed tokens: {int(_num(row['blamed_tokens']) or 0)}")
            if _num(row.get("demonstration")) is not None:
                parts.append(f"- demonstration: sibling #{int(_num(row['demonstration']) or 0)}")
            parts.append("")
            if row.get("feedback"):
                parts += [
                    "Feedback to the teacher:",
                    "",
                    _md_code(_clip(row["feedback"], MAX_TEXT_CHARS)),
                    "",
                ]
            parts += [
                _md_details("completion", _md_code(_clip(row.get("completion"), MAX_TEXT_CHARS))),
                "",
            ]

    parts += ["", "## Config", ""]
    parts.append(
        _md_code(run.config_text.rstrip("\n"), "yaml")
        if run.config_text
        else "_config.yaml is missing._"
    )
    return "\n".join(parts) + "\n"


# -- HTML -----------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .3em .7em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
table.kv th { width: 11em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
pre { background: #f7f7f7; border: 1px solid #e5e5e5; padding: .6em; overflow-x: auto;
      white-space: pre-wrap; word-break: break-word; font-size: .85em; max-height: 40em; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side { border: 1px solid #e5e5e5; padding: .6em; border-radius: 4px; min-width: 0; }
.side img { max-width: 100%; }
.side h4 { margin: 0 0 .4em 0; }
.missing { color: #888; font-style: italic; }
ul.defects { margin: .2em 0; padding-left: 1.2em; }
details { margin: .4em 0; } summary { cursor: pointer; color: #0645ad; }
.note { color: #666; font-style: italic; }
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(t: Table, *, numeric: bool = True, head: bool = True) -> str:
    """A table whose first column names the row; the other cells are right-aligned if numeric."""
    td = "<td class=num>" if numeric else "<td>"
    body = "".join(
        f"<tr><th>{_h(row[0])}</th>" + "".join(f"{td}{_h(c)}</td>" for c in row[1:]) + "</tr>"
        for row in t.rows
    )
    thead = ""
    if head:
        thead = "<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in t.header) + "</tr></thead>"
    cls = "" if head else ' class="kv"'
    return f"<table{cls}>{thead}<tbody>{body}</tbody></table>"


def _html_pre(text: str) -> str:
    return f"<pre>{_h(text)}</pre>"


def _html_details(summary: str, inner: str) -> str:
    return f"<details><summary>{_h(summary)}</summary>{inner}</details>"


def _html_defects(lines: Sequence[str]) -> str:
    if not lines:
        return "<p>defects: none</p>"
    return (
        "<p>defects:</p><ul class=defects>" + "".join(f"<li>{_h(x)}</li>" for x in lines) + "</ul>"
    )


def _html_side(tag: str, side: ProbeSide | None) -> str:
    if side is None:
        why = (
            "no probes after training (the run stopped early)" if tag == "after" else "not rendered"
        )
        return f'<div class="side"><h4>{_h(tag)}</h4><p class="missing">{_h(why)}</p></div>'
    img = (
        f'<img src="{_h(quote(side.image))}" alt="{_h(tag)} render">'
        if side.image
        else '<p class="missing">no image</p>'
    )
    err = f"<p>error: <code>{_h(side.error)}</code></p>" if side.error else ""
    return (
        f'<div class="side"><h4>{_h(tag)}</h4>{img}<p>reward: {_h(side.reward)}</p>{err}'
        f"{_html_defects(side.defects)}"
        f"{_html_details('completion', _html_pre(side.completion))}</div>"
    )


def render_html(run: RunData, plots: list[Plot], plot_note: str | None) -> str:
    name = run.dir.resolve().name
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # completions are untrusted: even if something slipped through escaping, no script runs
        '<meta http-equiv="Content-Security-Policy" content="script-src \'none\'; '
        "object-src 'none'; base-uri 'none'; form-action 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>vsdpo report: {_h(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>vsdpo training report: {_h(name)}</h1>",
        _html_table(Table([], [list(f) for f in header_fields(run)]), numeric=False, head=False),
        "<h2>Summary</h2>",
    ]
    st = summary_table(run)
    out.append(_html_table(st) if st else '<p class="note">No metrics were logged.</p>')
    pt = probe_table(run)
    out.append(_html_table(pt) if pt else '<p class="note">No probes were rendered.</p>')
    if pt and "after" not in run.probes:
        out.append(
            '<p class="note">No probes after training: the run stopped before it finished.</p>'
        )

    out.append("<h2>Curves</h2>")
    if plot_note:
        out.append(f'<p class="note">{_h(plot_note)}</p>')
    for p in plots:
        out.append(
            f'<figure><img src="{_h(quote(p.file))}" alt="{_h(p.title)}">'
            f"<figcaption><b>{_h(p.title)}.</b> {_h(p.caption)}</figcaption></figure>"
        )

    views = probe_views(run)
    if views:
        out.append("<h2>Probes before and after training</h2>")
        for v in views:
            out.append(
                f"<section><h3>Probe {v.index}: {_h(v.task)}</h3>"
                f'<p>Prompt (excerpt):</p>{_html_pre(v.prompt)}<div class="pair">'
                + "".join(_html_side(t, v.sides.get(t)) for t in ("before", "after"))
                + "</div></section>"
            )

    examples = example_rollouts(run)
    if examples:
        step = _num(run.last_rollouts[0].get("step"))
        out.append(f"<h2>Example rollouts (step {_h(_step(step or 0))})</h2>")
        for label, row in examples:
            items = [f"<li>reward: {_h(_reward_text(row.get('reward')))}</li>"]
            adv = _num(row.get("advantage"))
            if adv is not None:
                items.append(f"<li>advantage: {adv:+.3f}</li>")
            if row.get("error"):
                items.append(f"<li>error: <code>{_h(row['error'])}</code></li>")
            blamed = _num(row.get("blamed_tokens"))
            if blamed is not None:
                items.append(f"<li>blamed tokens: {int(blamed)}</li>")
            demo = _num(row.get("demonstration"))
            if demo is not None:
                items.append(f"<li>demonstration: sibling #{int(demo)}</li>")
            fb = ""
            if row.get("feedback"):
                fb = "<p>Feedback to the teacher:</p>" + _html_pre(
                    _clip(row["feedback"], MAX_TEXT_CHARS)
                )
            out.append(
                f"<section><h3>{_h(label)}: {_h(row.get('task', '?'))}</h3><ul>{''.join(items)}</ul>"
                f"{_html_defects(_defect_lines(row.get('defects')))}{fb}"
                f"{_html_details('completion', _html_pre(_clip(row.get('completion'), MAX_TEXT_CHARS)))}"
                "</section>"
            )

    out.append("<h2>Config</h2>")
    out.append(
        _html_pre(run.config_text)
        if run.config_text
        else '<p class="note">config.yaml is missing.</p>'
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- entry point ----------------------------------------------------------------------------


def write_report(output_dir: Path, formats: str = "both") -> list[Path]:
    """Write ``report.md`` and/or ``report.html`` (and ``plots/*.png``) for a run directory.

    ``formats`` is ``md``, ``html`` or ``both``. Returns the report files written. Raises
    FileNotFoundError when the directory holds no run (no config.yaml, metrics.jsonl or probes).
    """
    if formats not in FORMATS:
        raise ValueError(f"report formats must be one of {', '.join(FORMATS)}, got {formats!r}")
    d = Path(output_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"no such run directory: {d}")
    run = load_run(d)
    if not run.metrics and not run.config_text and not run.probes:
        raise FileNotFoundError(
            f"{d} does not look like a vsdpo run (no config.yaml, metrics.jsonl or probes/)"
        )
    plots, note = make_plots(run)
    written = []
    if formats in ("md", "both"):
        path = d / "report.md"
        _atomic_write_text(path, render_markdown(run, plots, note))
        written.append(path)
    if formats in ("html", "both"):
        path = d / "report.html"
        _atomic_write_text(path, render_html(run, plots, note))
        written.append(path)
    return written
