"""The built-in web task set: deterministic, split by id, short; references render clean in real
Chromium and draw their texts, and every planted repair defect is found by the web detector."""

from __future__ import annotations

from collections import Counter

import pytest

from vsdpo.tasks import Task, estimate_tokens, web
from vsdpo.tasks.references import render_reference_images

from . import suite_checks as checks
from .sampling import kind_group, render_sample

FINGERPRINTS = {"1": "fb5fe3e377905a76a6a4189a21fb2cb02fc9ce1f4f3388b7fa2ea0318694e5af"}
RENDER_SAMPLE = 40


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return web.generate()


@pytest.fixture(scope="module")
def sample(tasks: list[Task]) -> list[Task]:
    return render_sample(tasks, RENDER_SAMPLE, kind_group)


@pytest.fixture(scope="module")
def renderer(chromium_executable):
    from vsdpo.render.web import WebRenderer

    with WebRenderer(concurrency=2, executable=chromium_executable) as r:
        yield r


@pytest.fixture(scope="module")
def rendered(sample: list[Task], renderer) -> dict:
    from vsdpo.defects import detect_defects

    codes = checks.programs(sample)
    results = renderer.render_many(codes, extract=False)
    return {c: (r, detect_defects([r])[0]) for c, r in zip(codes, results)}


def test_generation_is_deterministic(tasks: list[Task]) -> None:
    checks.check_deterministic(web, tasks, FINGERPRINTS)


def test_counts_tiers_and_split(tasks: list[Task]) -> None:
    checks.check_set(web, tasks, at_least=200)


def test_every_kind_edit_and_defect_is_used(tasks: list[Task]) -> None:
    assert {t.meta["kind"] for t in tasks} == set(web.KINDS)
    assert {t.meta["edit"] for t in tasks if t.tier == "edit"} == set(web.EDITS)
    planted = Counter((t.meta["planted"], t.meta["kind"]) for t in tasks if t.tier == "repair")
    assert len(planted) == len(web.DEFECTS) * len(web.KINDS)  # every defect on every kind


def test_prompts_hold_the_page_and_fit_the_budget(tasks: list[Task]) -> None:
    checks.check_prompts(web, tasks, "html")
    for t in tasks:
        assert estimate_tokens(t.reference_code) <= web.MAX_ANSWER_TOKENS, t.id
        assert "<script" not in t.reference_code and "<body>" in t.reference_code


def test_skeleton_todos_replace_exactly_the_listed_lines(tasks: list[Task]) -> None:
    checks.check_skeletons(tasks)
    todo = [t.meta["skeleton_code"] for t in tasks if t.tier == "skeleton"]
    assert any("/* TODO: " in c for c in todo) and any("<!-- TODO: " in c for c in todo)


def test_repair_plants_one_rule_and_the_fix_removes_it(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.tier == "repair"):
        broken = t.meta["broken_code"].splitlines()
        fixed = set(t.reference_code.splitlines())
        changed = [n for n, line in enumerate(broken, 1) if line not in fixed]
        assert changed == t.meta["planted_lines"], t.id


def test_render_sample_spreads_over_kinds_and_defects(sample: list[Task]) -> None:
    assert {t.meta["planted"] for t in sample if t.tier == "repair"} == set(web.DEFECTS)
    assert {t.meta["kind"] for t in sample} == set(web.KINDS)


@pytest.mark.chromium
def test_references_clean_and_planted_defects_found(sample: list[Task], rendered: dict) -> None:
    checks.check_renders(sample, rendered)


@pytest.mark.chromium
def test_reference_images_render_on_demand(
    tasks: list[Task], renderer, tmp_path, chromium_executable
) -> None:
    from PIL import Image

    few = [tasks[0], tasks[1]]
    with_images = render_reference_images(few, tmp_path, renderer=renderer)
    for t in with_images:
        image = Image.open(t.reference_image)
        assert image.size[0] == 1280 and image.size[1] >= 720
        colours = image.convert("RGB").getcolors(1 << 24)
        assert colours is not None and len(colours) > 2  # a page was drawn, not a blank
    # a second call reuses the PNGs; tasks that have an image keep it
    again = render_reference_images(with_images, tmp_path / "other")
    assert again == with_images


@pytest.mark.model
@pytest.mark.slow
def test_token_budgets_with_the_default_models_tokenizer(
    tasks: list[Task], default_model_dir
) -> None:
    checks.check_real_token_budgets(tasks, default_model_dir, web.MAX_PROMPT_TOKENS + 50)
