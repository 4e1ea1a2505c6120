"""The two loss terms of Visual-SDPO, on tensors only (no models, no tokenizers).

Shapes: ``B`` rollouts, ``T`` completion positions, ``V`` vocabulary. ``mask`` f32[B, T] is 1 on
real completion tokens and 0 on padding; ``weights`` f32[B, T] are the per-token credit weights
(1 + lambda * severity of the defects blamed on the token's line). Every function returns
per-token terms; :func:`weighted_mean` does the reduction, with a normaliser that can cover the
whole batch when it is processed in micro-batches.

Distillation divergences ``D(student || teacher)`` (the teacher is always detached here):

* ``sampled_token`` -- the reverse KL estimated on the sampled token. Its gradient is the
  score-function (REINFORCE) form with per-token reward ``log pi_teacher - log pi_student``;
  the *value* of the surrogate is not a KL, so :func:`sampled_token_kl` gives the honest
  estimate for logging.
* ``full`` -- reverse KL over the whole vocabulary.
* ``topk`` -- reverse KL over the student's top-k tokens plus one tail bucket holding the rest
  of each distribution's mass (cheap, and exact when k covers the support).
* ``jsd`` -- the generalised Jensen-Shannon divergence with interpolation ``alpha``:
  ``alpha = 0`` is forward KL(teacher || student), ``alpha = 1`` reverse KL(student || teacher),
  in between ``alpha KL(t || m) + (1 - alpha) KL(s || m)`` with ``m = (1 - alpha) s + alpha t``
  (the convention of TRL's GKD trainer).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vsdpo.train.config import DISTILL_MODES  # noqa: F401 - re-exported


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log pi(tokens) f32[B, T] from logits f32[B, T, V], without materialising log_softmax twice."""
    logits = logits.float()
    picked = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def weighted_mean(
    per_token: torch.Tensor, weights: torch.Tensor, normaliser: float | torch.Tensor | None = None
) -> torch.Tensor:
    """sum(w * x) / normaliser (default sum(w)); zero when there is nothing to average."""
    total = (per_token * weights).sum()
    denom = weights.sum() if normaliser is None else normaliser
    if isinstance(denom, torch.Tensor):
        return total / denom.clamp_min(1e-8)
    return total / max(float(denom), 1e-8)


def _reverse_kl(student_logp: torch.Tensor, teacher_logp: torch.Tensor) -> torch.Tensor:
    return (student_logp.exp() * (student_logp - teacher_logp)).sum(-1)


def _forward_kl(student_logp: torch.Tensor, teacher_logp: torch.Tensor) -> torch.Tensor:
    return (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1)


def full_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(student || teacher) over the whole vocabulary, per token f32[B, T]."""
    s = F.log_softmax(student_logits.float(), dim=-1)
    t = F.log_softmax(teacher_logits.detach().float(), dim=-1)
    return _reverse_kl(s, t)


def _with_tail(logp_topk: torch.Tensor) -> torch.Tensor:
    """Append log(1 - sum p_topk): the bucket of everything outside the top k."""
    mass = logp_topk.exp().sum(-1, keepdim=True).clamp(max=1.0 - 1e-6)
    return torch.cat([logp_topk, torch.log1p(-mass)], dim=-1)


def topk_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, k: int) -> torch.Tensor:
    """KL(student || teacher) over the student's top-k tokens plus a tail bucket, per token."""
    if k < 1:
        raise ValueError(f"topk: k must be >= 1, got {k}")
    s_all = F.log_softmax(student_logits.float(), dim=-1)
    t_all = F.log_softmax(teacher_logits.detach().float(), dim=-1)
    k = min(k, s_all.shape[-1])
    idx = s_all.detach().topk(k, dim=-1).indices
    s = _with_tail(s_all.gather(-1, idx))
    t = _with_tail(t_all.gather(-1, idx))
    return _reverse_kl(s, t)


def generalized_jsd(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Generalised JSD between student and teacher, per token (see the module docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"jsd: alpha must be in [0, 1], got {alpha}")
    s = F.log_softmax(student_logits.float(), dim=-1)
    t = F.log_softmax(teacher_logits.detach().float(), dim=-1)
    if alpha == 0.0:
        return _forward_kl(s, t)
    if alpha == 1.0:
        return _reverse_kl(s, t)
    m = torch.logsumexp(torch.stack([s + math.log(1.0 - alpha), t + math.log(alpha)]), dim=0)
    kl_t = (t.exp() * (t - m)).sum(-1)
    kl_s = (s.exp() * (s - m)).sum(-1)
    return alpha * kl_t + (1.0 - alpha) * kl_s


def sampled_token_surrogate(student_logp: torch.Tensor, teacher_logp: torch.Tensor) -> torch.Tensor:
    """Per-token surrogate whose gradient is that of KL(student || teacher) on sampled tokens.

    ``(log s - log t).detach() * log s``: zero, with zero gradient, when teacher == student."""
    return (student_logp - teacher_logp.detach()).detach() * student_logp


def sampled_token_kl(student_logp: torch.Tensor, teacher_logp: torch.Tensor) -> torch.Tensor:
    """The k1 estimate of KL(student || teacher) per token (for logging; no gradient)."""
    return (student_logp - teacher_logp).detach()


def importance_weights(
    student_logp: torch.Tensor, old_logp: torch.Tensor, clip: float | None
) -> torch.Tensor:
    """Detached pi_theta / pi_old per token, capped at ``clip`` (None: no correction).

    The rollouts were sampled by pi_old; when several updates reuse them, the on-policy
    distillation terms are re-weighted by this ratio, capped so one stale token cannot dominate."""
    if clip is None:
        return torch.ones_like(student_logp)
    return (student_logp - old_logp).detach().exp().clamp(max=clip)


def grpo_per_token(
    student_logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
) -> torch.Tensor:
    """The clipped-ratio policy-gradient loss per token, -min(r A, clip(r) A); A is per rollout [B]."""
    ratio = (student_logp - old_logp.detach()).exp()
    adv = advantages.unsqueeze(-1)
    clipped = ratio.clamp(1.0 - epsilon_low, 1.0 + epsilon_high)
    return -torch.minimum(ratio * adv, clipped * adv)


def k3_kl(student_logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(student || reference) per token (non-negative, unbiased)."""
    d = ref_logp.detach() - student_logp
    return d.exp() - d - 1.0


def distillation_per_token(
    mode: str,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    student_logp: torch.Tensor,
    teacher_logp: torch.Tensor,
    *,
    topk: int = 20,
    alpha: float = 1.0,
) -> torch.Tensor:
    """The per-token distillation term of ``mode`` (one of :data:`DISTILL_MODES`)."""
    if mode == "sampled_token":
        return sampled_token_surrogate(student_logp, teacher_logp)
    if teacher_logits is None:
        raise ValueError(f"distillation mode {mode!r} needs the teacher's logits")
    if mode == "full":
        return full_kl(student_logits, teacher_logits)
    if mode == "topk":
        return topk_kl(student_logits, teacher_logits, topk)
    if mode == "jsd":
        return generalized_jsd(student_logits, teacher_logits, alpha)
    raise ValueError(
        f"unknown distillation mode {mode!r}; choose one of {', '.join(DISTILL_MODES)}"
    )
