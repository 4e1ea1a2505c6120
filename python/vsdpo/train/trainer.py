"""The Visual-SDPO training loop (``vsdpo train``).

One step: sample ``G`` completions for each of ``P`` prompts; render them in the sandbox and
detect defects for each group at once; score them (reward and group-normalised advantages);
write each rollout's feedback; run the teacher -- the same network, conditioned on the prompt
plus that feedback -- on exactly the student's completion tokens; weight the tokens of the blamed
code lines; and take an optimizer step on ``sd_weight * L_SD + beta * L_GRPO (+ kl_coef * KL)``.
See DESIGN.md, "The method in one page".

Devices and scale come from accelerate (one CPU, one GPU, or ``accelerate launch`` with DDP);
each rank samples, renders and scores its own prompts.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsdpo.artifact import DefectKind
from vsdpo.credit import token_credit
from vsdpo.defects import detect_defects
from vsdpo.feedback import describe, pick_demonstration, teacher_message
from vsdpo.rewards import group_advantages, score
from vsdpo.train import losses
from vsdpo.train.checkpoint import (
    TrainerState,
    latest_checkpoint,
    load_checkpoint,
    remove_partial,
    save_checkpoint,
)
from vsdpo.train.config import TrainConfig
from vsdpo.train.logs import RunLog
from vsdpo.train.prompts import RENDER_CAPTION, PromptInputs, build_prompt, render_image
from vsdpo.train.rollout import Rollout, completion_logits, sample_groups
from vsdpo.train.teacher import Teacher


def mixed_precision(dtype: str) -> str:
    """accelerate's mixed-precision mode for the config's ``dtype``.

    ``auto`` uses bf16 autocast for the loss passes wherever the hardware computes bf16 natively:
    CUDA devices that support it, and CPUs with AVX512-BF16 or AMX (about 2x faster forward and
    backward passes than float32 on this project's 2-core CI machine). Weights and optimizer
    states stay in the dtype the model was loaded in."""
    if dtype != "auto":
        return "bf16" if dtype == "bfloat16" else "fp16" if dtype == "float16" else "no"
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    try:
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "no"
    except (AttributeError, RuntimeError):
        return "no"


class RunExistsError(RuntimeError):
    """The output directory already holds a run; refuse to overwrite it."""


class PhaseTimer:
    """Wall time per phase of a step (seconds), summed over repeated phases."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.totals[phase] += time.perf_counter() - t0


class Trainer:
    """Trains a model with the config's preset. ``train()`` runs the whole job and returns a summary.

    ``loaded`` (a :class:`vsdpo.model.LoadedModel`) and ``tasks`` may be passed in to reuse
    them; by default they come from ``config.model`` and ``config.tasks``."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        loaded: Any | None = None,
        tasks: Sequence[Any] | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg = config
        self.out = Path(config.output_dir)
        self._loaded = loaded
        self._tasks = list(tasks) if tasks is not None else None
        self.progress = progress
        self._stop_signal: int | None = None
        self._references: dict[str, Any] = {}  # task id -> reference RenderResult

    # -- setup -------------------------------------------------------------------------------

    def _check_output_dir(self) -> Path | None:
        existing = latest_checkpoint(self.out)
        if existing is not None and not self.cfg.resume:
            raise RunExistsError(
                f"{self.out} already holds a run (latest checkpoint: {existing.name}). "
                "Pass --resume to continue it, or choose another --output-dir."
            )
        self.out.mkdir(parents=True, exist_ok=True)
        if remove_partial(self.out):
            print(f"vsdpo: removed a half-written checkpoint left in {self.out}/checkpoints")
        return existing if self.cfg.resume else None

    def _setup(self, stack: contextlib.ExitStack) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        from transformers import get_scheduler

        from vsdpo.model import load_model
        from vsdpo.render import open_renderer
        from vsdpo.tasks import load_tasks

        cfg = self.cfg
        resume_from = self._check_output_dir()
        self.accelerator = Accelerator(mixed_precision=mixed_precision(cfg.dtype))
        set_seed(cfg.seed)
        if self._loaded is None:
            lora = {"auto": "auto", "on": True, "off": False}[cfg.lora]
            self._loaded = load_model(
                cfg.model,
                dtype=cfg.dtype,
                lora=lora,
                lora_r=cfg.lora_r,
                lora_alpha=cfg.lora_alpha,
                gradient_checkpointing=cfg.gradient_checkpointing,
            )
        self.loaded = self._loaded
        self.tokenizer = self.loaded.tokenizer
        self.processor = self.loaded.processor  # set for image-text-to-text models
        if self.tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; vsdpo.model.load_model sets one")
        self.tasks = self._tasks if self._tasks is not None else load_tasks(cfg.tasks, cfg.split)
        if not self.tasks:
            raise ValueError(f"no tasks in {cfg.tasks!r} (split {cfg.split!r})")
        domains = {t.domain for t in self.tasks}
        if len(domains) != 1:
            raise ValueError(
                f"a run trains on one domain at a time; {cfg.tasks!r} mixes {sorted(domains)}"
            )
        self.domain = domains.pop()

        model = self.loaded.model
        model.train()
        # the teacher shadows (ema/base) must copy the *initial* weights: build them before resuming
        self.teacher = Teacher(cfg.teacher, model, cfg.ema_decay) if cfg.uses_teacher else None
        self.reference = None
        if cfg.kl_coef > 0:
            same = self.teacher is not None and self.teacher.mode == "base"
            self.reference = self.teacher if same else Teacher("base", model)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        scheduler = get_scheduler(
            cfg.lr_scheduler,
            optimizer,
            num_warmup_steps=cfg.warmup_steps,
            num_training_steps=cfg.steps * cfg.iterations,
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            model, optimizer, scheduler
        )
        self.device = self.accelerator.device

        self.state = TrainerState(step=0, data_position=0, wall_time_s=0.0)
        if resume_from is not None:
            self.state, teacher_state = load_checkpoint(
                resume_from, self.unwrapped, self.optimizer, self.scheduler
            )
            if self.teacher is not None:
                self.teacher.load_state_dict(teacher_state)
            self._say(f"resumed from {resume_from} (step {self.state.step})")
        self.is_main = self.accelerator.is_main_process
        if self.is_main:
            cfg.save_yaml(self.out / "config.yaml")
        self.log = RunLog(
            self.out,
            tensorboard=cfg.tensorboard and self.is_main,
            resume_step=self.state.step if resume_from is not None else None,
        )
        stack.callback(self.log.close)
        self.renderer = stack.enter_context(open_renderer(self.domain, workers=cfg.render_workers))

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _say(self, text: str) -> None:
        if getattr(self, "accelerator", None) is None or self.accelerator.is_main_process:
            from tqdm.auto import tqdm

            tqdm.write(f"vsdpo: {text}")

    # -- data --------------------------------------------------------------------------------

    def _task_at(self, position: int) -> Any:
        """The task at a global data position: a fresh seeded permutation of the suite per epoch."""
        n = len(self.tasks)
        epoch, i = divmod(position, n)
        order = np.random.default_rng([self.cfg.seed, epoch]).permutation(n)
        return self.tasks[int(order[i])]

    def _batch(self) -> list[Any]:
        rank = self.accelerator.process_index
        start = self.state.data_position + rank * self.cfg.prompts_per_step
        return [self._task_at(start + k) for k in range(self.cfg.prompts_per_step)]

    def _reference_images(self, task: Any) -> list[str]:
        """The task's reference image, for a VLM (a text model never sees images)."""
        return [task.reference_image] if self.processor is not None and task.reference_image else []

    def student_prompt(self, task: Any) -> PromptInputs:
        """The task's message; for a VLM also its reference image, when it has one."""
        return build_prompt(
            self.tokenizer,
            self.processor,
            task.prompt,
            self.cfg.max_prompt_tokens,
            self._reference_images(task),
        )

    def teacher_prompt(self, task: Any, message: str, result: Any) -> PromptInputs:
        """The teacher's message (prompt plus feedback); for a VLM also the reference image and
        the image this rollout rendered (none when the render failed)."""
        render = render_image(result) if self.processor is not None else None
        return build_prompt(
            self.tokenizer,
            self.processor,
            message,
            self.cfg.max_prompt_tokens + 1024,
            self._reference_images(task),
            caption=RENDER_CAPTION,
            trailing_images=[render] if render is not None else [],
        )

    # -- one step ----------------------------------------------------------------------------

    def rollouts(
        self, tasks: Sequence[Any], timer: PhaseTimer, *, greedy: bool = False
    ) -> list[Rollout]:
        """Sample, render, detect, score, write feedback and credit for one batch of prompts."""
        cfg = self.cfg
        prompts = [self.student_prompt(t) for t in tasks]
        group = 1 if greedy else cfg.group_size
        # no autocast here: re-casting every weight at every decoding step costs more than it saves
        with timer("generate"):
            rollouts = sample_groups(
                self.unwrapped,
                self.tokenizer,
                prompts,
                group,
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=cfg.top_k,
                do_sample=not greedy,
                device=self.device,
            )
        with timer("render"):
            results = self.renderer.render_many([r.completion for r in rollouts])
        for r, res in zip(rollouts, results):
            r.result = res
        groups = [rollouts[g * group : (g + 1) * group] for g in range(len(tasks))]
        with timer("defects"):
            for members in groups:
                for r, found in zip(members, detect_defects([m.result for m in members])):
                    r.defects = found
        with timer("fidelity"):
            fidelity = self.fidelity(tasks, groups)
        for task, members, fids in zip(tasks, groups, fidelity):
            for r, fid in zip(members, fids):
                r.reward = score(
                    r.result,
                    r.defects,
                    task.required_texts,
                    cfg.fidelity_weight,
                    reference_fidelity=fid,
                )
            adv = group_advantages([m.reward.total for m in members], scale=cfg.scale_advantages)
            for r, a in zip(members, adv):
                r.advantage = float(a)
        if greedy:
            return rollouts
        if cfg.uses_teacher:
            for task, members in zip(tasks, groups):
                totals = [m.reward.total for m in members]
                for j, r in enumerate(members):
                    r.feedback = describe(r.result, r.defects, cfg.feedback)
                    demo_code = None
                    if cfg.demonstrations and r.reward.total < cfg.demo_min_reward:
                        r.demonstration = pick_demonstration(totals, j, cfg.demo_min_reward)
                        if r.demonstration is not None:
                            demo_code = members[r.demonstration].result.code
                    message = teacher_message(
                        task.prompt,
                        r.feedback,
                        cfg.feedback,
                        demonstration_code=demo_code,
                        domain=self.domain,
                    )
                    r.teacher_prompt = self.teacher_prompt(task, message, r.result)
        with timer("credit"):
            for members in groups:
                weights = token_credit(
                    [m.offsets for m in members],
                    [m.result for m in members],
                    [m.defects for m in members],
                    cfg.credit_lambda,
                )
                for r, w in zip(members, weights):
                    r.token_weights = w
        return rollouts

    def fidelity(
        self, tasks: Sequence[Any], groups: list[list[Rollout]]
    ) -> list[list[float | None]]:
        """Each rollout's benchmark score against its task's reference render (None without one).

        References are rendered once per task and kept: they do not change during training."""
        from vsdpo.metrics.reference import primary_score, reference_scores

        missing = [t for t in tasks if t.reference_code and t.id not in self._references]
        if missing:
            for t, res in zip(
                missing,
                self.renderer.render_many([t.reference_code for t in missing], extract=False),
            ):
                self._references[t.id] = res
        out = []
        for task, members in zip(tasks, groups):
            ref = self._references.get(task.id)
            if ref is None and self.domain != "slides":
                out.append([None] * len(members))
                continue
            out.append(
                [
                    primary_score(self.domain, reference_scores(self.domain, r.result, ref))
                    if r.result.ok
                    else 0.0
                    for r in members
                ]
            )
        return out

    def _micro_batches(self, n: int) -> list[list[int]]:
        size = self.cfg.micro_batch
        return [list(range(i, min(n, i + size))) for i in range(0, n, size)]

    def _logits(self, model, prompts, rollouts, idx):
        return completion_logits(
            model,
            [prompts[i] for i in idx],
            [rollouts[i].completion_ids for i in idx],
            self.tokenizer.pad_token_id,
            self.device,
        )

    def _pad_rows(self, rows: list[np.ndarray], width: int) -> torch.Tensor:
        out = torch.zeros((len(rows), width), dtype=torch.float32)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.from_numpy(np.asarray(r, dtype=np.float32))
        return out.to(self.device)

    def update(self, rollouts: list[Rollout], timer: PhaseTimer) -> dict[str, float]:
        """``iterations`` optimizer steps on one batch of rollouts; returns loss statistics."""
        cfg = self.cfg
        acc = self.accelerator
        live = [r for r in rollouts if r.completion_ids]
        stats: dict[str, float] = defaultdict(float)
        if not live:
            return dict(stats)
        batches = self._micro_batches(len(live))
        n_tokens = float(sum(len(r.completion_ids) for r in live))
        sd_norm = float(sum(r.token_weights.sum() for r in live))
        student_prompts = [r.prompt for r in live]
        teacher_prompts = [r.teacher_prompt for r in live]
        old_logp: list[torch.Tensor] | None = None
        if cfg.iterations > 1:  # the sampling policy's log-probs, for the ratios of later updates
            with timer("student_forward"), torch.no_grad(), acc.autocast():
                old_logp = []
                for idx in batches:
                    logits, ids, _ = self._logits(self.unwrapped, student_prompts, live, idx)
                    old_logp.append(losses.token_logprobs(logits, ids))
        for it in range(cfg.iterations):
            for b, idx in enumerate(batches):
                sync = (
                    contextlib.nullcontext() if b == len(batches) - 1 else acc.no_sync(self.model)
                )
                with sync:
                    self._micro_step(
                        live,
                        idx,
                        student_prompts,
                        teacher_prompts,
                        old_logp,
                        b,
                        n_tokens,
                        sd_norm,
                        stats,
                        timer,
                        last_iter=it == cfg.iterations - 1,
                    )
            with timer("optimizer"):
                if cfg.max_grad_norm > 0:
                    norm = acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                    stats["grad_norm"] = float(norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.teacher is not None:
                    self.teacher.after_optimizer_step()
        return dict(stats)

    def _micro_step(
        self,
        live,
        idx,
        student_prompts,
        teacher_prompts,
        old_logp,
        b,
        n_tokens,
        sd_norm,
        stats,
        timer,
        *,
        last_iter: bool,
    ) -> None:
        cfg = self.cfg
        acc = self.accelerator
        teacher_logits = teacher_logp = ref_logp = None
        if cfg.uses_teacher:
            with timer("teacher_forward"), self.teacher.weights() as tm, acc.autocast():
                t_logits, t_ids, _ = self._logits(tm, teacher_prompts, live, idx)
                teacher_logp = losses.token_logprobs(t_logits, t_ids)
                if cfg.distill != "sampled_token":
                    teacher_logits = t_logits
        if self.reference is not None:
            with timer("reference_forward"), self.reference.weights() as rm, acc.autocast():
                r_logits, r_ids, _ = self._logits(rm, student_prompts, live, idx)
                ref_logp = losses.token_logprobs(r_logits, r_ids)
                del r_logits
        with timer("student_forward"), acc.autocast():
            logits, ids, mask = self._logits(self.model, student_prompts, live, idx)
            logp = losses.token_logprobs(logits, ids)
            old = old_logp[b] if old_logp is not None else logp.detach()
            width = ids.shape[1]
            adv = torch.tensor(
                [live[i].advantage for i in idx], dtype=torch.float32, device=self.device
            )
            loss = torch.zeros((), device=self.device)
            if cfg.beta > 0:
                g = losses.grpo_per_token(logp, old, adv, cfg.epsilon_low, cfg.epsilon_high)
                l_grpo = losses.weighted_mean(g, mask, n_tokens)
                loss = loss + cfg.beta * l_grpo
                stats["loss/grpo"] += float(l_grpo.detach()) / cfg.iterations
            if cfg.kl_coef > 0:
                l_kl = losses.weighted_mean(losses.k3_kl(logp, ref_logp), mask, n_tokens)
                loss = loss + cfg.kl_coef * l_kl
                stats["loss/kl_ref"] += float(l_kl.detach()) / cfg.iterations
            if cfg.uses_teacher:
                weights = self._pad_rows([live[i].token_weights for i in idx], width) * mask
                per_token = losses.distillation_per_token(
                    cfg.distill,
                    logits,
                    teacher_logits,
                    logp,
                    teacher_logp,
                    topk=cfg.distill_topk,
                    alpha=cfg.jsd_alpha,
                )
                if cfg.is_clip is not None and old_logp is not None:
                    per_token = per_token * losses.importance_weights(logp, old, cfg.is_clip)
                l_sd = losses.weighted_mean(per_token, weights, sd_norm)
                loss = loss + cfg.sd_weight * l_sd
                stats["loss/distill"] += float(l_sd.detach()) / cfg.iterations
                if last_iter:  # honest KL(student || teacher), not the surrogate
                    with torch.no_grad():
                        if teacher_logits is not None:
                            kl = losses.full_kl(logits.detach(), teacher_logits)
                        else:
                            kl = losses.sampled_token_kl(logp, teacher_logp)
                        stats["kl/teacher"] += float((kl * mask).sum()) / n_tokens
                        stats["kl/teacher_weighted"] += float((kl * weights).sum()) / max(
                            sd_norm, 1e-8
                        )
            stats["loss/total"] += float(loss.detach()) / cfg.iterations
        with timer("student_backward"):
            acc.backward(loss)

    # -- metrics -----------------------------------------------------------------------------

    def step_metrics(
        self, rollouts: list[Rollout], stats: dict[str, float], timer: PhaseTimer
    ) -> dict[str, Any]:
        n = len(rollouts)
        rewards = np.array([r.reward.total for r in rollouts], dtype=np.float64)
        exe = np.array([r.reward.executable for r in rollouts])
        clean = [r.reward.executable == 1.0 and not r.defects for r in rollouts]
        m: dict[str, Any] = {
            "step": self.state.step,
            "lr": float(self.scheduler.get_last_lr()[0]),
            "reward/mean": float(rewards.mean()),
            "reward/std": float(rewards.std()),
            "reward/max": float(rewards.max()),
            "exec_rate": float(exe.mean()),
            "defect_free_rate": float(np.mean(clean)),
            "truncated_rate": float(np.mean([r.truncated for r in rollouts])),
            "tokens/completion_mean": float(np.mean([len(r.completion_ids) for r in rollouts])),
        }
        fid = [r.reward.fidelity for r in rollouts if r.reward.fidelity is not None]
        m["reward/fidelity"] = float(np.mean(fid)) if fid else None
        for kind in DefectKind.ALL:
            m[f"defects/{kind}"] = sum(d.kind == kind for r in rollouts for d in r.defects) / n
        w = np.concatenate(
            [r.token_weights for r in rollouts if r.token_weights is not None] or [np.ones(0)]
        )
        if w.size:
            m["credit/mean_weight"] = float(w.mean())
            m["credit/max_weight"] = float(w.max())
            m["credit/weighted_fraction"] = float((w > 1.0).mean())
        m.update(stats)
        total = sum(timer.totals.values())
        for phase, s in timer.totals.items():
            m[f"time/{phase}"] = round(s, 4)
        m["time/step"] = round(total, 4)
        return m

    def _rollout_rows(self, tasks, rollouts: list[Rollout]) -> list[dict[str, Any]]:
        rows = []
        for r in rollouts:
            rows.append(
                {
                    "step": self.state.step,
                    "task": tasks[r.task_index].id,
                    "completion": r.completion,
                    "reward": r.reward.to_dict(),
                    "advantage": round(r.advantage, 4),
                    "error": r.result.error.summary() if r.result and r.result.error else None,
                    "defects": [d.message for d in r.defects],
                    "feedback": r.feedback,
                    "demonstration": r.demonstration,
                    "blamed_tokens": int((r.token_weights > 1).sum())
                    if r.token_weights is not None
                    else 0,
                }
            )
        return rows

    # -- the job -----------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_signal is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self._stop_signal = signum
        self._say("stopping after this step (a checkpoint will be written); signal again to abort")

    def save(self) -> Path | None:
        if not self.is_main:
            return None
        return save_checkpoint(
            self.out,
            self.state,
            self.unwrapped,
            self.optimizer,
            self.scheduler,
            self.teacher.state_dict() if self.teacher is not None else {},
            self.cfg.to_dict(),
            keep=self.cfg.keep_checkpoints,
        )

    def train(self) -> dict[str, Any]:
        from tqdm.auto import tqdm

        from vsdpo.train.probes import run_probes

        cfg = self.cfg
        handlers = {}
        with contextlib.ExitStack() as stack:
            self._setup(stack)
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not the main thread
                    handlers[sig] = signal.signal(sig, self._on_signal)
            stack.callback(lambda: [signal.signal(s, h) for s, h in handlers.items()])
            if self.is_main and cfg.probes > 0 and not (self.out / "probes" / "before").is_dir():
                self._say(f"rendering {cfg.probes} probe prompts before training")
                run_probes(self, "before")
            bar = tqdm(
                total=cfg.steps,
                initial=self.state.step,
                desc="vsdpo train",
                unit="step",
                disable=not (self.progress and self.is_main),
                dynamic_ncols=True,
            )
            stack.callback(bar.close)
            t_start = time.perf_counter() - self.state.wall_time_s
            last_saved = self.state.step
            while self.state.step < cfg.steps and self._stop_signal is None:
                timer = PhaseTimer()
                tasks = self._batch()
                rollouts = self.rollouts(tasks, timer)
                stats = self.update(rollouts, timer)
                self.state.step += 1
                self.state.data_position += cfg.prompts_per_step * self.accelerator.num_processes
                self.state.wall_time_s = time.perf_counter() - t_start
                metrics = self.step_metrics(rollouts, stats, timer)
                metrics["time/elapsed"] = round(self.state.wall_time_s, 2)
                if self.is_main:
                    self.log.log_step(metrics)
                    if cfg.save_rollouts:
                        self.log.log_rollouts(self._rollout_rows(tasks, rollouts))
                bar.update(1)
                bar.set_postfix(
                    reward=f"{metrics['reward/mean']:.3f}",
                    exec=f"{metrics['exec_rate']:.2f}",
                    loss=f"{metrics.get('loss/total', 0.0):.4f}",
                )
                self._say(
                    f"step {self.state.step}/{cfg.steps}: reward {metrics['reward/mean']:.3f}, "
                    f"exec {metrics['exec_rate']:.0%}, defect-free {metrics['defect_free_rate']:.0%}, "
                    f"loss {metrics.get('loss/total', 0.0):.4f}, KL {metrics.get('kl/teacher', 0.0):.4f}, "
                    f"{metrics['time/step']:.1f}s"
                )
                if self.state.step % cfg.checkpoint_every == 0 or self.state.step == cfg.steps:
                    self.save()
                    last_saved = self.state.step
            if self.state.step != last_saved:
                self.save()  # stopped by a signal between checkpoints
            bar.close()
            finished = self.state.step >= cfg.steps
            summary: dict[str, Any] = {
                "output_dir": str(self.out),
                "steps": self.state.step,
                "finished": finished,
                "wall_time_s": round(self.state.wall_time_s, 1),
            }
            if finished and self.is_main:
                self.export_final()
                if cfg.probes > 0:
                    self._say("rendering the probe prompts after training")
                    run_probes(self, "after")
                if cfg.report != "none":
                    from vsdpo.train.report import write_report

                    paths = write_report(self.out, formats=cfg.report)
                    summary["report"] = [str(p) for p in paths]
                    self._say("report: " + ", ".join(str(p) for p in paths))
            return summary

    def export_final(self) -> Path:
        """The trained model as an ordinary checkpoint (or LoRA adapter) plus tokenizer: ``final/``."""
        import shutil

        final = self.out / "final"
        tmp = self.out / ".tmp-final"
        shutil.rmtree(tmp, ignore_errors=True)
        self.unwrapped.save_pretrained(tmp, safe_serialization=True)
        (self.processor if self.processor is not None else self.tokenizer).save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        return final


def train(config: TrainConfig, **kwargs: Any) -> dict[str, Any]:
    """Run one training job (see :class:`Trainer`)."""
    return Trainer(config, **kwargs).train()
