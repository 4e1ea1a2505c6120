"""The training configuration: one dataclass, settable from a YAML file and from CLI flags.

Precedence, lowest first: field defaults < the preset's values < the YAML file < CLI flags. A
preset only fills the fields the user did not set, so ``--preset sdpo --beta 0.1`` means "SDPO
plus a little GRPO".
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsdpo.feedback import FeedbackTemplates

TEACHER_MODES = ("live", "ema", "base")
DISTILL_MODES = ("sampled_token", "full", "topk", "jsd")

#: what each preset sets (only where the user set nothing)
PRESETS: dict[str, dict[str, Any]] = {
    # the reward-only baseline: no teacher at all
    "grpo": {"sd_weight": 0.0, "beta": 1.0, "credit_lambda": 0.0},
    # self-distillation with uniform credit and no GRPO term (the "uniform credit" ablation)
    "sdpo": {"sd_weight": 1.0, "beta": 0.0, "credit_lambda": 0.0},
    # the method: credit-weighted distillation plus GRPO
    "vsdpo": {"sd_weight": 1.0, "beta": 0.5, "credit_lambda": 1.0},
}


def _opt(help: str, **kw: Any) -> Any:
    return field(metadata={"help": help}, **kw)


@dataclass
class TrainConfig:
    # --- what to train, on what
    model: str | None = _opt(
        "Hugging Face model id (from the local cache) or path; default: the embedded "
        "SmolLM2-135M-Instruct ('smollm2')",
        default=None,
    )
    tasks: str = _opt(
        "task suite (builtin:chart, builtin:web, builtin:slides), a tasks .jsonl file, or a "
        "ChartMimic/Design2Code-layout directory",
        default="builtin:chart",
    )
    split: str = _opt("which split of the suite to train on", default="train")
    output_dir: str = _opt("where checkpoints, logs and the report go", default="runs/train")
    preset: str = _opt("grpo | sdpo | vsdpo: fills sd_weight, beta, credit_lambda", default="vsdpo")
    # --- budget and sampling
    steps: int = _opt("optimizer steps (each on a fresh batch of rollouts)", default=6)
    prompts_per_step: int = _opt("prompts per step", default=2)
    group_size: int = _opt("completions sampled per prompt (G)", default=4)
    max_new_tokens: int = _opt("longest completion, in tokens", default=256)
    max_prompt_tokens: int = _opt("prompts are left-truncated to this many tokens", default=768)
    temperature: float = _opt("sampling temperature", default=0.8)
    top_p: float = _opt("nucleus sampling", default=0.95)
    top_k: int = _opt("top-k sampling (0: off)", default=0)
    # --- optimisation
    learning_rate: float = _opt("AdamW learning rate", default=2e-5)
    weight_decay: float = _opt("AdamW weight decay", default=0.0)
    lr_scheduler: str = _opt("constant | linear | cosine (after warm-up)", default="constant")
    warmup_steps: int = _opt("linear warm-up steps", default=0)
    max_grad_norm: float = _opt("gradient clipping (0: off)", default=1.0)
    micro_batch: int = _opt("rollouts per forward/backward pass (memory knob)", default=4)
    iterations: int = _opt(
        "optimizer updates on each batch of rollouts; >1 makes the ratios non-trivial", default=1
    )
    # --- the loss
    sd_weight: float = _opt("weight of the self-distillation term (0: no teacher)", default=1.0)
    beta: float = _opt("weight of the GRPO term", default=0.5)
    credit_lambda: float = _opt(
        "credit weight per unit of defect severity on blamed tokens (0: uniform credit)",
        default=1.0,
    )
    distill: str = _opt("divergence: sampled_token | full | topk | jsd", default="topk")
    distill_topk: int = _opt("k of the topk divergence", default=20)
    jsd_alpha: float = _opt(
        "interpolation of the jsd divergence (0 forward KL, 1 reverse)", default=0.5
    )
    is_clip: float | None = _opt(
        "cap on the importance ratio of the distillation term ('none': off)", default=2.0
    )
    epsilon_low: float = _opt("GRPO ratio clip below 1", default=0.2)
    epsilon_high: float = _opt("GRPO ratio clip above 1", default=0.2)
    kl_coef: float = _opt("weight of a KL penalty to the initial weights (0: off)", default=0.0)
    scale_advantages: bool = _opt("divide group advantages by their std", default=True)
    # --- the teacher and its feedback
    teacher: str = _opt(
        "live (the student's own weights) | ema (an EMA of them) | base (the initial weights)",
        default="live",
    )
    ema_decay: float = _opt("decay of the ema teacher", default=0.95)
    demonstrations: bool = _opt(
        "show the teacher a successful sibling's program when the group has one", default=True
    )
    demo_min_reward: float = _opt("reward a sibling needs to serve as a demonstration", default=0.8)
    fidelity_weight: float = _opt("share of the reward given to fidelity to the task", default=0.5)
    feedback: FeedbackTemplates = _opt(
        "feedback templates (YAML only: a mapping with keys defects, error, clean, "
        "demonstration, teacher, max_defects, traceback_lines, max_chars)",
        default_factory=FeedbackTemplates,
    )
    # --- model handling
    lora: str = _opt("auto (LoRA above ~1B parameters) | on | off", default="auto")
    lora_r: int = _opt("LoRA rank", default=16)
    lora_alpha: int = _opt("LoRA alpha", default=32)
    dtype: str = _opt(
        "auto (bf16 autocast for the loss passes where the device computes bf16 natively) "
        "| float32 | bfloat16 | float16",
        default="auto",
    )
    gradient_checkpointing: bool = _opt("trade compute for memory", default=False)
    # --- rendering
    render_workers: int = _opt("sandbox workers rendering rollouts in parallel", default=2)
    # --- bookkeeping
    seed: int = _opt("seed for data order, sampling and initialisation", default=0)
    checkpoint_every: int = _opt("save a checkpoint every N steps (and at the end)", default=2)
    keep_checkpoints: int = _opt("how many recent checkpoints to keep", default=2)
    resume: bool = _opt("continue from the latest checkpoint in output_dir", default=False)
    tensorboard: bool = _opt("write TensorBoard scalars", default=True)
    report: str = _opt("md | html | both | none: the report written at the end", default="both")
    probes: int = _opt("fixed probe prompts rendered before and after training", default=3)
    save_rollouts: bool = _opt(
        "log every rollout (completion, reward, defects) as JSONL", default=True
    )

    def __post_init__(self) -> None:
        if isinstance(self.feedback, dict):
            self.feedback = FeedbackTemplates(**self.feedback)
        self.validate()

    def validate(self) -> None:
        def bad(name: str, why: str) -> typing.NoReturn:
            raise ValueError(f"config: {name} {why}")

        if self.preset not in PRESETS:
            bad("preset", f"must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.distill not in DISTILL_MODES:
            bad("distill", f"must be one of {', '.join(DISTILL_MODES)}, got {self.distill!r}")
        if self.teacher not in TEACHER_MODES:
            bad("teacher", f"must be one of {', '.join(TEACHER_MODES)}, got {self.teacher!r}")
        if self.lora not in ("auto", "on", "off"):
            bad("lora", f"must be auto, on or off, got {self.lora!r}")
        if self.report not in ("md", "html", "both", "none"):
            bad("report", f"must be md, html, both or none, got {self.report!r}")
        if self.lr_scheduler not in ("constant", "linear", "cosine"):
            bad("lr_scheduler", f"must be constant, linear or cosine, got {self.lr_scheduler!r}")
        for name in (
            "steps",
            "prompts_per_step",
            "group_size",
            "max_new_tokens",
            "micro_batch",
            "iterations",
            "checkpoint_every",
            "keep_checkpoints",
            "render_workers",
        ):
            if getattr(self, name) < 1:
                bad(name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("sd_weight", "beta", "credit_lambda", "kl_coef", "learning_rate"):
            if getattr(self, name) < 0:
                bad(name, f"must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.jsd_alpha <= 1.0:
            bad("jsd_alpha", f"must be in [0, 1], got {self.jsd_alpha}")
        if not 0.0 <= self.ema_decay < 1.0:
            bad("ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        if self.is_clip is not None and self.is_clip <= 0:
            bad("is_clip", f"must be > 0 or none, got {self.is_clip}")
        if self.sd_weight == 0 and self.beta == 0:
            bad("sd_weight/beta", "are both 0: nothing would be trained")

    @property
    def uses_teacher(self) -> bool:
        return self.sd_weight > 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save_yaml(self, path: Path) -> None:
        import yaml

        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
CHOICES = {
    "preset": tuple(PRESETS),
    "distill": DISTILL_MODES,
    "teacher": TEACHER_MODES,
    "lora": ("auto", "on", "off"),
    "report": ("md", "html", "both", "none"),
    "lr_scheduler": ("constant", "linear", "cosine"),
    "dtype": ("auto", "float32", "bfloat16", "float16"),
}


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(the scalar type, whether None is allowed) of a field annotation like ``float | None``."""
    hint = (
        typing.get_type_hints(TrainConfig)[annotation]
        if isinstance(annotation, str)
        else annotation
    )
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return inner[0], len(inner) < len(args)
    return hint, False


def _parse_optional(kind: type):
    def parse(text: str):
        return None if text.lower() in ("none", "null", "off") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per config field (dashes for underscores), documented from the field."""
    parser.add_argument("--config", metavar="YAML", help="read options from a YAML file first")
    hints = typing.get_type_hints(TrainConfig)
    for name, f in FIELDS.items():
        if name == "feedback":
            continue  # nested: YAML only
        kind, optional = _base_type(hints[name])
        flag = "--" + name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        if kind is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parse = _parse_optional(kind) if optional else kind
            parser.add_argument(
                flag,
                type=parse,
                default=argparse.SUPPRESS,
                help=help_text,
                choices=CHOICES.get(name),
                metavar=None if name in CHOICES else name.upper(),
            )


def from_sources(
    yaml_path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainConfig:
    """The config from a YAML file and explicit overrides, with the preset filling the rest."""
    explicit: dict[str, Any] = {}
    if yaml_path:
        import yaml

        p = Path(yaml_path)
        if not p.is_file():
            raise ValueError(f"config: no such YAML file: {p}")
        loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config: {p} must hold a mapping of option: value")
        explicit.update(loaded)
    explicit.update(overrides or {})
    unknown = sorted(set(explicit) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"config: unknown option(s) {', '.join(unknown)}; see `vsdpo train --help`"
        )
    preset = explicit.get("preset", FIELDS["preset"].default)
    if preset not in PRESETS:
        raise ValueError(f"config: preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    values = {k: v for k, v in PRESETS[preset].items() if k not in explicit}
    values.update(explicit)
    return TrainConfig(**values)


def from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {k: v for k, v in vars(args).items() if k in FIELDS}
    return from_sources(getattr(args, "config", None), overrides)
