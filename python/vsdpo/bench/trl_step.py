"""TRL's ``SDPOTrainer`` (``trl.experimental.sdpo``) timed on the settings of ``vsdpo bench train``.

It mirrors the ``vsdpo`` preset as far as TRL allows: the same local model (loaded the same
way), the same prompts in the same order (chat-formatted by the same template), ``prompts x
group size`` rollouts per optimizer step in micro-batches of the same size, the same sampling,
completion and prompt lengths, the same divergence, teacher weights, IS clip, learning rate and
gradient clipping, GRPO and distillation weighted 0.5 : 1 (TRL's convex ``distillation_weight``
= 2/3), and a successful sibling as the teacher's demonstration at the same reward threshold.
The reward function is ours: it renders every completion in the sandbox, detects defects per
group and scores them (with the fidelity to the task's reference render, rendered once per
task, as the trainer does), so TRL's step pays for rendering as ours does.

What is not the same (and cannot be, in TRL): its feedback is a dataset column, one fixed text
per prompt known before sampling, so the bench gives it a static stand-in; nothing is rendered
for the teacher and no token is credit-weighted. Its step is timed by a ``TrainerCallback``
(``on_step_begin`` to ``on_step_end``), which also covers the ``transformers.Trainer``
machinery around it; TRL runs teacher and student in one function, so it has no phase split.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: the teacher feedback TRL gets for every rollout of every prompt (TRL cannot take per-rollout
#: feedback); worded like our defect feedback so the teacher prompts are of similar length
STATIC_FEEDBACK = (
    "Your previous program ran, but its render may have these visual problems:\n"
    "- text elements (tick labels, titles, legend entries) overlapping each other\n"
    "- text clipped by the figure edge or running outside the axes\n"
    "Fix them."
)

#: our divergence name -> TRL's distillation_mode (jsd: full logits with alpha in between)
TRL_DISTILL = {
    "sampled_token": "sampled_token",
    "full": "full_logits",
    "topk": "topk_logits",
    "jsd": "full_logits",
}


def _cuda_sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def trl_unavailable() -> str | None:
    """Why TRL's SDPOTrainer cannot run here, or None when it can."""
    try:
        from trl.experimental.sdpo import SDPOConfig, SDPOTrainer  # noqa: F401
    except Exception as exc:  # ImportError, or an incompatible transformers
        return f"trl.experimental.sdpo does not import: {type(exc).__name__}: {exc}"
    return None


def _sdpo_config(settings: Any, cfg: Any, output_dir: Path, mixed: str) -> Any:
    import torch
    from trl.experimental.sdpo import SDPOConfig

    rollouts = settings.prompts * settings.group_size
    micro = cfg.micro_batch if rollouts % cfg.micro_batch == 0 else rollouts
    mode = TRL_DISTILL[cfg.distill]
    alpha = cfg.jsd_alpha if cfg.distill == "jsd" else 1.0  # 1.0: reverse KL, as ours
    total = cfg.sd_weight + cfg.beta
    return SDPOConfig(
        output_dir=str(output_dir),
        max_steps=settings.warmup + settings.steps,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=rollouts // micro,
        num_generations=settings.group_size,
        max_completion_length=settings.max_new_tokens,
        max_prompt_length=cfg.max_prompt_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=cfg.top_k,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="constant",
        max_grad_norm=cfg.max_grad_norm,
        epsilon=cfg.epsilon_low,
        epsilon_high=cfg.epsilon_high,
        num_iterations=cfg.iterations,
        distillation_mode=mode,
        distillation_topk=cfg.distill_topk if mode == "topk_logits" else None,
        distillation_add_tail=mode == "topk_logits",  # ours keeps a tail bucket too
        distillation_alpha=alpha,
        distillation_is_clip=cfg.is_clip,
        distillation_weight=cfg.sd_weight / total,
        teacher_model_kind=cfg.teacher,
        teacher_update_rate=1.0 - cfg.ema_decay,
        use_successful_as_teacher=cfg.demonstrations,
        success_reward_threshold=cfg.demo_min_reward,
        include_environment_feedback=True,
        shuffle_dataset=False,
        seed=settings.seed,
        bf16=mixed == "bf16",
        fp16=mixed == "fp16",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
        dataloader_pin_memory=False,
    )


def profile_trl(settings: Any, batches: Sequence[Sequence[Any]], workdir: Path) -> dict[str, Any]:
    """Seconds per TRL SDPO step (after ``settings.warmup``), or ``{"skipped": why}``."""
    why = trl_unavailable()
    if why is not None:
        return {"skipped": why}
    try:
        return _profile_trl(settings, batches, workdir)
    except Exception as exc:  # a TRL version we do not know: say why and carry on
        return {"skipped": f"SDPOTrainer failed: {type(exc).__name__}: {exc}"}


def _profile_trl(settings: Any, batches: Sequence[Sequence[Any]], workdir: Path) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl.experimental.sdpo import SDPOTrainer

    from vsdpo.defects import detect_defects
    from vsdpo.metrics.reference import primary_score, reference_scores
    from vsdpo.model import load_model
    from vsdpo.render import open_renderer
    from vsdpo.rewards import score
    from vsdpo.train.trainer import mixed_precision

    cfg = settings.config("vsdpo", workdir)
    tasks = [t for batch in batches for t in batch]
    domains = {t.domain for t in tasks}
    if len(domains) != 1:
        return {"skipped": f"the tasks mix domains {sorted(domains)}"}
    domain = domains.pop()
    dataset = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": t.prompt}],
                "privileged_context": STATIC_FEEDBACK,
                "task_index": i,
            }
            for i, t in enumerate(tasks)
        ]
    )
    tokens_per_call: list[int] = []
    rewards_seen: list[float] = []
    references: dict[str, Any] = {}  # task id -> its reference render, made once (as ours)

    with contextlib.ExitStack() as stack:
        renderer = stack.enter_context(open_renderer(domain, workers=cfg.render_workers))

        def fidelity(task: Any, result: Any) -> float | None:
            """The trainer's reference fidelity (Trainer.fidelity) for one rollout."""
            if task.reference_code and task.id not in references:
                references[task.id] = renderer.render_many([task.reference_code], extract=False)[0]
            ref = references.get(task.id)
            if ref is None and domain != "slides":
                return None
            if not result.ok:
                return 0.0
            return primary_score(domain, reference_scores(domain, result, ref))

        def chart_reward(completions, completion_ids, task_index, **_: Any) -> list[float]:
            """Ours: render every completion, detect defects per group, score (with fidelity)."""
            texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
            results = renderer.render_many(texts)
            g = settings.group_size
            out: list[float] = []
            for start in range(0, len(results), g):
                group = results[start : start + g]
                for k, (res, found) in enumerate(zip(group, detect_defects(group))):
                    task = tasks[task_index[start + k]]
                    reward = score(
                        res,
                        found,
                        task.required_texts,
                        cfg.fidelity_weight,
                        reference_fidelity=fidelity(task, res),
                    )
                    out.append(reward.total)
            tokens_per_call.append(sum(len(ids) for ids in completion_ids))
            rewards_seen.extend(out)
            return out

        class StepClock(TrainerCallback):
            def __init__(self) -> None:
                self.t0 = 0.0
                self.seconds: list[float] = []

            def on_step_begin(self, args, state, control, **kwargs):
                _cuda_sync()
                self.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                _cuda_sync()
                self.seconds.append(time.perf_counter() - self.t0)

        lora = {"auto": "auto", "on": True, "off": False}[cfg.lora]
        loaded = load_model(
            cfg.model, dtype=cfg.dtype, lora=lora, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha
        )
        clock = StepClock()
        args = _sdpo_config(settings, cfg, workdir, mixed_precision(cfg.dtype))
        trainer = SDPOTrainer(
            model=loaded.model,
            reward_funcs=chart_reward,
            args=args,
            train_dataset=dataset,
            processing_class=loaded.tokenizer,
            callbacks=[clock],
        )
        with contextlib.redirect_stdout(sys.stderr):  # its end-of-training summary
            trainer.train()
        del trainer, loaded

    measured = clock.seconds[settings.warmup :]
    tokens = tokens_per_call[settings.warmup : settings.warmup + len(measured)]
    if not measured:
        return {"skipped": f"TRL ran {len(clock.seconds)} steps, none after the warm-up"}
    step_s = statistics.fmean(measured)
    mean_tokens = statistics.fmean(tokens) if tokens else 0.0
    return {
        "step_s": step_s,
        "steps_s": measured,
        "completion_tokens": mean_tokens,
        "step_s_per_1k_tokens": 1000.0 * step_s / mean_tokens if mean_tokens else None,
        "distillation_mode": args.distillation_mode,
        "distillation_topk": args.distillation_topk,
        "distillation_weight": args.distillation_weight,
        "teacher_model_kind": args.teacher_model_kind,
        "micro_batch": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "mean_reward": statistics.fmean(rewards_seen) if rewards_seen else None,
    }


def trl_report_lines(trl: dict[str, Any], profiles: dict[str, Any]) -> list[str]:
    """The markdown paragraph on TRL: its step time, the ratios, and what is comparable."""
    if "skipped" in trl:
        return [f"TRL SDPOTrainer: not run: {trl['skipped']}"]
    from vsdpo.bench.timing import markdown_table

    rows = [
        [
            "TRL SDPOTrainer",
            f"{trl['step_s']:.3f}",
            f"{trl['completion_tokens']:,.0f}",
            f"{trl['step_s_per_1k_tokens']:.3f}" if trl["step_s_per_1k_tokens"] else "n/a",
            "1.00x",
            "1.00x",
        ]
    ]
    for name, p in profiles.items():
        if p.preset == "grpo":
            continue
        per_tok = p.per_1k_tokens(p.step_s)
        rows.append(
            [
                f"ours {name}",
                f"{p.step_s:.3f}",
                f"{p.tokens:,.0f}",
                f"{per_tok:.3f}",
                f"{p.step_s / trl['step_s']:.2f}x",
                f"{per_tok / trl['step_s_per_1k_tokens']:.2f}x"
                if trl["step_s_per_1k_tokens"]
                else "n/a",
            ]
        )
    table = markdown_table(
        ["trainer", "s / step", "completion tokens", "s / 1k tokens", "vs TRL", "vs TRL per token"],
        rows,
        align="lrrrrr",
    )
    mode = trl["distillation_mode"] + (
        f" (k={trl['distillation_topk']}, tail bucket)" if trl["distillation_topk"] else ""
    )
    return [
        f"TRL SDPOTrainer on the same model, prompts, batch ({trl['micro_batch']} rollouts x "
        f"{trl['gradient_accumulation_steps']} micro-batches per step) and lengths; "
        f"{mode}, teacher {trl['teacher_model_kind']}, distillation_weight "
        f"{trl['distillation_weight']:.3f} (= our 1 : 0.5 SD : GRPO):",
        "",
        table,
        "",
        "Comparable: generation, the reward (TRL's reward function is ours: it renders every "
        "completion in the same sandbox and detects defects, so both steps pay for rendering), "
        "teacher and student passes, the optimizer step. Not comparable: TRL's feedback is one "
        "static text per prompt fixed before sampling (a stand-in here; ours is written per "
        "rollout from its own render), TRL weights no token (no credit phase), and its step also "
        "counts the transformers Trainer machinery (data loading, callbacks, metrics gathering).",
    ]
