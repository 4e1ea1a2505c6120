"""Checks every generated task set must pass (chart, web, slides): shape of the set, split,
determinism, prompts holding the program to work on, skeleton TODOs, and what a render of the
references and the broken programs must show."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from types import ModuleType

from vsdpo.code import extract_code
from vsdpo.rewards import text_fidelity
from vsdpo.tasks import TIERS, Task, load_tasks, split_of

#: defects a reference (a correct answer) must never have
LAYOUT_KINDS = ("overlap", "clipped_text", "overflow", "low_contrast")
#: the program the model works on, per tier
GIVEN = {"skeleton": "skeleton_code", "edit": "base_code", "repair": "broken_code"}


def fingerprint(tasks: Sequence[Task]) -> str:
    blob = json.dumps([t.to_dict() for t in tasks], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def check_deterministic(module: ModuleType, tasks: list[Task], fingerprints: dict) -> None:
    assert module.generate() == tasks
    assert fingerprint(tasks) == fingerprints[module.VERSION], (
        f"the generated {module.DOMAIN} tasks changed: bump VERSION and record the fingerprint"
    )
    # a fresh interpreter with another str-hash seed gives the same set
    code = (
        f"import hashlib, json; from {module.__name__} import generate; "
        "print(hashlib.sha256(json.dumps([t.to_dict() for t in generate()], "
        "sort_keys=True).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4321"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == fingerprint(tasks)


def check_set(module: ModuleType, tasks: list[Task], at_least: int) -> None:
    """Sizes, ids, tiers and splits."""
    domain = module.DOMAIN
    assert len(tasks) >= at_least
    assert Counter(t.tier for t in tasks) == Counter(module.COUNTS)
    assert len({t.id for t in tasks}) == len(tasks)
    assert len({t.prompt for t in tasks}) == len(tasks)  # no exercise twice
    for t in tasks:
        assert t.domain == domain and t.id.startswith(f"{domain}/{t.tier}/")
        assert t.meta["version"] == module.VERSION
        assert t.reference_image is None  # rendered on demand (vsdpo.tasks.references)
        assert t.required_texts, t.id
    train = load_tasks(f"builtin:{domain}", "train")
    test = load_tasks(f"builtin:{domain}", "test")
    assert load_tasks(f"builtin:{domain}", "all") == tasks
    assert {t.id for t in train}.isdisjoint({t.id for t in test})
    assert len(train) + len(test) == len(tasks)
    assert all(t.split == split_of(t.id) for t in tasks)
    for tier in TIERS:
        assert any(t.tier == tier for t in train), f"no {tier} task in train"
        assert sum(t.tier == tier for t in test) >= 5, f"few {tier} tasks in test"
    assert 0.1 <= len(test) / len(tasks) <= 0.3


def check_prompts(module: ModuleType, tasks: list[Task], language: str) -> None:
    """Every prompt ends with the format line and fits the budgets; skeleton, edit and repair
    prompts hold the program to work on as their one fenced block."""
    for t in tasks:
        assert t.prompt.endswith(module.FORMAT), t.id
        assert module.fits_budget(t), t.id
        if t.tier == "scratch":
            assert f"```{language}" not in t.prompt.removesuffix(module.FORMAT), t.id
            continue
        ex = extract_code(t.prompt, module.DOMAIN)
        assert ex.fenced and ex.n_blocks == 1, t.id
        assert ex.code == t.meta[GIVEN[t.tier]] != t.reference_code, t.id


def check_skeletons(tasks: list[Task]) -> None:
    for t in (t for t in tasks if t.tier == "skeleton"):
        given, ref = t.meta["skeleton_code"].splitlines(), t.reference_code.splitlines()
        assert len(given) == len(ref), t.id
        differ = [n for n, (a, b) in enumerate(zip(given, ref), 1) if a != b]
        assert differ == t.meta["todo_lines"] and 1 <= len(differ) <= 2, t.id
        assert all("TODO: " in given[n - 1] for n in differ), t.id


def check_renders(
    sample: Sequence[Task], rendered: dict, layout_kinds: Sequence[str] = LAYOUT_KINDS
) -> None:
    """References (and edit bases) render with no layout defect and draw every required text;
    every broken program shows its planted defect, blamed on a planted line."""
    for t in sample:
        result, defects = rendered[t.reference_code]
        assert result.ok, (t.id, result.error)
        assert not [d.message for d in defects if d.kind in layout_kinds], t.id
        assert text_fidelity(result, t.required_texts) == 1.0, t.id
        if t.tier == "edit":
            result, defects = rendered[t.meta["base_code"]]
            assert result.ok and not [d for d in defects if d.kind in layout_kinds], t.id
        if t.tier == "repair":
            result, defects = rendered[t.meta["broken_code"]]
            assert result.ok, (t.id, result.error)
            found = [d for d in defects if d.kind in t.meta["planted_kinds"]]
            assert found, (t.id, t.meta["planted"], [d.message for d in defects])
            blamed = {n for d in found for n in d.lines}
            assert blamed & set(t.meta["planted_lines"]), (t.id, [d.message for d in found])


def programs(sample: Sequence[Task]) -> list[str]:
    """Every reference, base and broken program of ``sample``, once each."""
    return list(
        dict.fromkeys(
            code
            for t in sample
            for code in (t.reference_code, t.meta.get("broken_code"), t.meta.get("base_code"))
            if code
        )
    )


def check_real_token_budgets(tasks: Sequence[Task], model_dir, max_prompt: int) -> None:
    """With the default model's tokenizer: the fenced reference fits max_new_tokens = 256 with
    room for a short preamble (240), and the chat prompt fits ``max_prompt``."""
    from transformers import AutoTokenizer

    from vsdpo.model import chat_prompt

    tok = AutoTokenizer.from_pretrained(model_dir)
    for t in tasks:
        prompt = chat_prompt(tok, [{"role": "user", "content": t.prompt}])
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert n_prompt <= max_prompt, (t.id, n_prompt)
        answer = f"```\n{t.reference_code}```"
        n_answer = len(tok(answer, add_special_tokens=False)["input_ids"])
        assert n_answer <= 240, (t.id, n_answer)
