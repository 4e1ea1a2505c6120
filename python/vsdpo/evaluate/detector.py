"""How well the chart renderer and the defect engine do on real scripts, with planted defects.

``vsdpo eval-detector charts DIR`` (this module's :func:`main`) takes a directory of matplotlib
scripts (e.g. the ChartMimic dev subset) and reports:

* **render success**: of the scripts that run under plain ``python script.py``, the fraction the
  sandboxed renderer renders (target >= 95 %);
* **tracing**: the fraction of text elements traced to at least one code line (target >= 90 %);
* **false alarms**: the fraction of clean, published charts flagged for overlap or clipped text
  (the issue's "overlap or clipping", target <= 10 %), the fraction with content off the canvas
  (reported apart: the scripts save with ``bbox_inches='tight'``, which grows the saved canvas
  around such content, while vsdpo renders without it on purpose, metrics.md 4.3), and the
  fraction with any defect at all;
* **planted defects** (see :mod:`vsdpo.evaluate.planting`): per planter and overall, *recall*
  (the planted kind shows up as a new defect, one the clean render did not already have with the
  same blamed lines; target >= 90 %) and *blame* (of the detected ones, the fraction whose defect
  names a planted line; target >= 90 %).

Outputs: a markdown table on the terminal and in ``OUT/report.md``, per-script rows in
``OUT/report.json``, and annotated PNGs of detected plants, misses and clean-chart false alarms in
``OUT/examples/``. Whether a script runs under plain python is cached in
``OUT/plain_python.json`` (keyed by the script's content and the interpreter), so reruns are fast.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import hashlib
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.artifact import Defect, DefectKind, ElementKind, RenderResult
from vsdpo.evaluate.planting import PLANTERS, PlantedScript, hide_legends

#: defect kinds that count as "flagged" on a clean chart: overlap or clipping
FLAG_KINDS = (DefectKind.OVERLAP, DefectKind.CLIPPED_TEXT)

TARGETS = {
    "render_success": (">=", 0.95),
    "traced_fraction": (">=", 0.90),
    "flagged_fraction": ("<=", 0.10),
    "recall": (">=", 0.90),
    "blame_rate": (">=", 0.90),
}

PLAIN_TIMEOUT_S = 60.0
_EXAMPLES_PER_CASE = 2  # annotated PNGs per planter for detected and for missed plants
_CHUNK = 8  # scripts rendered per render_many call (bounds the images held in memory)


# ---------------------------------------------------------------------------------------------
# Records


@dataclass
class PlantOutcome:
    """What happened to one planted copy of one script."""

    planter: str
    # "n/a" (planter does not fit) | "no_baseline" (clean render failed) | "set_aside" (the plant
    # drew no defect to find, see ``note``) | "error" (the copy failed) | "detected" | "missed"
    status: str
    lines: list[int] = field(default_factory=list)  # the planted lines in the copy
    blamed: bool = False  # a new defect of the expected kind names a planted line
    new_defects: list[dict[str, Any]] = field(default_factory=list)  # of the expected kinds
    kinds_in_copy: dict[str, int] = field(default_factory=dict)  # all defects of the copy
    # new defects of *other* kinds that name a planted line (e.g. x4 tick labels running off the
    # canvas instead of into each other): the plant was seen, but not as the expected kind
    other_kinds_blamed: list[str] = field(default_factory=list)
    error: str | None = None
    note: str = ""  # why a plant was set aside (e.g. the moved legend landed on empty space)

    @property
    def detected(self) -> bool:
        return self.status == "detected"


@dataclass
class ScriptRow:
    """One script: how it ran, what the clean render holds, and each planter's outcome."""

    path: str  # relative to the evaluated directory
    runs_plain: bool | None  # under ``python script.py``; None when not checked
    plain_error: str = ""
    render_ok: bool = False
    render_error: str | None = None
    render_s: float = 0.0
    n_elements: int = 0
    n_text: int = 0
    n_traced: int = 0
    untraced_names: list[str] = field(default_factory=list)  # a few, for diagnosis
    defects_by_kind: dict[str, int] = field(default_factory=dict)
    defects: list[dict[str, Any]] = field(default_factory=list)
    plants: dict[str, PlantOutcome] = field(default_factory=dict)
    flag_kinds: tuple[str, ...] = FLAG_KINDS  # defect kinds that count as a false alarm

    @property
    def traced_fraction(self) -> float:
        return self.n_traced / self.n_text if self.n_text else 1.0

    @property
    def flagged(self) -> bool:
        return any(self.defects_by_kind.get(k, 0) for k in self.flag_kinds)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["traced_fraction"] = round(self.traced_fraction, 4)
        d["flagged"] = self.flagged
        return d


@dataclass
class PlanterSummary:
    """Counts for one planter across all scripts."""

    name: str
    expected_kinds: tuple[str, ...]
    description: str
    not_applicable: int = 0
    set_aside: int = 0  # planted, but the plant drew no defect to find (see PlantOutcome.note)
    no_baseline: int = 0  # clean render failed, so the plant cannot be judged
    applicable: int = 0  # planted on a script whose clean render worked
    errors: int = 0  # the planted copy failed to render (counted as missed)
    detected: int = 0
    blamed: int = 0
    seen_as_other_kind: int = 0  # missed, but a new defect of another kind names the planted line

    @property
    def recall(self) -> float:
        return self.detected / self.applicable if self.applicable else float("nan")

    @property
    def blame_rate(self) -> float:
        return self.blamed / self.detected if self.detected else float("nan")

    def add(self, outcome: PlantOutcome, *, baseline_missing: bool = False) -> None:
        """Count one planted copy (``baseline_missing``: the original cannot be judged)."""
        if outcome.status == "n/a":
            self.not_applicable += 1
        elif outcome.status == "no_baseline" or baseline_missing:
            self.no_baseline += 1
        elif outcome.status == "set_aside":
            self.set_aside += 1
        else:
            self.applicable += 1
            self.errors += outcome.status == "error"
            self.detected += outcome.detected
            self.blamed += outcome.detected and outcome.blamed
            self.seen_as_other_kind += not outcome.detected and bool(outcome.other_kinds_blamed)


@dataclass
class DetectorReport:
    """Everything :func:`evaluate_charts` measured."""

    directory: str
    command: str
    rows: list[ScriptRow]
    planters: list[PlanterSummary]
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    # -- headline figures -------------------------------------------------------------------

    @property
    def runnable(self) -> list[ScriptRow]:
        """Scripts that run under plain python (all scripts when that was not checked)."""
        return [r for r in self.rows if r.runs_plain is not False]

    @property
    def rendered(self) -> list[ScriptRow]:
        return [r for r in self.runnable if r.render_ok]

    def figures(self) -> dict[str, tuple[int, int]]:
        """Headline figures as (numerator, denominator)."""
        runnable, rendered = self.runnable, self.rendered
        planted = self.planters
        applicable = sum(p.applicable for p in planted)
        return {
            "render_success": (len(rendered), len(runnable)),
            "traced_fraction": (sum(r.n_traced for r in rendered), sum(r.n_text for r in rendered)),
            "flagged_fraction": (sum(r.flagged for r in rendered), len(rendered)),
            "off_canvas_fraction": (
                sum(bool(r.defects_by_kind.get(DefectKind.OVERFLOW)) for r in rendered),
                len(rendered),
            ),
            "any_defect_fraction": (sum(bool(r.defects) for r in rendered), len(rendered)),
            "recall": (sum(p.detected for p in planted), applicable),
            "blame_rate": (sum(p.blamed for p in planted), sum(p.detected for p in planted)),
            "found_and_blamed": (sum(p.blamed for p in planted), applicable),
            "recall_any_kind": (
                sum(p.detected + p.seen_as_other_kind for p in planted),
                applicable,
            ),
        }

    def target_checks(self) -> dict[str, bool | None]:
        """Whether each targeted figure meets its target (None when it has no data)."""
        out: dict[str, bool | None] = {}
        for name, (num, den) in self.figures().items():
            if name not in TARGETS:
                continue
            op, bound = TARGETS[name]
            if not den:
                out[name] = None
            else:
                out[name] = num / den >= bound if op == ">=" else num / den <= bound
        return out

    def to_dict(self) -> dict[str, Any]:
        figures = {
            name: {"num": num, "den": den, "value": round(num / den, 4) if den else None}
            for name, (num, den) in self.figures().items()
        }
        return {
            "directory": self.directory,
            "command": self.command,
            "settings": self.settings,
            "environment": self.environment,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "figures": figures,
            "targets": {k: {"op": op, "bound": b} for k, (op, b) in TARGETS.items()},
            "targets_met": self.target_checks(),
            "defects_on_clean_charts": _kind_table(self.rendered),
            "planters": [
                {
                    **dataclasses.asdict(p),
                    "recall": _round(p.recall),
                    "blame_rate": _round(p.blame_rate),
                }
                for p in self.planters
            ],
            "rows": [r.to_dict() for r in self.rows],
        }


def _round(x: float) -> float | None:
    return None if x != x else round(x, 4)  # NaN -> None (JSON has no NaN)


def _kind_table(rows: Sequence[ScriptRow]) -> dict[str, dict[str, int]]:
    """Per defect kind: how many clean charts have it, and how many defects in all."""
    table: dict[str, dict[str, int]] = {}
    for kind in DefectKind.ALL:
        charts = sum(1 for r in rows if r.defects_by_kind.get(kind, 0))
        total = sum(r.defects_by_kind.get(kind, 0) for r in rows)
        table[kind] = {"charts": charts, "defects": total}
    return table


# ---------------------------------------------------------------------------------------------
# Finding scripts and checking them under plain python


def find_scripts(directory: str | os.PathLike[str]) -> list[Path]:
    """Every ``*.py`` under ``directory`` (recursively), sorted by relative path."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def run_plain(path: Path, timeout_s: float = PLAIN_TIMEOUT_S) -> tuple[bool, str, float]:
    """Run ``python path`` the naive way (fresh interpreter, Agg, empty temp cwd).

    Returns (exited 0, last line of stderr when it did not, wall seconds)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vsdpo-plain-") as cwd:
        try:
            proc = subprocess.run(
                [sys.executable, str(path.resolve())],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            return False, f"timeout after {timeout_s:.0f} s", time.perf_counter() - start
    wall = time.perf_counter() - start
    if proc.returncode == 0:
        return True, "", wall
    tail = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return False, (tail[-1] if tail else f"exit status {proc.returncode}"), wall


def _plain_key(source: str) -> str:
    import matplotlib

    ident = f"{sys.executable}|{sys.version}|{matplotlib.__version__}|".encode()
    return hashlib.sha256(ident + source.encode("utf-8", errors="replace")).hexdigest()[:32]


def plain_python_status(
    scripts: Sequence[Path], cache: Path | None = None, workers: int = 2, progress: bool = True
) -> dict[Path, tuple[bool, str]]:
    """Whether each script runs under plain python, from the cache or by running it."""
    cached: dict[str, Any] = {}
    if cache is not None and cache.is_file():
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            cached = {}
    keys = {p: _plain_key(p.read_text(encoding="utf-8", errors="replace")) for p in scripts}
    todo = [p for p in scripts if keys[p] not in cached]
    if todo:
        with cf.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(run_plain, p): p for p in todo}
            for fut in _progress(cf.as_completed(futures), len(todo), "plain python", progress):
                ok, err, wall = fut.result()
                cached[keys[futures[fut]]] = {"ok": ok, "error": err, "wall_s": round(wall, 3)}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(cached, indent=1, sort_keys=True), encoding="utf-8")
    return {p: (bool(cached[keys[p]]["ok"]), str(cached[keys[p]]["error"])) for p in scripts}


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="script", file=sys.stderr, leave=False)


# ---------------------------------------------------------------------------------------------
# Judging one planted copy against its clean render


def _signature_counts(defects: Sequence[Defect], kinds: Sequence[str]) -> Counter:
    return Counter((d.kind, tuple(sorted(set(d.lines)))) for d in defects if d.kind in kinds)


def new_planted_defects(
    clean: Sequence[Defect],
    copy: Sequence[Defect],
    planted: PlantedScript,
    kinds: Sequence[str] | None = None,
) -> list[Defect]:
    """Defects of the planted copy, of the expected kinds, that the clean render did not have.

    A copy defect matches a clean one when kind and blamed lines agree (copy lines mapped back to
    the original's numbering; an inserted line never matches). Matching is one-to-one, so three
    tick-label overlaps on line 12 where the clean render had one leave two new ones.
    ``kinds`` defaults to the planter's expected kinds."""
    kinds = planted.expected_kinds if kinds is None else kinds
    remaining = _signature_counts(clean, kinds)
    new = []
    for d in copy:
        if d.kind not in kinds:
            continue
        mapped = [planted.original_line(n) for n in d.lines]
        key = (d.kind, tuple(sorted({-1 if m is None else m for m in mapped})))
        if remaining[key] > 0:
            remaining[key] -= 1
            continue
        new.append(d)
    return new


def judge_plant(
    planted: PlantedScript,
    clean_defects: Sequence[Defect],
    copy: RenderResult,
    copy_defects: Sequence[Defect],
) -> PlantOutcome:
    """Detected (a new defect of an expected kind) and blamed (one names a planted line)?"""
    kinds = dict(Counter(d.kind for d in copy_defects))
    if not copy.ok:
        error = copy.error.summary() if copy.error else "render failed"
        return PlantOutcome(
            planted.planter, "error", list(planted.lines), kinds_in_copy=kinds, error=error
        )
    new = new_planted_defects(clean_defects, copy_defects, planted)
    planted_lines = set(planted.lines)
    others = [k for k in DefectKind.ALL if k not in planted.expected_kinds]
    other_new = new_planted_defects(clean_defects, copy_defects, planted, others)
    return PlantOutcome(
        planted.planter,
        "detected" if new else "missed",
        list(planted.lines),
        blamed=any(planted_lines & set(d.lines) for d in new),
        new_defects=[_brief(d) for d in new],
        kinds_in_copy=kinds,
        other_kinds_blamed=sorted({d.kind for d in other_new if planted_lines & set(d.lines)}),
    )


def legend_over_content(
    probe: RenderResult, copy: RenderResult, planted: PlantedScript
) -> bool | None:
    """Was anything drawn where the planted legend now sits? None when it cannot be told.

    ``probe`` is the copy rendered with its legends hidden (:func:`~vsdpo.evaluate.planting.
    hide_legends`, same layout); its pixels under the copy's legend box (the legend traced to a
    planted line) show what the legend covers, independently of the defect engine under test:
    ``loc='center'`` can land in the gap between two bars, where a legend hides nothing."""
    if probe.image is None or not probe.ok or not copy.ok:
        return None
    planted_lines = set(planted.lines)
    boxes = [
        e.bbox
        for e in copy.elements
        if e.kind == ElementKind.LEGEND and planted_lines & set(e.lines())
    ]
    if not boxes:
        return None
    h, w = probe.image.shape[:2]
    for x0, y0, x1, y1 in boxes:
        crop = probe.image[max(0, int(y0)) : min(h, int(y1)), max(0, int(x0)) : min(w, int(x1))]
        if crop.size and not _is_blank(crop):
            return True
    return False


def tick_labels_grew(clean: RenderResult, copy: RenderResult, min_labels: int = 2) -> bool:
    """Did the x4 tick font show? At least ``min_labels`` tick labels of the copy are more than
    twice as large as any tick label of the clean render (pie charts, networks and charts with
    the axis off have none to grow). Read from element font sizes, not from the defect engine."""
    clean_max = max(
        (e.font_size or 0.0 for e in clean.elements if e.kind == ElementKind.TICK_LABEL),
        default=0.0,
    )
    grown = [
        e
        for e in copy.elements
        if e.kind == ElementKind.TICK_LABEL and (e.font_size or 0.0) > 2 * clean_max
    ]
    return len(grown) >= min_labels


def _is_blank(crop: np.ndarray, tol: int = 24, max_content: float = 0.005) -> bool:
    """Nothing drawn here but background and grid: under ``max_content`` of the pixels differ
    from the most common colour by more than ``tol`` (sum over channels), not counting light
    grey pixels (grid lines). A data line crossing a legend-sized box is about 2 % of it."""
    flat = crop.reshape(-1, 3).astype(np.int32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    mode = int(values[counts.argmax()])
    colour = np.array([(mode >> 16) & 255, (mode >> 8) & 255, mode & 255])
    differs = np.abs(flat - colour).sum(axis=1) > tol
    light_grey = (flat.max(axis=1) - flat.min(axis=1) < 24) & (flat.min(axis=1) >= 150)
    return bool((differs & ~light_grey).mean() < max_content)


def _brief(d: Defect) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "severity": round(d.severity, 3),
        "lines": d.lines,
        "message": d.message,
    }


# ---------------------------------------------------------------------------------------------
# The evaluation


class _ExampleSink:
    """Keeps at most a few annotated examples per case and writes them at once."""

    def __init__(self, directory: Path | None, per_case: int, false_alarms: int) -> None:
        self.directory = directory
        self.limits = {"false_alarm": false_alarms}
        self.per_case = per_case
        self.counts: Counter = Counter()
        self.written: list[str] = []

    def offer(self, case: str, name: str, result: RenderResult, defects: list[Defect]) -> None:
        if self.directory is None or result.image is None:
            return
        if self.counts[case] >= self.limits.get(case, self.per_case):
            return
        self.counts[case] += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{case}__{name}.png"
        save_annotated_png(result, defects, path)
        self.written.append(str(path))


def save_annotated_png(result: RenderResult, defects: Sequence[Defect], path: Path) -> None:
    """Outline the defects on the render (the defect engine's annotator when it is available)."""
    try:
        from vsdpo.inspect_image import save_annotated
    except ImportError:
        save_annotated = None
    if save_annotated is not None:
        save_annotated(result, list(defects), path)
        return
    from PIL import Image, ImageDraw

    image = Image.fromarray(result.image)
    draw = ImageDraw.Draw(image)
    for i, d in enumerate(defects, 1):
        if d.region is None:
            continue
        x0, y0, x1, y1 = d.region
        draw.rectangle([x0, y0, x1, y1], outline=(230, 0, 0), width=2)
        label = f"{i} {d.kind} L{','.join(map(str, d.lines[:3]))}"
        draw.text((x0 + 2, y0 + 2), label, fill=(230, 0, 0))
    image.save(path)


def evaluate_charts(
    directory: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    workers: int = 2,
    planters: Sequence[str] | None = None,
    seed: int = 0,
    check_plain: bool = True,
    examples: int = _EXAMPLES_PER_CASE,
    progress: bool = True,
    command: str = "",
) -> DetectorReport:
    """Render every script (and its planted copies), detect defects, and measure the detector.

    ``limit`` takes a seeded random sample of that many scripts; ``planters`` picks a subset of
    :data:`~vsdpo.evaluate.planting.PLANTERS`; ``out`` (optional) holds the plain-python cache
    and the example PNGs. Writing the report files is left to :func:`write_report`."""
    from vsdpo.defects import detect_defects
    from vsdpo.render.chart import ChartRenderer

    root = Path(directory)
    scripts = find_scripts(root)
    if limit is not None and limit < len(scripts):
        scripts = sorted(random.Random(seed).sample(scripts, limit))
    names = list(planters) if planters is not None else list(PLANTERS)
    unknown = [n for n in names if n not in PLANTERS]
    if unknown:
        raise ValueError(f"unknown planters {unknown}; choose from {sorted(PLANTERS)}")
    out_dir = Path(out) if out is not None else None

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if check_plain:
        cache = out_dir / "plain_python.json" if out_dir is not None else None
        plain = plain_python_status(scripts, cache, workers, progress)
    else:
        plain = {}
    timings["plain_check_s"] = time.perf_counter() - t0

    summaries = {
        n: PlanterSummary(n, PLANTERS[n].expected_kinds, PLANTERS[n].description) for n in names
    }
    sink = _ExampleSink(out_dir / "examples" if out_dir else None, examples, 3 * examples)
    rows: list[ScriptRow] = []
    render_s = detect_s = 0.0

    t0 = time.perf_counter()
    with ChartRenderer(workers=workers) as renderer:
        bar = _progress(None, len(scripts), "render + detect", progress) if progress else None
        for start in range(0, len(scripts), _CHUNK):
            chunk = scripts[start : start + _CHUNK]
            sources = [p.read_text(encoding="utf-8", errors="replace") for p in chunk]
            # One flat batch per chunk (clean + planted copies) keeps every worker busy.
            plan: list[tuple[int, PlantedScript | None]] = []
            codes: list[str] = []
            plants_of: list[dict[str, PlantedScript | None]] = []
            probe_sources: list[str] = []  # legend_center copies with their legends hidden
            probe_of: dict[int, int] = {}  # script index in chunk -> index in probe_sources
            for i, src in enumerate(sources):
                plan.append((i, None))
                codes.append(src)
                plants = {n: PLANTERS[n].plant(src) for n in names}
                plants_of.append(plants)
                for planted in plants.values():
                    if planted is not None:
                        plan.append((i, planted))
                        codes.append(planted.source)
                legend = plants.get("legend_center")
                probe = hide_legends(legend.source) if legend is not None else None
                if probe is not None:
                    probe_of[i] = len(probe_sources)
                    probe_sources.append(probe)
            t = time.perf_counter()
            results = renderer.render_many(codes + probe_sources, extract=False)
            render_s += time.perf_counter() - t
            probes = results[len(codes) :]

            for i, path in enumerate(chunk):
                idx = [k for k, (owner, _) in enumerate(plan) if owner == i]
                group = [results[k] for k in idx]
                t = time.perf_counter()
                group_defects = detect_defects(group)
                detect_s += time.perf_counter() - t
                rel = path.relative_to(root).as_posix()
                stem = rel.removesuffix(".py").replace("/", "_")
                runs, err = plain.get(path, (None, ""))
                row = _clean_row(rel, runs, err, group[0], group_defects[0])
                for k, res, defects in zip(idx[1:], group[1:], group_defects[1:]):
                    planted = plan[k][1]
                    assert planted is not None
                    if not row.render_ok:
                        row.plants[planted.planter] = PlantOutcome(
                            planted.planter, "no_baseline", list(planted.lines)
                        )
                        continue
                    outcome = judge_plant(planted, group_defects[0], res, defects)
                    if outcome.status != "error":
                        probe = probes[probe_of[i]] if i in probe_of else None
                        _set_aside_if_nothing_drawn(outcome, planted, group[0], res, probe)
                    row.plants[planted.planter] = outcome
                    if outcome.detected:
                        new = [d for d in defects if d.kind in planted.expected_kinds]
                        sink.offer(f"{planted.planter}_detected", stem, res, new)
                    elif outcome.status == "missed":
                        sink.offer(f"{planted.planter}_missed", stem, res, list(defects))
                for n, planted in plants_of[i].items():
                    if planted is None:
                        row.plants[n] = PlantOutcome(n, "n/a")
                if row.render_ok and row.flagged and row.runs_plain is not False:
                    flagged = [d for d in group_defects[0] if d.kind in FLAG_KINDS]
                    sink.offer("false_alarm", stem, group[0], flagged)
                rows.append(row)
            del results  # the images are large; keep only the rows
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
    timings["render_s"] = render_s
    timings["detect_s"] = detect_s
    timings["evaluate_s"] = time.perf_counter() - t0

    for row in rows:
        for n, outcome in row.plants.items():
            summaries[n].add(outcome, baseline_missing=row.runs_plain is False)

    return DetectorReport(
        directory=str(root),
        command=command,
        rows=rows,
        planters=list(summaries.values()),
        settings={
            "limit": limit,
            "workers": workers,
            "planters": names,
            "seed": seed,
            "check_plain": check_plain,
            "examples": sink.written,
        },
        timings=timings,
        environment=_environment(),
    )


def _set_aside_if_nothing_drawn(
    outcome: PlantOutcome,
    planted: PlantedScript,
    clean: RenderResult,
    copy: RenderResult,
    probe: RenderResult | None,
) -> None:
    """Mark plants that drew no defect to find (they say nothing about the detector)."""
    if planted.planter == "legend_center" and probe is not None:
        if legend_over_content(probe, copy, planted) is False:
            outcome.status = "set_aside"
            outcome.note = "the centred legend covers nothing (blank pixels under it)"
    elif planted.planter == "tick_font" and not tick_labels_grew(clean, copy):
        outcome.status = "set_aside"
        outcome.note = "no tick labels grew (none drawn on the current axes)"


def _clean_row(
    rel: str,
    runs: bool | None,
    err: str,
    result: RenderResult,
    defects: Sequence[Defect],
    flag_kinds: tuple[str, ...] = FLAG_KINDS,
) -> ScriptRow:
    texts = [e for e in result.elements if e.is_text]
    row = ScriptRow(
        path=rel,
        runs_plain=runs,
        plain_error=err,
        render_ok=result.ok,
        render_error=result.error.summary() if result.error else None,
        render_s=round(sum(result.timings.values()), 4) if result.timings else 0.0,
        n_elements=len(result.elements),
        n_text=len(texts),
        n_traced=sum(e.traced for e in texts),
        untraced_names=[e.name or e.kind for e in texts if not e.traced][:8],
        defects_by_kind=dict(Counter(d.kind for d in defects)),
        defects=[_brief(d) for d in defects],
        flag_kinds=flag_kinds,
    )
    if "total" in result.timings:
        row.render_s = round(result.timings["total"], 4)
    return row


def _environment() -> dict[str, str]:
    import matplotlib
    import numpy

    return {
        "python": platform.python_version(),
        "matplotlib": matplotlib.__version__,
        "numpy": numpy.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }


# ---------------------------------------------------------------------------------------------
# Writing the report


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} = {100 * num / den:.1f} %" if den else f"{num}/0 = n/a"


def format_markdown(report: DetectorReport) -> str:
    """The report as markdown: headline figures vs targets, planters, defect kinds, failures."""
    fig = report.figures()
    met = report.target_checks()

    def mark(name: str) -> str:
        return {True: "met", False: "**missed**", None: "no data"}[met[name]]

    def target(name: str) -> str:
        op, bound = TARGETS[name]
        return f"{'≥' if op == '>=' else '≤'} {100 * bound:.0f} %"

    n_runnable = len(report.runnable)
    lines = [
        f"## Detector evaluation: `{report.directory}` ({len(report.rows)} scripts, "
        f"{n_runnable} run under plain python)",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
    ]
    labels = {
        "render_success": "render success (of the scripts that run under plain python)",
        "traced_fraction": "text elements traced to a code line",
        "flagged_fraction": "clean charts flagged for overlap or clipped text",
        "recall": "planted defects detected (recall, all planters)",
        "blame_rate": "detected plants whose defect names the planted line",
    }
    for name, label in labels.items():
        lines.append(f"| {label} | {_pct(*fig[name])} | {target(name)} | {mark(name)} |")
    for label, name in (
        (
            "clean charts with content off the canvas (overflow; the scripts' own "
            "`bbox_inches='tight'` save would grow the canvas around it)",
            "off_canvas_fraction",
        ),
        ("clean charts with any defect (all kinds)", "any_defect_fraction"),
        ("plants found and blamed (of all applicable)", "found_and_blamed"),
        (
            "plants found as the expected kind or another kind on the planted line",
            "recall_any_kind",
        ),
    ):
        lines.append(f"| {label} | {_pct(*fig[name])} | | |")

    lines += [
        "",
        "### Planted defects",
        "",
        "| planter | counts as | applicable | n/a | set aside | copy failed | detected | recall "
        "| blamed | blame rate | missed, seen as other kind |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report.planters:
        recall = "n/a" if p.recall != p.recall else f"{100 * p.recall:.1f} %"
        blame = "n/a" if p.blame_rate != p.blame_rate else f"{100 * p.blame_rate:.1f} %"
        lines.append(
            f"| {p.name} ({p.description}) | {' / '.join(p.expected_kinds)} | {p.applicable} | "
            f"{p.not_applicable} | {p.set_aside} | {p.errors} | {p.detected} | {recall} | "
            f"{p.blamed} | {blame} | {p.seen_as_other_kind} |"
        )
    lines += [
        "",
        "Applicable: planted on a script whose clean render worked. n/a: the planter does not fit "
        "the script. Set aside: planted, but no defect was drawn (a centred legend over blank "
        "pixels, judged on a render with the legends hidden; x4 tick labels on axes that draw "
        "none). Detected: a defect of the expected kind that the clean "
        "render did not have with the same blamed lines. Blame rate: of the detected, those "
        "whose defect names a planted line. Last column: missed, but a new defect of another "
        "kind names the planted line.",
    ]

    rendered = report.rendered
    lines += [
        "",
        f"### Defects on the {len(rendered)} clean renders",
        "",
        "| kind | charts | fraction | defects |",
        "|---|---|---|---|",
    ]
    for kind, counts in _kind_table(rendered).items():
        frac = f"{100 * counts['charts'] / len(rendered):.1f} %" if rendered else "n/a"
        lines.append(f"| {kind} | {counts['charts']} | {frac} | {counts['defects']} |")

    problems = _problem_lines(report)
    if problems:
        lines += ["", "### Failures and misses", "", *problems]

    t = report.timings
    env = report.environment
    lines += [
        "",
        f"Timing: plain-python check {t.get('plain_check_s', 0):.1f} s, rendering "
        f"{t.get('render_s', 0):.1f} s, detection {t.get('detect_s', 0):.1f} s "
        f"({report.settings.get('workers')} workers). {env.get('machine', '')}; python "
        f"{env.get('python', '')}, matplotlib {env.get('matplotlib', '')}.",
    ]
    if report.command:
        lines += ["", f"Command: `{report.command}`"]
    return "\n".join(lines) + "\n"


def _problem_lines(report: DetectorReport, cap: int = 12) -> list[str]:
    out: list[str] = []
    not_plain = [r for r in report.rows if r.runs_plain is False]
    if not_plain:
        out.append(
            f"- do not run under plain python ({len(not_plain)}): "
            + ", ".join(f"`{r.path}` ({r.plain_error})" for r in not_plain[:cap])
        )
    failed = [r for r in report.runnable if not r.render_ok]
    if failed:
        out.append(
            f"- render failed ({len(failed)}): "
            + ", ".join(f"`{r.path}` ({r.render_error})" for r in failed[:cap])
        )
    low_trace = sorted(
        (r for r in report.rendered if r.n_text and r.traced_fraction < 0.9),
        key=lambda r: r.traced_fraction,
    )
    if low_trace:
        out.append(
            f"- charts with < 90 % of text traced ({len(low_trace)}): "
            + ", ".join(f"`{r.path}` {r.n_traced}/{r.n_text}" for r in low_trace[:cap])
        )
    flagged = [r for r in report.rendered if r.flagged]
    if flagged:
        out.append(
            f"- clean charts flagged ({len(flagged)}): "
            + ", ".join(
                f"`{r.path}` ({_kinds_text(r.defects_by_kind, FLAG_KINDS)})" for r in flagged[:cap]
            )
        )
    for p in report.planters:
        missed = [
            r
            for r in report.runnable
            if r.plants.get(p.name) and r.plants[p.name].status in ("missed", "error")
        ]
        if missed:
            out.append(
                f"- {p.name} missed ({len(missed)}): "
                + ", ".join(f"`{r.path}`" + _miss_reason(r.plants[p.name]) for r in missed[:cap])
            )
        unblamed = [
            r
            for r in report.runnable
            if r.plants.get(p.name) and r.plants[p.name].detected and not r.plants[p.name].blamed
        ]
        if unblamed:
            out.append(
                f"- {p.name} detected but blamed elsewhere ({len(unblamed)}): "
                + ", ".join(
                    f"`{r.path}` (lines {_blamed_lines(r.plants[p.name])[:6]}, "
                    f"planted {r.plants[p.name].lines[:2]})"
                    for r in unblamed[:cap]
                )
            )
    return out


def _kinds_text(by_kind: dict[str, int], kinds: Sequence[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in by_kind.items() if k in kinds)


def _blamed_lines(outcome: PlantOutcome) -> list[int]:
    return sorted({n for d in outcome.new_defects for n in d["lines"]})


def _miss_reason(outcome: PlantOutcome) -> str:
    if outcome.error:
        return f" ({outcome.error})"
    if outcome.other_kinds_blamed:
        return f" (seen as {', '.join(outcome.other_kinds_blamed)})"
    return ""


def write_report(
    report: DetectorReport,
    out: str | os.PathLike[str],
    formatter: Callable[[DetectorReport], str] | None = None,
) -> tuple[Path, Path]:
    """Write ``OUT/report.md`` (by ``formatter``, default the charts one) and ``OUT/report.json``;
    return their paths."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "report.md"
    js = out_dir / "report.json"
    md.write_text((formatter or format_markdown)(report), encoding="utf-8")
    js.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    return md, js


# ---------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsdpo eval-detector charts",
        description="Render every matplotlib script under DIR, report render success, tracing "
        "and false alarms, then plant defects in copies and report recall and blame accuracy.",
    )
    parser.add_argument("directory", help="folder of matplotlib scripts (searched recursively)")
    parser.add_argument(
        "--out", default="eval-detector", help="output folder (default: %(default)s)"
    )
    parser.add_argument("--limit", type=int, help="evaluate a seeded random sample of N scripts")
    parser.add_argument("--workers", type=int, default=2, help="render workers (default: 2)")
    parser.add_argument(
        "--planters",
        default=",".join(PLANTERS),
        help="comma-separated planters (default: all: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit sampling")
    parser.add_argument(
        "--examples",
        type=int,
        default=_EXAMPLES_PER_CASE,
        help="annotated PNGs per planter outcome (default: %(default)s)",
    )
    parser.add_argument(
        "--no-plain-check",
        action="store_true",
        help="skip running each script under plain python (all count as runnable)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``vsdpo eval-detector charts DIR [options]``: run, print and write the report.

    Exit status 0 (1 with ``--strict`` when a target is missed; 2 for a bad directory/planter)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    planters = [n.strip() for n in args.planters.split(",") if n.strip()]
    try:
        report = evaluate_charts(
            args.directory,
            out=args.out,
            limit=args.limit,
            workers=args.workers,
            planters=planters,
            seed=args.seed,
            check_plain=not args.no_plain_check,
            examples=args.examples,
            progress=not args.no_progress,
            command="vsdpo eval-detector charts " + shlex.join(argv),
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"vsdpo eval-detector: {exc}", file=sys.stderr)
        return 2
    md, js = write_report(report, args.out)
    print(format_markdown(report))
    n_examples = len(report.settings["examples"])
    print(f"wrote {md}, {js}" + (f", {n_examples} annotated examples" if n_examples else ""))
    missed = [k for k, v in report.target_checks().items() if v is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
