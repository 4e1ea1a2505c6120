"""The built-in slide task set: deterministic, split by id, short; references render clean with
python-pptx + LibreOffice and draw their texts, and every planted repair defect is found by the
slide detector."""

from __future__ import annotations

import ast
from collections import Counter

import pytest

from vsdpo.evaluate.slide_planting import SLIDE_PLANTERS
from vsdpo.tasks import Task, estimate_tokens, slides
from vsdpo.tasks.references import render_reference_images

from . import suite_checks as checks
from .sampling import kind_group, render_sample

FINGERPRINTS = {"1": "74536c1a4503d207118997abafc8a1459c6c9201e4f7d86b85e97b4c40fe904e"}
RENDER_SAMPLE = 30
#: slides have one more defect a reference must not have
LAYOUT_KINDS = (*checks.LAYOUT_KINDS, "small_font")


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return slides.generate()


@pytest.fixture(scope="module")
def sample(tasks: list[Task]) -> list[Task]:
    return render_sample(tasks, RENDER_SAMPLE, kind_group)


@pytest.fixture(scope="module")
def renderer(soffice_executable):
    from vsdpo.render.slides import SlidesRenderer

    with SlidesRenderer(workers=2) as r:
        yield r


@pytest.fixture(scope="module")
def rendered(sample: list[Task], renderer) -> dict:
    from vsdpo.defects import detect_defects

    codes = checks.programs(sample)
    results = renderer.render_many(codes, extract=False)
    return {c: (r, detect_defects([r])[0]) for c, r in zip(codes, results)}


def test_generation_is_deterministic(tasks: list[Task]) -> None:
    checks.check_deterministic(slides, tasks, FINGERPRINTS)


def test_counts_tiers_and_split(tasks: list[Task]) -> None:
    checks.check_set(slides, tasks, at_least=200)


def test_every_kind_edit_and_planter_is_used(tasks: list[Task]) -> None:
    assert {t.meta["kind"] for t in tasks} == set(slides.KINDS)
    assert {t.meta["edit"] for t in tasks if t.tier == "edit"} == set(slides.EDITS)
    planted = Counter(t.meta["planted"] for t in tasks if t.tier == "repair")
    assert set(planted) == set(SLIDE_PLANTERS) and min(planted.values()) >= 10


def test_prompts_hold_the_program_and_fit_the_budget(tasks: list[Task]) -> None:
    checks.check_prompts(slides, tasks, "python")
    for t in tasks:
        assert estimate_tokens(t.reference_code) <= slides.MAX_ANSWER_TOKENS, t.id
        tree = ast.parse(t.reference_code)
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert imported <= {"pptx", "pptx.util", "PIL"}, (t.id, imported)
        assert t.reference_code.endswith('prs.save("deck.pptx")\n'), t.id


def test_skeleton_todos_replace_exactly_the_listed_lines(tasks: list[Task]) -> None:
    checks.check_skeletons(tasks)


def test_repair_programs_are_the_reference_plus_the_planted_lines(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.tier == "repair"):
        broken = t.meta["broken_code"].splitlines()
        kept = [line for n, line in enumerate(broken, 1) if n not in t.meta["planted_lines"]]
        assert kept == t.reference_code.splitlines(), t.id


def test_pictures_are_drawn_by_the_program(tasks: list[Task]) -> None:
    """The sandbox cannot read files the host hands it: picture slides make their own."""
    for t in (t for t in tasks if t.meta["kind"] == "image"):
        assert 'Image.new("RGB"' in t.reference_code and '.save("photo.png")' in t.reference_code


@pytest.mark.libreoffice
def test_references_clean_and_planted_defects_found(sample: list[Task], rendered: dict) -> None:
    assert {t.meta["planted"] for t in sample if t.tier == "repair"} == set(SLIDE_PLANTERS)
    checks.check_renders(sample, rendered, LAYOUT_KINDS)


@pytest.mark.libreoffice
def test_reference_images_stack_the_slides(tasks: list[Task], renderer, tmp_path) -> None:
    from PIL import Image

    (task,) = render_reference_images(tasks[:1], tmp_path, renderer=renderer)
    width, height = Image.open(task.reference_image).size
    assert height == 2 * round(width * 3 / 4)  # two 4:3 slides, one above the other


@pytest.mark.model
@pytest.mark.slow
def test_token_budgets_with_the_default_models_tokenizer(
    tasks: list[Task], default_model_dir
) -> None:
    checks.check_real_token_budgets(tasks, default_model_dir, slides.MAX_PROMPT_TOKENS + 50)
