"""The generated decks, the slide planters and a small real evaluation."""

from __future__ import annotations

import ast

from vsdpo.evaluate.slide_decks import SLIDE_TYPES, generate_decks
from vsdpo.evaluate.slide_planting import SLIDE_PLANTERS


def test_generator_is_deterministic_varied_and_large_enough():
    decks = generate_decks(40)
    assert len(decks) == 40 and len({d.code for d in decks}) == 40
    assert [d.code for d in generate_decks(40)] == [d.code for d in decks]
    assert set().union(*(d.slide_types for d in decks)) == set(SLIDE_TYPES)
    assert {d.wide for d in decks} == {True, False}
    for d in decks:
        ast.parse(d.code)
        assert "two_column" in d.slide_types


def test_planters_insert_whole_lines_before_the_save():
    code = generate_decks(1)[0].code
    n = len(code.splitlines())
    for name, planter in SLIDE_PLANTERS.items():
        planted = planter.plant(code)
        assert planted is not None, name
        ast.parse(planted.source)
        lines = planted.source.splitlines()
        assert len(lines) == n + planted.n_inserted
        assert lines[planted.lines[-1]].startswith("prs.save(")  # the save follows the plant
        assert planted.original_line(planted.lines[-1] + 1) == n  # the save's original line
    assert SLIDE_PLANTERS["small_font"].plant("x = 1\n") is None  # nothing saved: n/a


def test_small_evaluation_meets_the_targets(soffice_executable, tmp_path):
    from vsdpo.evaluate.slide_detector import evaluate_decks

    report = evaluate_decks(n=3, seed=1, out=tmp_path, workers=2, examples=0)
    fig = report.figures()
    assert fig["render_success"] == (3, 3)
    assert fig["flagged_fraction"][0] == 0
    assert fig["recall"] == (15, 15) and fig["blame_rate"] == (15, 15)
    assert (tmp_path / "decks" / "deck_000.py").is_file()
