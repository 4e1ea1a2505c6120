"""How well the web renderer and the defect engine do on real pages, with planted defects.

``vsdpo eval-detector web DIR`` (this module's :func:`main`) renders every ``*.html`` under DIR
(e.g. the Design2Code dev pages, with their ``rick.jpg`` beside them) and reports, with the
same records and figures as the chart evaluation (:mod:`vsdpo.evaluate.detector`):

* **render success** (target >= 95 %), **traced** text runs (target >= 90 %);
* **flagged clean pages**: published pages with an overlap, clipped/overflowing text or
  off-page defect (a real page can have real defects; the figure bounds false alarms);
* **planted defects** (:mod:`vsdpo.evaluate.web_planting`): recall and blame rate (targets
  >= 90 %). A ``wide_element`` or ``negative_margin`` plant on a page that hides horizontal
  overflow (``overflow-x: hidden`` on the page) is set aside when the planted copy does not
  scroll sideways and hides nothing, judged from the DOM, not from the defect engine.

Writes ``OUT/report.md`` and ``OUT/report.json`` and a few annotated PNGs in ``OUT/examples``.
"""

from __future__ import annotations

import argparse
import platform
import random
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from vsdpo.artifact import DefectKind
from vsdpo.defects.web import page_scrolls_sideways
from vsdpo.evaluate.detector import (
    TARGETS,
    DetectorReport,
    PlanterSummary,
    PlantOutcome,
    _clean_row,
    _ExampleSink,
    _kind_table,
    _pct,
    judge_plant,
    write_report,
)
from vsdpo.evaluate.web_planting import WEB_PLANTERS

_CHUNK = 8  # pages per render_many batch (clean + planted copies)
#: on pages, content off the page (sideways scrolling) is a false alarm like overlap or clipping:
#: there is no tight-bbox save that would grow the canvas around it, as there is for charts
WEB_FLAG_KINDS = (DefectKind.OVERLAP, DefectKind.CLIPPED_TEXT, DefectKind.OVERFLOW)


def find_pages(directory: str | Path) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".html", ".htm"))


def evaluate_pages(
    directory: str | Path,
    *,
    out: str | Path | None = None,
    limit: int | None = None,
    concurrency: int = 2,
    planters: Sequence[str] | None = None,
    seed: int = 0,
    examples: int = 2,
    command: str = "",
) -> DetectorReport:
    from vsdpo.defects import detect_defects
    from vsdpo.render.web import WebRenderer

    root = Path(directory)
    pages = find_pages(root)
    if limit is not None and limit < len(pages):
        pages = sorted(random.Random(seed).sample(pages, limit))
    names = list(planters) if planters is not None else list(WEB_PLANTERS)
    unknown = [n for n in names if n not in WEB_PLANTERS]
    if unknown:
        raise ValueError(f"unknown planters {unknown}; choose from {sorted(WEB_PLANTERS)}")
    summaries = {
        n: PlanterSummary(n, WEB_PLANTERS[n].expected_kinds, WEB_PLANTERS[n].description)
        for n in names
    }
    sink = _ExampleSink(Path(out) / "examples" if out else None, examples, 3 * examples)
    rows = []
    render_s = detect_s = 0.0
    t_all = time.perf_counter()
    with WebRenderer(concurrency=concurrency) as renderer:
        for start in range(0, len(pages), _CHUNK):
            chunk = pages[start : start + _CHUNK]
            sources = [p.read_text(encoding="utf-8", errors="replace") for p in chunk]
            jobs: list[tuple[int, object]] = []  # (page index in chunk, planted or None)
            codes, dirs = [], []
            for i, (path, html) in enumerate(zip(chunk, sources)):
                jobs.append((i, None))
                codes.append(html)
                dirs.append(path.parent)
                for n in names:
                    planted = WEB_PLANTERS[n].plant(html)
                    jobs.append((i, (n, planted)))
                    if planted is not None:
                        codes.append(planted.source)
                        dirs.append(path.parent)
            t = time.perf_counter()
            results = iter(renderer.render_many(codes, extract=False, base_dirs=dirs))
            render_s += time.perf_counter() - t
            clean: dict[int, tuple] = {}
            for i, job in jobs:
                rel = str(chunk[i].relative_to(root))
                if job is None:
                    res = next(results)
                    t = time.perf_counter()
                    defects = detect_defects([res])[0]
                    detect_s += time.perf_counter() - t
                    row = _clean_row(rel, None, "", res, defects, WEB_FLAG_KINDS)
                    rows.append(row)
                    clean[i] = (row, res, defects)
                    if row.render_ok and row.flagged:
                        flagged = [d for d in defects if d.kind in WEB_FLAG_KINDS]
                        sink.offer("false_alarm", chunk[i].stem, res, flagged)
                    continue
                name, planted = job
                row, clean_res, clean_defects = clean[i]
                if planted is None:
                    row.plants[name] = PlantOutcome(name, "n/a")
                    continue
                res = next(results)
                if not clean_res.ok:
                    row.plants[name] = PlantOutcome(name, "no_baseline", list(planted.lines))
                    continue
                t = time.perf_counter()
                defects = detect_defects([res])[0]
                detect_s += time.perf_counter() - t
                outcome = judge_plant(planted, clean_defects, res, defects)
                if name in ("wide_element", "negative_margin") and not _scrolls_or_hides(res):
                    outcome.status = "set_aside"
                    outcome.note = "the page hides horizontal overflow: nothing shows off the page"
                elif name == "over_heading" and (shown := _box_meets_text(res, planted.lines)):
                    outcome.status = "set_aside"
                    outcome.note = shown
                row.plants[name] = outcome
                if outcome.detected:
                    new = [d for d in defects if d.kind in planted.expected_kinds]
                    sink.offer(f"{name}_detected", chunk[i].stem, res, new)
                elif outcome.status == "missed":
                    sink.offer(f"{name}_missed", chunk[i].stem, res, list(defects))
    for row in rows:
        for n, outcome in row.plants.items():
            summaries[n].add(outcome)

    return DetectorReport(
        directory=str(root),
        command=command,
        rows=rows,
        planters=list(summaries.values()),
        settings={
            "limit": limit,
            "concurrency": concurrency,
            "planters": names,
            "seed": seed,
            "examples": sink.written,
        },
        timings={
            "render_s": render_s,
            "detect_s": detect_s,
            "evaluate_s": time.perf_counter() - t_all,
        },
        environment={"python": platform.python_version(), "renderer": "chromium (playwright)"},
    )


def _scrolls_or_hides(result) -> bool:
    """Does the planted copy show anything off the page (sideways scroll or a box past an
    edge)? Read from the DOM measurements, not from the defect engine."""
    if not result.ok or not result.elements:
        return True
    if page_scrolls_sideways(result.elements[0].meta, margin_px=1.0):
        return True
    width = result.canvas[0]
    return any(
        e.is_text and (e.bbox[0] < -2 or e.bbox[2] > width + 2) and not e.meta.get("clip_on")
        for e in result.elements
    )


def _box_meets_text(result, planted_lines) -> str:
    """Why the planted positioned box cannot show an overlap ("" when it can, or cannot be
    told): it is not displayed (it sits in a hidden element), or it meets no text run (by their
    boxes). Geometry only: whether the box hides the text is the engine's call."""
    if not result.ok or not result.elements:
        return ""
    lines = set(planted_lines)
    boxes = [
        e.bbox
        for e in result.elements
        if not e.is_text and e.meta.get("position") == "absolute" and lines & set(e.lines())
    ]
    if not boxes:
        return "the planted box is not displayed (it sits inside a hidden element)"
    x0, y0, x1, y1 = boxes[-1]
    meets = any(
        e.is_text and e.bbox[0] < x1 and e.bbox[2] > x0 and e.bbox[1] < y1 and e.bbox[3] > y0
        for e in result.elements
    )
    return "" if meets else "the planted box landed clear of every text run"


def format_markdown(report: DetectorReport) -> str:
    fig = report.figures()
    met = report.target_checks()
    mark = {True: "met", False: "**missed**", None: "no data"}
    labels = {
        "render_success": "pages rendered",
        "traced_fraction": "text runs traced to a line of the HTML",
        "flagged_fraction": "clean pages flagged for overlap / clipped or overflowing text / off-page",
        "recall": "planted defects detected (recall, all planters)",
        "blame_rate": "detected plants whose defect names a planted line",
    }
    lines = [
        f"## Web detector evaluation: `{report.directory}` ({len(report.rows)} pages)",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
    ]
    for name, label in labels.items():
        op, bound = TARGETS[name]
        target = f"{'≥' if op == '>=' else '≤'} {100 * bound:.0f} %"
        lines.append(f"| {label} | {_pct(*fig[name])} | {target} | {mark[met[name]]} |")
    lines.append(
        f"| clean pages with any defect (all kinds) | {_pct(*fig['any_defect_fraction'])} | | |"
    )
    lines += [
        "",
        "| planter | counts as | applicable | n/a | set aside | failed | detected | blamed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in report.planters:
        lines.append(
            f"| {p.name} ({p.description}) | {' / '.join(p.expected_kinds)} | {p.applicable} | "
            f"{p.not_applicable} | {p.set_aside} | {p.errors} | {_pct(p.detected, p.applicable)} | "
            f"{_pct(p.blamed, p.detected)} |"
        )
    rendered = report.rendered
    lines += ["", "| defect kind on clean pages | pages | defects |", "|---|---|---|"]
    for kind, counts in _kind_table(rendered).items():
        lines.append(
            f"| {kind} | {counts['pages'] if 'pages' in counts else counts['charts']} "
            f"| {counts['defects']} |"
        )
    flagged = [r for r in rendered if r.flagged]
    if flagged:
        lines += ["", "Flagged clean pages: " + ", ".join(f"`{r.path}`" for r in flagged)]
    missed = [
        f"`{r.path}` {n}"
        for r in report.rows
        for n, o in r.plants.items()
        if o.status in ("missed", "error")
    ]
    if missed:
        lines += ["", "Missed plants: " + ", ".join(missed[:20])]
    t = report.timings
    lines += [
        "",
        f"Timing: rendering {t.get('render_s', 0):.1f} s, detection {t.get('detect_s', 0):.1f} s "
        f"({report.settings.get('concurrency')} tabs).",
    ]
    if report.command:
        lines += ["", f"Command: `{report.command}`"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsdpo eval-detector web",
        description="Render every HTML page under DIR, report render success, tracing and "
        "false alarms, then plant defects in copies and report recall and blame accuracy.",
    )
    parser.add_argument("directory", help="folder of .html pages (searched recursively)")
    parser.add_argument("--out", default="eval-detector-web", help="output folder")
    parser.add_argument("--limit", type=int, help="evaluate a seeded random sample of N pages")
    parser.add_argument("--concurrency", type=int, default=2, help="tabs rendering at once")
    parser.add_argument("--planters", default=",".join(WEB_PLANTERS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=2, help="annotated PNGs per outcome")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        report = evaluate_pages(
            args.directory,
            out=args.out,
            limit=args.limit,
            concurrency=args.concurrency,
            planters=[n.strip() for n in args.planters.split(",") if n.strip()],
            seed=args.seed,
            examples=args.examples,
            command="vsdpo eval-detector web " + shlex.join(argv),
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"vsdpo eval-detector web: {exc}", file=sys.stderr)
        return 2
    md, js = write_report(report, args.out, format_markdown)
    print(format_markdown(report))
    print(f"wrote {md}, {js}")
    missed = [k for k, v in report.target_checks().items() if v is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
