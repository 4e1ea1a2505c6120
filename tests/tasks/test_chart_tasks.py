"""The built-in chart task set: deterministic, split by id, every reference renders clean in the
real sandboxed renderer, and every planted repair defect is really found by the detector."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest

from vsdpo.artifact import DefectKind
from vsdpo.code import extract_code
from vsdpo.defects import detect_defects
from vsdpo.tasks import TIERS, Task, approx_tokens, charts, load_tasks, save_tasks, split_of

from .sampling import kind_group, render_sample

#: sha256 of the JSON of the whole generated set, per VERSION. A change to the generator that
#: alters any task must bump charts.VERSION (and add its fingerprint here): tasks and their
#: split are part of every experiment's record.
FINGERPRINTS = {
    "1": "4c19c98ce1a776ed38e69368d44460633505ece58d72b4a3e75e36698b4f1b1e",
    "2": "5dc0545b2902df951bc9ab8caf131e4bb43f5475eada0871d4fe4de5a6a514d0",
}
#: v2 added tasks and kept v1's: v1's 88, with meta["version"] set back to "1", hash as v1 did
V1_COUNTS = {"scratch": 14, "skeleton": 20, "edit": 22, "repair": 32}
#: programs of this many tasks are rendered by default (all under VSDPO_FULL_SUITE=1)
RENDER_SAMPLE = 40

#: defects a *reference* (a correct answer) must never have
LAYOUT_KINDS = (DefectKind.OVERLAP, DefectKind.CLIPPED_TEXT, DefectKind.OVERFLOW)

#: planters whose blamed lines include the planted line itself. The others plant a *cause* the
#: detector cannot see (a tiny figsize, a subplots_adjust): it blames the lines that drew the
#: elements that collide or fall off (the plot call that set the categories, the label calls)
BLAMES_PLANTED_LINE = {
    "long_labels",
    "legend_over_data",
    "title_off_canvas",
    "note_off_canvas",
    "crowded_grid",
    "huge_ticks",
}

#: token budgets of the default model (SmolLM2-135M-Instruct, max_new_tokens 256): the answer
#: (the fenced reference) must fit with room for a short preamble; the prompt stays small
MAX_PROMPT_TOKENS = 350
MAX_ANSWER_TOKENS = 240
assert (
    charts.MAX_PROMPT_TOKENS <= MAX_PROMPT_TOKENS
    and charts.MAX_ANSWER_TOKENS <= MAX_ANSWER_TOKENS - 8
)


def _fingerprint(tasks: list[Task]) -> str:
    blob = json.dumps([t.to_dict() for t in tasks], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return charts.generate()


@pytest.fixture(scope="module")
def renderer():
    """One real sandboxed chart renderer for the whole module."""
    from vsdpo.render.chart import ChartRenderer

    with ChartRenderer(workers=2, start_heavy=False) as r:
        yield r


@pytest.fixture(scope="module")
def sample(tasks: list[Task]) -> list[Task]:
    """The tasks whose programs are rendered: a spread of every tier x kind / edit / planted
    defect (all of them under VSDPO_FULL_SUITE=1)."""
    return render_sample(tasks, RENDER_SAMPLE, kind_group)


@pytest.fixture(scope="module")
def rendered(sample: list[Task], renderer) -> dict[str, tuple]:
    """``{program: (RenderResult, defects)}`` for every reference, broken and base program of
    the sample, rendered in one batch and checked by the detector as one group (rollouts never
    pair up)."""
    programs = list(
        dict.fromkeys(
            code
            for t in sample
            for code in (t.reference_code, t.meta.get("broken_code"), t.meta.get("base_code"))
            if code
        )
    )
    results = renderer.render_many(programs, extract=False)
    defects = detect_defects(results)
    return {p: (r, d) for p, r, d in zip(programs, results, defects)}


# --- the set --------------------------------------------------------------------------------


def test_generation_is_deterministic(tasks: list[Task]) -> None:
    again = charts.generate()
    assert again == tasks
    assert [t.to_dict() for t in again] == [t.to_dict() for t in tasks]
    assert _fingerprint(tasks) == FINGERPRINTS[charts.VERSION], (
        "the generated chart tasks changed: bump charts.VERSION and record the new fingerprint"
    )


def test_v1_tasks_are_kept() -> None:
    """Growing the set left every v1 task (id, prompt, programs, split) as it was."""
    v1 = [replace(t, meta={**t.meta, "version": "1"}) for t in charts.generate(V1_COUNTS)]
    assert _fingerprint(v1) == FINGERPRINTS["1"]


def test_render_sample_spreads_over_every_tier_and_kind(sample: list[Task]) -> None:
    assert len(sample) >= RENDER_SAMPLE
    assert {t.tier for t in sample} == set(TIERS)
    assert {t.meta["planted"] for t in sample if t.tier == "repair"} == set(charts.REPAIRS)
    assert len({kind_group(t) for t in sample}) >= 30


def test_generation_is_identical_in_a_fresh_interpreter(tasks: list[Task]) -> None:
    """No dependence on Python's salted str hash or on anything else per-process."""
    code = (
        "import hashlib, json; from vsdpo.tasks.charts import generate; "
        "print(hashlib.sha256(json.dumps([t.to_dict() for t in generate()], "
        "sort_keys=True).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == _fingerprint(tasks)


def test_ids_tiers_and_size(tasks: list[Task]) -> None:
    ids = [t.id for t in tasks]
    assert len(tasks) >= 300
    assert len(set(ids)) == len(ids)
    counts = Counter(t.tier for t in tasks)
    assert set(counts) == set(TIERS) and counts == Counter(charts.COUNTS)
    for t in tasks:
        assert t.domain == "chart" and t.id.startswith(f"chart/{t.tier}/")
        assert t.meta["version"] == charts.VERSION
        assert t.reference_image is None
        hash(t)  # frozen and hashable: meta is left out of the hash
    assert len(set(tasks)) == len(tasks)


def test_split_is_disjoint_stable_and_covers_every_tier(tasks: list[Task]) -> None:
    train = load_tasks("builtin:chart", "train")
    test = load_tasks("builtin:chart", "test")
    everything = load_tasks("builtin:chart", "all")
    assert everything == tasks
    assert {t.id for t in train}.isdisjoint({t.id for t in test})
    assert len(train) + len(test) == len(tasks)
    assert all(t.split == split_of(t.id) for t in tasks)
    assert load_tasks() == train  # the defaults: builtin:chart, train
    for tier in TIERS:
        assert any(t.tier == tier for t in train), f"no {tier} task in train"
        assert any(t.tier == tier for t in test), f"no {tier} task in test"
    assert 0.1 <= len(test) / len(tasks) <= 0.3
    # the split is a fixed function of the id (pinned: it must never move a task)
    assert split_of("chart/repair/0000") == "test"
    assert split_of("chart/repair/0002") == "train"
    assert [t.id for t in test] == [t.id for t in tasks if split_of(t.id) == "test"]


def test_prompts_are_short_and_ask_for_one_python_block(tasks: list[Task]) -> None:
    for t in tasks:
        assert t.prompt.endswith(charts.FORMAT), t.id
        assert "plt.show()" in t.prompt and "```python" in t.prompt
        # the real tokenizer counts 0.97-1.16x the estimate (see test_token_budgets_with_*)
        assert approx_tokens(t.prompt) * 1.15 <= MAX_PROMPT_TOKENS, t.id
        assert approx_tokens(t.reference_code) * 1.15 <= MAX_ANSWER_TOKENS - 8, t.id


def test_programs_are_short_plain_matplotlib(tasks: list[Task]) -> None:
    for t in tasks:
        for code in (t.reference_code, t.meta.get("broken_code"), t.meta.get("base_code")):
            if not code:
                continue
            assert 8 <= len(code.splitlines()) <= 25, t.id  # short: the answer budget is small
            tree = ast.parse(code)
            imported = {
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names
            }
            assert imported <= {"matplotlib.pyplot", "numpy"}, (t.id, imported)
            assert "plt.show" not in code and "savefig" not in code


def test_program_in_the_prompt_is_the_one_to_work_on(tasks: list[Task]) -> None:
    """Skeleton, edit and repair prompts hold their program in a fenced block the extractor finds."""
    key = {"skeleton": "skeleton_code", "edit": "base_code", "repair": "broken_code"}
    for t in tasks:
        if t.tier == "scratch":
            assert extract_code(t.prompt).n_blocks == 0, t.id
            continue
        ex = extract_code(t.prompt)
        assert ex.fenced and ex.n_blocks == 1, t.id
        assert ex.code == t.meta[key[t.tier]], t.id
        assert ex.code != t.reference_code, t.id


def test_skeleton_todos_replace_exactly_the_listed_lines(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.tier == "skeleton"):
        given, ref = t.meta["skeleton_code"].splitlines(), t.reference_code.splitlines()
        assert len(given) == len(ref)
        differ = [n for n, (a, b) in enumerate(zip(given, ref), 1) if a != b]
        assert differ == t.meta["todo_lines"] and 1 <= len(differ) <= 2, t.id
        assert all(given[n - 1].lstrip().startswith("# TODO: ") for n in differ), t.id


def test_every_edit_and_repair_kind_is_used(tasks: list[Task]) -> None:
    edits = Counter(t.meta["edit"] for t in tasks if t.tier == "edit")
    assert set(edits) == set(charts.EDITS) and min(edits.values()) >= 3
    planted = Counter(t.meta["planted"] for t in tasks if t.tier == "repair")
    assert set(planted) == set(charts.REPAIRS) and min(planted.values()) >= 10
    # no two tasks are the same exercise
    assert len({t.prompt for t in tasks}) == len(tasks)
    assert len({t.reference_code for t in tasks}) == len(tasks)
    kinds = {t.meta["kind"] for t in tasks}
    assert {"bar", "barh", "line", "scatter", "pie", "hist", "grouped", "subplots"} <= kinds


# --- rendering ------------------------------------------------------------------------------


def test_references_render_clean_and_draw_their_required_texts(
    sample: list[Task], rendered: dict[str, tuple]
) -> None:
    for t in sample:
        result, defects = rendered[t.reference_code]
        assert result.ok, (t.id, result.error)
        drawn = {e.text.strip() for e in result.elements if e.text}
        missing = [s for s in t.required_texts if s not in drawn]
        assert not missing, (t.id, missing)
        assert t.required_texts, t.id
        layout = [d.message for d in defects if d.kind in LAYOUT_KINDS]
        assert not layout, (t.id, layout)


def test_edit_bases_render_clean(sample: list[Task], rendered: dict[str, tuple]) -> None:
    for t in (t for t in sample if t.tier == "edit"):
        result, defects = rendered[t.meta["base_code"]]
        assert result.ok, (t.id, result.error)
        assert not [d.message for d in defects if d.kind in LAYOUT_KINDS], t.id


def test_repair_programs_have_the_planted_defect_blamed_on_their_lines(
    sample: list[Task], rendered: dict[str, tuple]
) -> None:
    for t in (t for t in sample if t.tier == "repair"):
        broken = t.meta["broken_code"]
        result, defects = rendered[broken]
        assert result.ok, (t.id, result.error)
        n_lines = len(broken.splitlines())
        found = [d for d in defects if d.kind in t.meta["planted_kinds"]]
        assert found, (t.id, t.meta["planted"], [d.message for d in defects])
        for d in found:
            assert d.lines and all(1 <= n <= n_lines for n in d.lines), (t.id, d.message)
        assert t.meta["planted_lines"], t.id
        if t.meta["planted"] in BLAMES_PLANTED_LINE:
            blamed = {n for d in found for n in d.lines}
            assert blamed & set(t.meta["planted_lines"]), (t.id, [d.message for d in found])


# --- loading and saving ---------------------------------------------------------------------


def test_jsonl_round_trip(tasks: list[Task], tmp_path) -> None:
    path = save_tasks(tasks, tmp_path / "sub" / "tasks.jsonl")
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(tasks)
    assert load_tasks(path, "all") == tasks
    assert load_tasks(str(path), "test") == load_tasks("builtin:chart", "test")
    assert [Task.from_dict(json.loads(json.dumps(t.to_dict()))) for t in tasks] == tasks


def test_jsonl_tasks_may_carry_their_own_split(tmp_path) -> None:
    a = Task("x/scratch/1", "chart", "scratch", "p", meta={"split": "test"})
    b = Task("x/scratch/2", "chart", "scratch", "p", required_texts=["T"])  # type: ignore[arg-type]
    assert b.required_texts == ("T",)
    path = save_tasks([a, b], tmp_path / "mine.jsonl")
    assert load_tasks(path, "test") == [a] + ([b] if split_of(b.id) == "test" else [])


def test_bad_specs_and_tasks_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_tasks("builtin:chart", "validation")
    with pytest.raises(ValueError, match="builtin:chart"):
        load_tasks("builtin:charts")
    with pytest.raises(FileNotFoundError):
        load_tasks(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="tier"):
        Task("x", "chart", "easy", "p")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "domain": "chart", "tier": "edit", "prompt": "p"}\n{"id": 1}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_tasks(bad, "all")
    dup = tmp_path / "dup.jsonl"
    line = '{"id": "a", "domain": "chart", "tier": "edit", "prompt": "p"}\n'
    dup.write_text(line * 2)
    with pytest.raises(ValueError, match="duplicate"):
        load_tasks(dup, "all")


# --- the real tokenizer ---------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.slow
def test_token_budgets_with_the_default_models_tokenizer(
    tasks: list[Task], default_model_dir
) -> None:
    """Prompts (chat template included) fit the prompt budget, and the fenced reference fits in
    max_new_tokens = 256; the estimate is within its stated factor (1.15 x the estimate, which
    the generator budgets with, is exceeded only by short prompts far below the budget)."""
    from transformers import AutoTokenizer

    from vsdpo.model import chat_prompt

    tok = AutoTokenizer.from_pretrained(default_model_dir)
    for t in tasks:
        prompt = chat_prompt(tok, [{"role": "user", "content": t.prompt}])
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert n_prompt <= MAX_PROMPT_TOKENS, (t.id, n_prompt)
        answer = f"```python\n{t.reference_code}```"
        n_answer = len(tok(answer, add_special_tokens=False)["input_ids"])
        assert n_answer <= MAX_ANSWER_TOKENS, (t.id, n_answer)
        for text in (t.prompt, t.reference_code):
            real = len(tok(text, add_special_tokens=False)["input_ids"])
            assert 0.9 <= real / approx_tokens(text) <= 1.2, (t.id, real, approx_tokens(text))
