"""Visual-grounded credit: defects -> code lines -> completion characters -> token weights.

Each defect blames code lines; :class:`~vsdpo.code.ExtractedCode` turns those lines into
character spans of the *completion* (the code's offset inside the completion is kept), and the
Rust kernel ``token_weights_batch`` turns spans into per-token weights for a whole group at once:
``w_t = 1 + lambda * sum of the severities of the defects whose spans token t touches``.
``lambda = 0`` gives uniform credit (the SDPO ablation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vsdpo import kernels
from vsdpo.artifact import Defect, RenderResult
from vsdpo.code import ExtractedCode


def completion_token_offsets(tokenizer, token_ids: Sequence[int]) -> tuple[str, np.ndarray]:
    """The completion text of ``token_ids`` and each token's character span in it, i64[T, 2].

    Works for any tokenizer by decoding every prefix (one batched call into the fast tokenizer):
    token ``k`` covers ``[len(decode(ids[:k])), len(decode(ids[:k+1])))``. A token that ends in
    the middle of a multi-byte character decodes to a replacement character; it is given the
    span of the character it helps complete, so every byte-level piece of a blamed character
    gets the credit. Special tokens (end of turn) decode to nothing and get an empty span.
    """
    ids = [int(t) for t in token_ids]
    if not ids:
        return "", np.zeros((0, 2), dtype=np.int64)
    prefixes = tokenizer.batch_decode(
        [ids[: k + 1] for k in range(len(ids))],
        skip_special_tokens=True,
        clean_up_tokenization_spaces=False,
    )
    text = prefixes[-1]
    ends = np.empty(len(ids), dtype=np.int64)
    # walk backwards: an incomplete prefix (trailing U+FFFD) ends where the next complete one does
    nxt = len(text)
    for k in range(len(ids) - 1, -1, -1):
        p = prefixes[k]
        if not p.endswith("\ufffd") or k == len(ids) - 1:
            nxt = min(len(p), nxt)
        ends[k] = nxt
    starts = np.empty_like(ends)
    prev = 0
    for k in range(len(ids)):
        p = prefixes[k]
        starts[k] = min(prev, ends[k])
        if not p.endswith("\ufffd"):
            prev = len(p)
    return text, np.stack([starts, ends], axis=1)


def defect_spans(
    result: RenderResult, defects: Sequence[Defect], lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Completion character spans i64[S, 2] of every blamed line, and their weights f32[S].

    A defect blamed on several lines adds ``lam * severity`` on each of them; a line blamed by
    several defects is listed once per defect (the kernel sums overlapping spans)."""
    code = ExtractedCode(result.code, result.code_offset, fenced=False)
    spans: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for d in defects:
        s = code.spans_for_lines(d.lines)
        if len(s):
            spans.append(s)
            weights.append(np.full(len(s), lam * d.severity, dtype=np.float32))
    if not spans:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(spans), np.concatenate(weights)


def token_credit(
    token_offsets: Sequence[np.ndarray],
    results: Sequence[RenderResult],
    defects: Sequence[Sequence[Defect]],
    lam: float,
) -> list[np.ndarray]:
    """Per-token weights f32[T_b] of each rollout of a group, in one kernel call."""
    if not (len(token_offsets) == len(results) == len(defects)):
        raise ValueError(
            "token_credit: token_offsets, results and defects must have one entry per rollout"
        )
    per = [defect_spans(r, d, lam) for r, d in zip(results, defects)]
    tsplit = np.zeros(len(results) + 1, dtype=np.int64)
    tsplit[1:] = np.cumsum([len(o) for o in token_offsets])
    ssplit = np.zeros(len(results) + 1, dtype=np.int64)
    ssplit[1:] = np.cumsum([len(s) for s, _ in per])
    offsets = (
        np.concatenate([np.asarray(o, dtype=np.int64).reshape(-1, 2) for o in token_offsets])
        if len(token_offsets)
        else np.zeros((0, 2), dtype=np.int64)
    )
    spans = np.concatenate([s for s, _ in per]) if per else np.zeros((0, 2), dtype=np.int64)
    weights = np.concatenate([w for _, w in per]) if per else np.zeros(0, dtype=np.float32)
    flat = kernels.token_weights_batch(offsets, tsplit, spans, weights, ssplit)
    return [flat[tsplit[b] : tsplit[b + 1]] for b in range(len(results))]
