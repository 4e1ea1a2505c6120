"""How well the slide renderer and the defect engine do on generated decks, with planted defects.

``vsdpo eval-detector slides`` (this module's :func:`main`) generates ``--n`` decks
(:mod:`vsdpo.evaluate.slide_decks`; there is no public slide set here), renders each clean and
with every planter of :mod:`vsdpo.evaluate.slide_planting`, and reports, with the records and
figures of the chart and web evaluations (:mod:`vsdpo.evaluate.detector`):

* **render success**, **traced** text lines (a line of the program made or styled them);
* **false alarms**: clean decks with *any* defect (all kinds count: the decks are meant to be
  clean), target <= 10 %;
* **planted defects**: recall (a new defect of the expected kind) and blame rate (its lines
  include a planted line), targets >= 90 %.

Writes ``OUT/report.md``, ``OUT/report.json``, a few annotated PNGs in ``OUT/examples`` and the
generated programs in ``OUT/decks``.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from vsdpo.artifact import DefectKind
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
from vsdpo.evaluate.slide_decks import generate_decks
from vsdpo.evaluate.slide_planting import SLIDE_PLANTERS

_CHUNK = 8  # decks per render_many batch (clean + planted copies)
#: every defect kind counts as a false alarm on a generated (meant to be clean) deck
SLIDE_FLAG_KINDS = tuple(k for k in DefectKind.ALL if k != DefectKind.EXEC_ERROR)


def evaluate_decks(
    *,
    n: int = 40,
    seed: int = 0,
    out: str | Path | None = None,
    workers: int = 2,
    planters: Sequence[str] | None = None,
    examples: int = 2,
    command: str = "",
) -> DetectorReport:
    from vsdpo.defects import detect_defects
    from vsdpo.render.slides import SlidesRenderer

    decks = generate_decks(n, seed)
    names = list(planters) if planters is not None else list(SLIDE_PLANTERS)
    unknown = [p for p in names if p not in SLIDE_PLANTERS]
    if unknown:
        raise ValueError(f"unknown planters {unknown}; choose from {sorted(SLIDE_PLANTERS)}")
    summaries = {
        p: PlanterSummary(p, SLIDE_PLANTERS[p].expected_kinds, SLIDE_PLANTERS[p].description)
        for p in names
    }
    out_dir = Path(out) if out else None
    if out_dir:
        (out_dir / "decks").mkdir(parents=True, exist_ok=True)
        for d in decks:
            (out_dir / "decks" / f"{d.name}.py").write_text(d.code, encoding="utf-8")
    sink = _ExampleSink(out_dir / "examples" if out_dir else None, examples, 3 * examples)
    rows = []
    render_s = detect_s = 0.0
    t_all = time.perf_counter()
    with SlidesRenderer(workers=workers) as renderer:
        startup_s = time.perf_counter() - t_all
        for start in range(0, len(decks), _CHUNK):
            chunk = decks[start : start + _CHUNK]
            jobs: list[tuple[int, object]] = []
            codes = []
            for i, deck in enumerate(chunk):
                jobs.append((i, None))
                codes.append(deck.code)
                for p in names:
                    planted = SLIDE_PLANTERS[p].plant(deck.code)
                    jobs.append((i, (p, planted)))
                    if planted is not None:
                        codes.append(planted.source)
            t = time.perf_counter()
            results = iter(renderer.render_many(codes, extract=False))
            render_s += time.perf_counter() - t
            clean: dict[int, tuple] = {}
            for i, job in jobs:
                deck = chunk[i]
                if job is None:
                    res = next(results)
                    t = time.perf_counter()
                    defects = detect_defects([res])[0]
                    detect_s += time.perf_counter() - t
                    row = _clean_row(deck.name, None, "", res, defects, SLIDE_FLAG_KINDS)
                    rows.append(row)
                    clean[i] = (row, res, defects)
                    if row.render_ok and row.flagged:
                        sink.offer("false_alarm", deck.name, res, list(defects))
                    continue
                p, planted = job
                row, clean_res, clean_defects = clean[i]
                if planted is None:
                    row.plants[p] = PlantOutcome(p, "n/a")
                    continue
                res = next(results)
                if not clean_res.ok:
                    row.plants[p] = PlantOutcome(p, "no_baseline", list(planted.lines))
                    continue
                t = time.perf_counter()
                defects = detect_defects([res])[0]
                detect_s += time.perf_counter() - t
                outcome = judge_plant(planted, clean_defects, res, defects)
                row.plants[p] = outcome
                if outcome.detected:
                    new = [d for d in defects if d.kind in planted.expected_kinds]
                    sink.offer(f"{p}_detected", deck.name, res, new)
                elif outcome.status == "missed":
                    sink.offer(f"{p}_missed", deck.name, res, list(defects))
        restarts = renderer.office_restarts
    for row in rows:
        for p, outcome in row.plants.items():
            summaries[p].add(outcome)
    return DetectorReport(
        directory=f"generated decks (n={n}, seed={seed})",
        command=command,
        rows=rows,
        planters=list(summaries.values()),
        settings={
            "n": n,
            "seed": seed,
            "workers": workers,
            "planters": names,
            "examples": sink.written,
            "office_restarts": restarts,
        },
        timings={
            "startup_s": startup_s,
            "render_s": render_s,
            "detect_s": detect_s,
            "evaluate_s": time.perf_counter() - t_all,
        },
        environment={
            "python": platform.python_version(),
            "renderer": "python-pptx (sandbox) + persistent LibreOffice + pdfium",
        },
    )


def format_markdown(report: DetectorReport) -> str:
    fig = report.figures()
    met = report.target_checks()
    mark = {True: "met", False: "**missed**", None: "no data"}
    labels = {
        "render_success": "decks rendered",
        "traced_fraction": "text lines traced to a line of the program",
        "flagged_fraction": "clean decks with any defect (false alarms)",
        "recall": "planted defects detected (recall, all planters)",
        "blame_rate": "detected plants whose defect names a planted line",
    }
    lines = [
        f"## Slide detector evaluation: {report.directory} ({len(report.rows)} decks)",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
    ]
    for name, label in labels.items():
        op, bound = TARGETS[name]
        target = f"{'≥' if op == '>=' else '≤'} {100 * bound:.0f} %"
        lines.append(f"| {label} | {_pct(*fig[name])} | {target} | {mark[met[name]]} |")
    lines += [
        "",
        "| planter | counts as | applicable | n/a | failed | detected | blamed |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in report.planters:
        lines.append(
            f"| {p.name} ({p.description}) | {' / '.join(p.expected_kinds)} | {p.applicable} | "
            f"{p.not_applicable} | {p.errors} | {_pct(p.detected, p.applicable)} | "
            f"{_pct(p.blamed, p.detected)} |"
        )
    lines += ["", "| defect kind on clean decks | decks | defects |", "|---|---|---|"]
    for kind, counts in _kind_table(report.rendered).items():
        lines.append(f"| {kind} | {counts['charts']} | {counts['defects']} |")
    flagged = [r for r in report.rendered if r.flagged]
    if flagged:
        lines += ["", "Flagged clean decks: " + ", ".join(f"`{r.path}`" for r in flagged)]
    missed = [
        f"`{r.path}` {p}"
        for r in report.rows
        for p, o in r.plants.items()
        if o.status in ("missed", "error")
    ]
    if missed:
        lines += ["", "Missed plants: " + ", ".join(missed[:20])]
    t = report.timings
    lines += [
        "",
        f"Timing: start-up {t.get('startup_s', 0):.1f} s, rendering {t.get('render_s', 0):.1f} s "
        f"(clean and planted decks), detection {t.get('detect_s', 0):.1f} s; "
        f"{report.settings.get('workers')} sandbox workers, one LibreOffice "
        f"({report.settings.get('office_restarts', 0)} restarts).",
    ]
    if report.command:
        lines += ["", f"Command: `{report.command}`"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsdpo eval-detector slides",
        description="Generate decks, render them, report false alarms, then plant defects in "
        "copies and report recall and blame accuracy.",
    )
    parser.add_argument("--n", type=int, default=40, help="how many decks to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="eval-detector-slides", help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers")
    parser.add_argument("--planters", default=",".join(SLIDE_PLANTERS), help="comma-separated")
    parser.add_argument("--examples", type=int, default=2, help="annotated PNGs per outcome")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        report = evaluate_decks(
            n=args.n,
            seed=args.seed,
            out=args.out,
            workers=args.workers,
            planters=[p.strip() for p in args.planters.split(",") if p.strip()],
            examples=args.examples,
            command="vsdpo eval-detector slides " + shlex.join(argv),
        )
    except ValueError as exc:
        print(f"vsdpo eval-detector slides: {exc}", file=sys.stderr)
        return 2
    md, js = write_report(report, args.out, format_markdown)
    print(format_markdown(report))
    print(f"wrote {md}, {js}")
    missed = [k for k, v in report.target_checks().items() if v is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
