"""Loss math against hand-computed values, on plain tensors and on a tiny random model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vsdpo.train import losses
from vsdpo.train.teacher import Teacher


def logits_of(probs: list[list[float]]) -> torch.Tensor:
    """Logits [1, T, V] whose softmax is ``probs``."""
    return torch.tensor(probs, dtype=torch.float64).log().unsqueeze(0)


# --- hand-computed values -----------------------------------------------------------------------

S = [[0.5, 0.5], [0.9, 0.1]]
T = [[0.25, 0.75], [0.5, 0.5]]


def kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q))


def test_full_kl_matches_the_definition() -> None:
    got = losses.full_kl(logits_of(S), logits_of(T))[0].tolist()
    assert got == pytest.approx([kl(S[0], T[0]), kl(S[1], T[1])], rel=1e-6)
    # hand value of the first token: 0.5 ln 2 + 0.5 ln(2/3)
    assert got[0] == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_generalized_jsd_matches_the_definition(alpha: float) -> None:
    got = losses.generalized_jsd(logits_of(S), logits_of(T), alpha)[0].tolist()
    for p, q, value in zip(S, T, got):
        if alpha == 0.0:
            want = kl(q, p)  # forward KL(teacher || student)
        elif alpha == 1.0:
            want = kl(p, q)
        else:
            m = [(1 - alpha) * a + alpha * b for a, b in zip(p, q)]
            want = alpha * kl(q, m) + (1 - alpha) * kl(p, m)
        assert value == pytest.approx(want, rel=1e-6)


def test_topk_keeps_the_top_tokens_and_a_tail_bucket() -> None:
    s = [[0.6, 0.3, 0.1]]
    t = [[0.2, 0.5, 0.3]]
    got = losses.topk_kl(logits_of(s), logits_of(t), k=1)[0, 0].item()
    # top-1 of the student is token 0; buckets: {0}, {1, 2}
    want = kl([0.6, 0.4], [0.2, 0.8])
    assert got == pytest.approx(want, rel=1e-5)
    full = losses.full_kl(logits_of(s), logits_of(t))[0, 0].item()
    assert losses.topk_kl(logits_of(s), logits_of(t), k=3)[0, 0].item() == pytest.approx(
        full, abs=1e-5
    )


def test_grpo_clipped_objective_hand_values() -> None:
    logp = torch.tensor([[math.log(1.5), math.log(1.5), math.log(0.5)]])
    old = torch.zeros_like(logp)
    # ratio 1.5 with A = +1 is clipped to 1.2; with A = -1 the unclipped -1.5 is the minimum
    got_pos = losses.grpo_per_token(logp, old, torch.tensor([1.0]))[0].tolist()
    got_neg = losses.grpo_per_token(logp, old, torch.tensor([-1.0]))[0].tolist()
    assert got_pos == pytest.approx([-1.2, -1.2, -0.5])
    assert got_neg == pytest.approx([1.5, 1.5, 0.8])


def test_k3_kl_is_zero_at_the_reference_and_positive_elsewhere() -> None:
    logp = torch.tensor([[-1.0, -2.0]])
    assert losses.k3_kl(logp, logp).abs().max().item() == 0.0
    d = -0.5  # ref - student
    assert losses.k3_kl(logp, logp + d)[0, 0].item() == pytest.approx(math.exp(d) - d - 1)


def test_importance_weights_are_capped_and_detached() -> None:
    logp = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    w = losses.importance_weights(logp, torch.zeros(1, 2), clip=2.0)
    assert w[0].tolist() == pytest.approx([1.0, 2.0])
    assert not w.requires_grad
    assert losses.importance_weights(logp, torch.zeros(1, 2), None).tolist() == [[1.0, 1.0]]


def test_weighted_mean_and_bad_arguments() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert losses.weighted_mean(x, torch.tensor([[1.0, 0.0, 1.0]])).item() == pytest.approx(2.0)
    assert losses.weighted_mean(x, torch.ones(1, 3), normaliser=6.0).item() == pytest.approx(1.0)
    assert losses.weighted_mean(x, torch.zeros(1, 3)).item() == 0.0
    with pytest.raises(ValueError, match="alpha"):
        losses.generalized_jsd(logits_of(S), logits_of(T), 1.5)
    with pytest.raises(ValueError, match="k must be"):
        losses.topk_kl(logits_of(S), logits_of(T), 0)
    with pytest.raises(ValueError, match="unknown distillation mode"):
        losses.distillation_per_token("nope", logits_of(S), logits_of(T), None, None)


# --- on a tiny random model ---------------------------------------------------------------------

MODES = [("sampled_token", 1.0), ("full", 1.0), ("topk", 1.0), ("jsd", 0.5), ("jsd", 0.0)]


@pytest.fixture()
def tiny():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).double()
    ids = torch.randint(0, 40, (3, 12))
    return model, ids


def _completion_logits(model, ids, prompt_len):
    out = model(input_ids=ids).logits[:, prompt_len - 1 : -1]
    return out, ids[:, prompt_len:]


def _loss(mode, alpha, student_logits, teacher_logits, tokens, weights, k=5):
    s_lp = losses.token_logprobs(student_logits, tokens)
    t_lp = losses.token_logprobs(teacher_logits, tokens)
    per = losses.distillation_per_token(
        mode, student_logits, teacher_logits, s_lp, t_lp, topk=k, alpha=alpha
    )
    return losses.weighted_mean(per, weights), per


@pytest.mark.parametrize("mode,alpha", MODES)
def test_identical_teacher_gives_zero_loss_and_zero_gradient(tiny, mode: str, alpha: float) -> None:
    model, ids = tiny
    teacher = Teacher("live", model)
    with teacher.weights() as tm:
        t_logits, _ = _completion_logits(tm, ids, 4)
    s_logits, tokens = _completion_logits(model, ids, 4)
    loss, _ = _loss(
        mode, alpha, s_logits, t_logits, tokens, torch.ones(tokens.shape, dtype=torch.float64)
    )
    loss.backward()
    # exactly zero in exact arithmetic; the losses compute in float32, which leaves ~1e-9
    assert abs(loss.item()) < 1e-6
    grads = [p.grad.abs().max().item() for p in model.parameters() if p.grad is not None]
    assert max(grads) < 1e-6  # a real KL gives gradients of ~1e-2 here


@pytest.mark.parametrize("mode,alpha", MODES)
def test_lambda_zero_is_uniform_weighting(tiny, mode: str, alpha: float) -> None:
    from vsdpo.artifact import Defect, RenderResult
    from vsdpo.credit import token_credit

    model, ids = tiny
    s_logits, tokens = _completion_logits(model, ids, 4)
    with torch.no_grad():
        t_logits, _ = _completion_logits(model, torch.roll(ids, 1, dims=1), 4)
    # a blamed line, with lambda = 0: the kernel's weights must be exactly uniform
    code = "a = 1\nb = 2\n"
    result = RenderResult(ok=True, domain="chart", code=code, code_offset=0)
    offsets = np.array([[i, i + 1] for i in range(tokens.shape[1])])
    w = token_credit(
        [offsets] * 3, [result] * 3, [[Defect("overlap", 0.9, "m", lines=[2])]] * 3, 0.0
    )
    weights = torch.from_numpy(np.stack(w)).double()
    assert torch.equal(weights, torch.ones_like(weights))
    got, per = _loss(mode, alpha, s_logits, t_logits, tokens, weights)
    assert got.item() == pytest.approx(per.mean().item(), rel=1e-6)
    assert got.item() != 0.0


@pytest.mark.parametrize("mode,alpha", MODES)
def test_weights_zero_outside_a_span_equal_the_span_only_loss(
    tiny, mode: str, alpha: float
) -> None:
    model, ids = tiny
    s_logits, tokens = _completion_logits(model, ids, 4)
    with torch.no_grad():
        t_logits, _ = _completion_logits(model, torch.roll(ids, 1, dims=1), 4)
    weights = torch.zeros(tokens.shape, dtype=torch.float64)
    weights[:, 2:5] = 1.0
    got, _ = _loss(mode, alpha, s_logits, t_logits, tokens, weights)
    span_only, _ = _loss(
        mode,
        alpha,
        s_logits[:, 2:5],
        t_logits[:, 2:5],
        tokens[:, 2:5],
        torch.ones((3, 3), dtype=torch.float64),
    )
    assert got.item() == pytest.approx(span_only.item(), rel=1e-6)
    # and the gradient is the span-only gradient
    g1 = torch.autograd.grad(got, s_logits, retain_graph=True)[0]
    assert g1[:, :2].abs().max().item() == 0.0 and g1[:, 5:].abs().max().item() == 0.0


def test_the_teacher_gets_no_gradient(tiny) -> None:
    """Live teacher, different context: the gradient equals the one against a frozen copy."""
    import copy

    model, ids = tiny
    frozen = copy.deepcopy(model)
    teacher_ids = torch.roll(ids, 2, dims=1)
    teacher_ids[:, 4:] = ids[:, 4:]  # same completion, different prompt
    weights = torch.ones((3, 8), dtype=torch.float64)

    grads = []
    for source in ("live", "frozen"):
        model.zero_grad()
        if source == "live":
            with Teacher("live", model).weights() as tm:
                t_logits, _ = _completion_logits(tm, teacher_ids, 4)
        else:
            with torch.no_grad():
                t_logits, _ = _completion_logits(frozen, teacher_ids, 4)
        assert not t_logits.requires_grad
        s_logits, tokens = _completion_logits(model, ids, 4)
        loss, _ = _loss("full", 1.0, s_logits, t_logits, tokens, weights)
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_live_teacher_shares_the_students_tensors(tiny) -> None:
    model, _ = tiny
    before = {n: p.data_ptr() for n, p in model.named_parameters()}
    teacher = Teacher("live", model)
    assert teacher.shadow is None  # no copy in memory
    with teacher.weights() as tm:
        assert tm is model
        assert {n: p.data_ptr() for n, p in tm.named_parameters()} == before


def test_ema_teacher_swaps_its_shadow_in_and_out(tiny) -> None:
    model, ids = tiny
    teacher = Teacher("ema", model, ema_decay=0.5)
    ptrs = {n: p.data_ptr() for n, p in model.named_parameters()}
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # an "optimizer step"
    teacher.after_optimizer_step()  # shadow = 0.5 * start + 0.5 * (start + 1)
    with teacher.weights() as tm:
        for n, p in tm.named_parameters():
            assert torch.allclose(p, start[n] + 0.5)
            assert not torch.is_grad_enabled()
    for n, p in model.named_parameters():  # swapped back: the student's own tensors again
        assert p.data_ptr() == ptrs[n]
        assert torch.allclose(p, start[n] + 1.0)


def test_base_teacher_keeps_the_initial_weights(tiny) -> None:
    model, ids = tiny
    teacher = Teacher("base", model)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    with teacher.weights() as tm:
        assert all(torch.equal(p, start[n]) for n, p in tm.named_parameters())
    assert all(torch.equal(p, 2 * start[n]) for n, p in model.named_parameters())
