"""Training an image-text-to-text model (Qwen2-VL style) on a tiny random Qwen2-VL built from
local pieces: the default model's tokenizer with Qwen's vision tokens added, a small image
processor, and a two-layer language model over a one-block vision tower."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vsdpo.artifact import RenderResult
from vsdpo.train.checkpoint import list_checkpoints
from vsdpo.train.config import from_sources
from vsdpo.train.logs import read_jsonl
from vsdpo.train.prompts import PromptInputs, batch_inputs, build_prompt, render_image
from vsdpo.train.rollout import completion_logits, sample_groups
from vsdpo.train.trainer import PhaseTimer, Trainer

VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
# Qwen2-VL's chat template (ChatML; an image part becomes <|vision_start|><|image_pad|><|vision_end|>,
# which the processor expands to one <|image_pad|> per merged patch)
QWEN2_VL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MERGE = 2  # spatial merge: one image token per 2x2 patches of 14 px
FAST = {
    "prompts_per_step": 2,
    "group_size": 2,
    "max_new_tokens": 16,
    "render_workers": 1,
    "probes": 0,
    "report": "none",
    "tensorboard": False,
    "lora": "off",
}


def make_tiny_vlm(out: Path, tokenizer_from: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Qwen2VLForConditionalGeneration and its processor to ``out``."""
    from transformers import (
        AutoTokenizer,
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    from vsdpo.model import _fix_generation_config

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    tokenizer.add_tokens(VISION_TOKENS, special_tokens=True)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            # head_dim 16: 8 rotary frequencies split over (time, height, width)
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
            },
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": 1,
            "embed_dim": 32,
            "hidden_size": 64,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": MERGE,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig.from_model_config(config.text_config)
    _fix_generation_config(model, tokenizer)
    # 4 to 16 image tokens per image: a few patches, enough to exercise the vision tower
    pixels = {"min_pixels": 4 * 28 * 28, "max_pixels": 16 * 28 * 28}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels),
        chat_template=QWEN2_VL_TEMPLATE,
    )
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_vlm_dir(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("torchvision") is None:  # requirements/ci.txt installs it
        message = "torchvision is not installed (the Qwen2-VL processor needs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: the VLM tests must run)", pytrace=False)
        pytest.skip(message)
    return make_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"), default_model_dir)


@pytest.fixture(scope="module")
def chart_tasks(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Two built-in chart tasks given reference images: their reference programs, rendered."""
    from PIL import Image

    from vsdpo.render import open_renderer
    from vsdpo.tasks import load_tasks

    tasks = load_tasks("builtin:chart", "train")[:2]
    folder = tmp_path_factory.mktemp("references")
    with open_renderer("chart", workers=1) as renderer:
        renders = renderer.render_many([t.reference_code for t in tasks], extract=False)
    out = []
    for task, render in zip(tasks, renders):
        assert render.ok and render.image is not None
        png = folder / f"{task.id.replace('/', '-')}.png"
        Image.fromarray(render.image).save(png)
        out.append(dataclasses.replace(task, reference_image=str(png)))
    return out


@pytest.fixture(scope="module")
def tiny_vlm(tiny_vlm_dir: Path):
    from vsdpo.model import load_model

    return load_model(tiny_vlm_dir)


def _image_tokens(prompt: PromptInputs, processor) -> int:
    return sum(t == processor.image_token_id for t in prompt.ids)


def _expected_image_tokens(prompt: PromptInputs) -> int:
    return int(prompt.image_tensors["image_grid_thw"].prod(-1).sum()) // MERGE**2


def test_the_tiny_vlm_loads_as_a_vlm(tiny_vlm) -> None:
    loaded = tiny_vlm
    assert loaded.is_vlm and loaded.processor is not None and not loaded.uses_lora
    assert type(loaded.model).__name__ == "Qwen2VLForConditionalGeneration"


def test_prompts_carry_their_images(tiny_vlm, chart_tasks) -> None:
    task = chart_tasks[0]
    tok, proc = tiny_vlm.tokenizer, tiny_vlm.processor
    student = build_prompt(tok, proc, task.prompt, 768, [task.reference_image])
    assert student.n_images == 1 and "pixel_values" in student.image_tensors
    assert _image_tokens(student, proc) == _expected_image_tokens(student) >= 4
    assert len(student.token_values["mm_token_type_ids"]) == len(student.ids)

    canvas = np.full((60, 90, 3), 200, np.uint8)
    assert render_image(RenderResult(ok=False, domain="chart")) is None
    deck = RenderResult(ok=True, domain="slides", image=canvas, pages=[canvas[:30], canvas])
    assert render_image(deck) is deck.pages[0]
    rendered = render_image(RenderResult(ok=True, domain="chart", image=canvas))
    teacher = build_prompt(
        tok, proc, "feedback", 768, [task.reference_image], trailing_images=[rendered]
    )
    assert teacher.n_images == 2 and teacher.image_tensors["image_grid_thw"].shape[0] == 2
    assert _image_tokens(teacher, proc) == _expected_image_tokens(teacher)

    # a text model ignores images; a text-only VLM prompt is truncated like a text model's
    text_only = build_prompt(tok, None, task.prompt, 20, [task.reference_image])
    assert len(text_only.ids) == 20 and text_only.n_images == 0 and not text_only.image_tensors
    vlm_text = build_prompt(tok, proc, task.prompt, 20)
    assert len(vlm_text.ids) == 20 and len(vlm_text.token_values["mm_token_type_ids"]) == 20
    # a prompt with an image is never cut into its image tokens
    whole = build_prompt(tok, proc, task.prompt, 20, [task.reference_image])
    assert whole.ids == student.ids


def test_loss_pass_logits_match_generation_and_single_rows(tiny_vlm, chart_tasks) -> None:
    """The loss pass's [left-padded prompt | completion] layout reproduces the logits ``generate``
    computed for the same tokens (so the image tokens get the same multimodal positions there as
    in sampling; 1-D positions would be off by ~3e-3 here), and a row's logits do not depend on
    the batch around it."""
    model, tok, proc = tiny_vlm.model, tiny_vlm.tokenizer, tiny_vlm.processor
    model.eval()
    refs = [t.reference_image for t in chart_tasks]
    prompts = [
        build_prompt(tok, proc, chart_tasks[0].prompt, 768, refs[:1]),
        build_prompt(tok, proc, "Draw a pie chart.", 768),  # text only, much shorter
        build_prompt(tok, proc, "Compare the two charts.", 768, refs),
    ]
    pad = tok.pad_token_id
    rollouts = sample_groups(
        model, tok, prompts, 1, max_new_tokens=6, temperature=1.0, top_p=1.0, top_k=0,
        do_sample=False,
    )  # fmt: skip
    assert rollouts[0].prompt is prompts[0]
    ids, mask, extras = batch_inputs(prompts, pad)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids, attention_mask=mask, **extras, do_sample=False, max_new_tokens=6,
            eos_token_id=None, pad_token_id=pad, output_logits=True, return_dict_in_generate=True,
        )  # fmt: skip
        completions = out.sequences[:, ids.shape[1] :].tolist()
        for r, c in zip(rollouts, completions):  # the same greedy tokens, up to the stop token
            assert r.completion_ids == c[: len(r.completion_ids)]
        sampled = torch.stack(out.logits, dim=1)
        logits, _, _ = completion_logits(model, prompts, completions, pad, "cpu")
        torch.testing.assert_close(logits, sampled, atol=2e-5, rtol=0)
        for i, p in enumerate(prompts):
            alone, _, _ = completion_logits(model, [p], [completions[i]], pad, "cpu")
            torch.testing.assert_close(alone[0], logits[i], atol=2e-5, rtol=0)


def _run(model_dir: Path, out: Path, tasks: list, **kw) -> Trainer:
    cfg = from_sources(overrides={"model": str(model_dir), "output_dir": str(out), **FAST, **kw})
    return Trainer(cfg, tasks=tasks, progress=False)


def test_one_step_feeds_images_to_student_and_teacher(tiny_vlm_dir, chart_tasks, tmp_path) -> None:
    trainer = _run(tiny_vlm_dir, tmp_path / "run", chart_tasks, preset="vsdpo", steps=1)
    with contextlib.ExitStack() as stack:
        trainer._setup(stack)
        before = {n: p.detach().clone() for n, p in trainer.unwrapped.named_parameters()}
        timer = PhaseTimer()
        rollouts = trainer.rollouts(chart_tasks, timer)
        proc = trainer.processor
        for r in rollouts:
            assert r.prompt.n_images == 1 and "pixel_values" in r.prompt.image_tensors
            assert _image_tokens(r.prompt, proc) == _expected_image_tokens(r.prompt)
            # the reference image, plus the rollout's own render when it ran
            assert r.teacher_prompt.n_images == 1 + bool(r.result.ok)
            assert _image_tokens(r.teacher_prompt, proc) == _expected_image_tokens(r.teacher_prompt)
            assert r.feedback and r.feedback in proc.tokenizer.decode(r.teacher_prompt.ids)
        stats = trainer.update(rollouts, timer)
        assert math.isfinite(stats["loss/total"]) and stats["grad_norm"] > 0
        assert math.isfinite(stats["kl/teacher"])
        after = dict(trainer.unwrapped.named_parameters())
        changed = {n for n, p in before.items() if not torch.equal(p, after[n].detach())}
        assert any(".visual." in n or n.startswith("visual.") for n in changed)
        assert any("language_model" in n for n in changed)

        # a successful render reaches the teacher as a second image
        from vsdpo.render import open_renderer

        with open_renderer("chart", workers=1) as renderer:
            ok = renderer.render(chart_tasks[1].reference_code, extract=False)
        assert ok.ok
        teacher = trainer.teacher_prompt(chart_tasks[1], "feedback", ok)
        assert teacher.n_images == 2
        assert _image_tokens(teacher, proc) == _expected_image_tokens(teacher)


def test_train_checkpoint_resume_and_export(tiny_vlm_dir, chart_tasks, tmp_path) -> None:
    """Two steps straight equal one step, a checkpoint, and a resumed second step."""
    from vsdpo.model import load_model

    straight = tmp_path / "straight"
    summary = _run(tiny_vlm_dir, straight, chart_tasks, steps=2, checkpoint_every=1).train()
    assert summary["finished"]
    rows = read_jsonl(straight / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(math.isfinite(r["loss/total"]) and r["grad_norm"] > 0 for r in rows)

    resumed = tmp_path / "resumed"
    _run(tiny_vlm_dir, resumed, chart_tasks, steps=1, checkpoint_every=1).train()
    _run(tiny_vlm_dir, resumed, chart_tasks, steps=2, checkpoint_every=1, resume=True).train()
    assert [s for s, _ in list_checkpoints(resumed)] == [1, 2]
    a = load_file(str(straight / "checkpoints" / "step-000002" / "trainable.safetensors"))
    b = load_file(str(resumed / "checkpoints" / "step-000002" / "trainable.safetensors"))
    assert a.keys() == b.keys() and any(".visual." in k or k.startswith("visual.") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed VLM run diverged"

    final = load_model(straight / "final")  # the export is a loadable VLM, processor included
    assert final.is_vlm and final.processor is not None
    start = load_file(str(tiny_vlm_dir / "model.safetensors"))
    trained = load_file(str(straight / "final" / "model.safetensors"))
    assert start.keys() == trained.keys()
    changed = [k for k in start if not torch.equal(start[k], trained[k])]
    assert any(k.startswith("visual.") for k in changed) and "lm_head.weight" in changed
