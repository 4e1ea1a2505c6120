"""Design2Code-style low-level scores of a candidate page against the reference (metrics.md 2).

**Blocks** (2.3). Design2Code finds text blocks by re-rendering each page twice with every
"pool" tag (``p``, ``h1``-``h6``, ``div``, ``span``, ``a``, ``b``, ``li``, ``table``, ``td``,
``th``, ``button``, ``footer``, ``header``, ``figcaption``) painted in a unique colour: a block is
the set of glyph pixels of one pool tag's text (its own text nodes and those of non-pool
descendants such as ``strong`` or ``em``). vsdpo reads the same grouping from the web renderer's
text runs, without the extra renders: each run carries its block (the nearest pool tag; none when
a nearer element sets an inline ``color``, or for text directly in ``body``) and its text node's
raw text (``meta["d2c"]``, ``meta["raw"]``, :mod:`vsdpo.render.web`). A block is then

* its box: the union of its visible line boxes, in whole pixels, normalised by the page's own
  width and height (Design2Code's box is the glyph pixels' box, a little tighter vertically);
* its text: the raw text of each of its nodes, stripped and lower-cased, joined with spaces in
  document order (the original's merge of items with the same box);
* its colour: the text colour as painted (CSS colour composited with its opacity over the
  background), averaged over the block's lines by area and truncated to integers.

Blocks with identical boxes are merged, in document order of their first text.

**Matching and scores** (2.4, 2.5) are the original's, step by step: cost ``-ratio`` (difflib),
the context bonus, ``linear_sum_assignment``, the greedy merge search of adjacent blocks on both
sides with ``diffmean``, the final assignment with bonus 0.1 / window 1, the 0.5 text filter, and
Block-Match, Text, Position and Color over the filtered pairs.

**CLIP** (2.5) needs the ViT-B/32 weights: :func:`find_local_clip` looks for them in the local
Hugging Face cache only (never downloads); without them the score is None and a note says so.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.artifact import RenderResult
from vsdpo.metrics.common import color_similarity, sequence_ratio

CLIP_SKIPPED = "CLIP visual score skipped: no local CLIP model"
#: the Hugging Face ids that hold OpenAI's CLIP ViT-B/32 (the benchmark's model)
CLIP_MODEL_IDS = ("openai/clip-vit-base-patch32",)


@dataclass
class Block:
    """A text block: ``bbox = (x, y, w, h)`` normalised by its own page's width and height."""

    text: str
    bbox: tuple[float, float, float, float]
    color: tuple[float, float, float]

    @property
    def area(self) -> float:
        return self.bbox[2] * self.bbox[3]

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.bbox
        return (x + w / 2, y + h / 2)


@dataclass
class Design2CodeScores:
    """The five Design2Code scores of one page (each in [0, 1]; ``clip`` None when skipped)."""

    block_match: float = 0.0
    text: float = 0.0
    position: float = 0.0
    color: float = 0.0
    clip: float | None = None
    matched: list[tuple[int, int, float]] = field(default_factory=list)  # (cand, ref, ratio)
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> float | None:
        """``0.2 * (Block + Text + Position + Color + CLIP)``; None without a CLIP score."""
        if self.clip is None:
            return None
        return 0.2 * (self.block_match + self.text + self.position + self.color + self.clip)

    @property
    def low_level(self) -> float:
        """Mean of the four low-level scores (what can be compared without CLIP)."""
        return (self.block_match + self.text + self.position + self.color) / 4

    def as_dict(self) -> dict[str, Any]:
        return {
            "final": self.final,
            "block_match": self.block_match,
            "text": self.text,
            "position": self.position,
            "color": self.color,
            "clip": self.clip,
            "low_level": self.low_level,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------- blocks


def _painted(color: Sequence[int], alpha: float, background: Sequence[int] | None) -> np.ndarray:
    under = np.asarray(background if background is not None else (255, 255, 255), float)
    a = min(1.0, max(0.0, float(alpha)))
    return a * np.asarray(color, float) + (1 - a) * under


def page_blocks(result: RenderResult) -> list[Block]:
    """The text blocks of a rendered page (module docstring), merged by identical box."""
    if not result.ok or result.canvas[0] <= 0 or result.canvas[1] <= 0:
        return []
    width, height = result.canvas
    groups: dict[int, dict[str, Any]] = {}
    for e in result.elements:
        d2c = e.meta.get("d2c")
        if e.kind != "text" or not d2c or d2c[0] < 0:
            continue
        x0, y0 = max(0.0, e.bbox[0]), max(0.0, e.bbox[1])
        x1, y1 = min(float(width), e.bbox[2]), min(float(height), e.bbox[3])
        if x1 <= x0 or y1 <= y0:
            continue  # no pixel on the page
        block, order = int(d2c[0]), int(d2c[1])
        g = groups.setdefault(block, {"boxes": [], "colors": [], "areas": [], "texts": {}})
        g["boxes"].append((x0, y0, x1, y1))
        g["areas"].append((x1 - x0) * (y1 - y0))
        g["colors"].append(_painted(e.color or (0, 0, 0), e.meta.get("alpha", 1.0), e.background))
        raw = e.meta.get("raw")
        if raw is not None and raw.strip():
            g["texts"][order] = raw.strip().lower()
    items = []
    for g in groups.values():
        if not g["texts"]:
            continue  # only continuation lines of texts whose first line is hidden
        boxes = np.asarray(g["boxes"])
        c0, r0 = int(math.floor(boxes[:, 0].min())), int(math.floor(boxes[:, 1].min()))
        c1, r1 = int(math.ceil(boxes[:, 2].max())) - 1, int(math.ceil(boxes[:, 3].max())) - 1
        bbox = (c0 / width, r0 / height, (c1 - c0 + 1) / width, (r1 - r0 + 1) / height)
        weights = np.asarray(g["areas"])
        color = (np.asarray(g["colors"]) * weights[:, None]).sum(0) / weights.sum()
        first = min(g["texts"])
        text = " ".join(g["texts"][k] for k in sorted(g["texts"]))
        items.append((first, Block(text, bbox, tuple(int(v) for v in color))))
    items.sort(key=lambda t: t[0])
    return merge_blocks_by_bbox([b for _, b in items])


def merge_blocks_by_bbox(blocks: Sequence[Block]) -> list[Block]:
    """Blocks with identical boxes become one: texts joined with a space, colours averaged
    pairwise as floats (2.3.7)."""
    merged: dict[tuple[float, ...], Block] = {}
    for b in blocks:
        key = tuple(b.bbox)
        if key in merged:
            m = merged[key]
            m.text += " " + b.text
            m.color = tuple((x + y) / 2 for x, y in zip(m.color, b.color))
        else:
            merged[key] = Block(b.text, b.bbox, b.color)
    return list(merged.values())


# ---------------------------------------------------------------------------- matching


class _Ratios:
    """``sequence_ratio`` with a cache: the merge search asks for the same pairs many times."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], float] = {}

    def __call__(self, a: str, b: str) -> float:
        key = (a, b)
        if key not in self.cache:
            self.cache[key] = sequence_ratio(a, b)
        return self.cache[key]


def cost_matrix(a: Sequence[Block], b: Sequence[Block], ratio: Any = sequence_ratio) -> np.ndarray:
    """``C[i, j] = -ratio(a_i.text, b_j.text)``."""
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i, j] = -ratio(x.text, y.text)
    return out


def adjust_cost_for_context(cost: np.ndarray, bonus: float, window: int) -> np.ndarray:
    """The context bonus (2.4): a cell below -0.5 gets ``bonus`` times the sum of the ``2*window``
    most negative entries of its window of the unadjusted matrix (itself removed once)."""
    if window <= 0:
        return cost
    n, m = cost.shape
    out = np.copy(cost)
    for i in range(n):
        for j in range(m):
            if out[i, j] >= -0.5:
                continue
            near = cost[max(0, i - window) : i + window + 1, max(0, j - window) : j + window + 1]
            ordered = np.sort(near.ravel())[::-1]
            ordered = np.delete(ordered, np.where(ordered == cost[i, j])[0][0])
            out[i, j] += bonus * np.sum(ordered[-window * 2 :])
    return out


def find_maximum_matching(
    a: Sequence[Block], b: Sequence[Block], bonus: float, window: int, ratio: Any = sequence_ratio
) -> tuple[list[tuple[int, int]], list[float]]:
    """The assignment on the adjusted cost matrix and the list of its matched costs."""
    from scipy.optimize import linear_sum_assignment

    cost = adjust_cost_for_context(cost_matrix(a, b, ratio), bonus, window)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols)], cost[rows, cols].tolist()


def difference_of_means(x: Sequence[float], y: Sequence[float]) -> float:
    """Design2Code's ``diffmean`` (2.4): means of what is left after removing the common
    elements (exact equality); positive only when the left-over minimum also went down."""
    cx, cy = Counter(x), Counter(y)
    for item in set(x) & set(y):
        common = min(cx[item], cy[item])
        cx[item] -= common
        cy[item] -= common
    ux, uy = list(cx.elements()), list(cy.elements())
    mx = sum(ux) / len(ux) if ux else 0
    my = sum(uy) / len(uy) if uy else 0
    if mx - my > 0:
        return mx - my if min(ux) > min(uy) else 0.0
    return mx - my


def merge_two(a: Block, b: Block) -> Block:
    """Text joined with a space, the union box, the integer mean colour."""
    x0, y0 = min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1])
    x1 = max(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2])
    y1 = max(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3])
    color = tuple((int(c1) + int(c2)) // 2 for c1, c2 in zip(a.color, b.color))
    return Block(a.text + " " + b.text, (x0, y0, x1 - x0, y1 - y0), color)


def _merge_by_list(blocks: list[Block], merges: list[list[Any]]) -> list[Block]:
    """Apply the recorded merges greedily (best first), skipping any that share an index with
    one applied; merged-away blocks are removed at the end."""
    popped: list[int] = []
    while merges:
        i, j = merges[0][0], merges[0][1]
        blocks[i] = merge_two(blocks[i], blocks[j])
        popped.append(j)
        merges = [m for m in merges[1:] if m[0] not in (i, j) and m[1] not in (i, j)]
    for index in sorted(popped, reverse=True):
        if index < len(blocks):
            blocks.pop(index)
    return blocks


def _merge_pass(
    side: list[Block], other: list[Block], current: list[float], candidate_side: bool, ratio: Any
) -> list[Block] | None:
    merges = []
    for i in range(len(side) - 1):
        trial = list(side)
        trial[i] = merge_two(trial[i], trial[i + 1])
        trial.pop(i + 1)
        pair = (trial, other) if candidate_side else (other, trial)
        _, updated = find_maximum_matching(*pair, 0.0, 1, ratio)
        diff = difference_of_means(current, updated)
        if diff > 0.05:
            merges.append([i, i + 1, diff])
    if not merges:
        return None
    merges.sort(key=lambda m: m[2], reverse=True)
    return _merge_by_list(list(side), merges)


def find_possible_merge(
    a: Sequence[Block], b: Sequence[Block], bonus: float = 0.1, window: int = 1
) -> tuple[list[Block], list[Block], list[tuple[int, int]]]:
    """The merge search (bonus 0, window 1) until nothing changes, then the final assignment
    with ``bonus`` / ``window`` (2.4). Returns the merged candidate and reference blocks."""
    ratio = _Ratios()
    a, b = deepcopy(list(a)), deepcopy(list(b))
    while True:
        _, current = find_maximum_matching(a, b, 0.0, 1, ratio)
        changed = False
        if len(a) >= 2:
            merged = _merge_pass(a, b, current, True, ratio)
            if merged is not None:
                a, changed = merged, True
                _, current = find_maximum_matching(a, b, 0.0, 1, ratio)
        if len(b) >= 2:
            merged = _merge_pass(b, a, current, False, ratio)
            if merged is not None:
                b, changed = merged, True
        if not changed:
            break
    matching, _ = find_maximum_matching(a, b, bonus, window, ratio)
    return a, b, matching


# ---------------------------------------------------------------------------- scores


def score_blocks(candidate: Sequence[Block], reference: Sequence[Block]) -> Design2CodeScores:
    """Block-Match, Text, Position and Color of two block lists (2.4, 2.5; no CLIP)."""
    if not candidate or not reference:
        side = "candidate" if not candidate else "reference"
        return Design2CodeScores(notes=[f"no text blocks in the {side}"])
    a, b, matching = find_possible_merge(candidate, reference)
    pairs = []
    for i, j in matching:
        r = sequence_ratio(a[i].text, b[j].text)
        if r >= 0.5:
            pairs.append((i, j, r))
    if not pairs:
        return Design2CodeScores(notes=["no matched blocks"])
    used_a, used_b = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    unmatched = sum(x.area for k, x in enumerate(a) if k not in used_a) + sum(
        y.area for k, y in enumerate(b) if k not in used_b
    )
    matched = [a[i].area + b[j].area for i, j, _ in pairs]
    positions, colors = [], []
    for i, j, _ in pairs:
        (ax, ay), (bx, by) = a[i].center, b[j].center
        positions.append(1 - max(abs(bx - ax), abs(by - ay)))
        colors.append(color_similarity(a[i].color, b[j].color))
    return Design2CodeScores(
        block_match=float(sum(matched) / (sum(matched) + unmatched)),
        text=float(np.mean([r for _, _, r in pairs])),
        position=float(np.mean(positions)),
        color=float(np.mean(colors)),
        matched=pairs,
    )


def design2code_scores(
    candidate: RenderResult, reference: RenderResult, *, clip: bool = True
) -> Design2CodeScores:
    """The Design2Code scores of a candidate page against the reference page.

    A candidate that did not render scores 0 everywhere (Design2Code's blank page has no
    blocks), CLIP included. ``clip=False`` skips the CLIP score."""
    if not reference.ok:
        raise ValueError(f"the reference did not render: {reference.error}")
    if not candidate.ok:
        return Design2CodeScores(clip=0.0, notes=["the candidate did not render"])
    cand_blocks, ref_blocks = page_blocks(candidate), page_blocks(reference)
    scores = score_blocks(cand_blocks, ref_blocks)
    if clip:
        value, note = clip_similarity(candidate.image, reference.image, cand_blocks, ref_blocks)
        scores.clip = value
        if note:
            scores.notes.append(note)
    return scores


# ---------------------------------------------------------------------------- CLIP


def find_local_clip() -> Path | None:
    """A local snapshot of CLIP ViT-B/32 in the Hugging Face cache, or None (never downloads)."""
    roots = []
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            roots.append(Path(os.environ[var]))
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    roots.append(hf_home / "hub")
    for root in roots:
        for model_id in CLIP_MODEL_IDS:
            snapshots = root / ("models--" + model_id.replace("/", "--")) / "snapshots"
            if snapshots.is_dir():
                for snap in sorted(snapshots.iterdir()):
                    if (snap / "config.json").is_file():
                        return snap
    return None


def mask_and_square(image: np.ndarray, blocks: Sequence[Block]) -> Any:
    """Paint out the blocks (inpainted with OpenCV Telea, radius 3, when OpenCV is installed; a
    mean-colour fill otherwise) and squash the page to a ``min(W, H)`` square with Lanczos."""
    from PIL import Image

    img = np.ascontiguousarray(image[..., :3])
    h, w = img.shape[:2]
    mask = np.zeros((h, w), dtype=np.uint8)
    for b in blocks:
        x, y = int(b.bbox[0] * w), int(b.bbox[1] * h)
        mask[y : y + int(b.bbox[3] * h), x : x + int(b.bbox[2] * w)] = 255
    if mask.any():
        try:
            import cv2

            bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            img = cv2.cvtColor(cv2.inpaint(bgr, mask, 3, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
        except ImportError:
            img = img.copy()
            keep = mask == 0
            img[~keep] = img[keep].mean(axis=0).astype(np.uint8) if keep.any() else 255
    side = min(w, h)
    return Image.fromarray(img).resize((side, side), Image.LANCZOS)


def clip_similarity(
    candidate: np.ndarray | None,
    reference: np.ndarray | None,
    candidate_blocks: Sequence[Block],
    reference_blocks: Sequence[Block],
) -> tuple[float | None, str | None]:
    """Cosine similarity of the CLIP image embeddings of the two masked, squashed screenshots;
    ``(None, note)`` when no local CLIP model is found."""
    path = find_local_clip()
    if path is None:
        return None, CLIP_SKIPPED
    if candidate is None or reference is None:
        return None, "CLIP visual score skipped: a screenshot is missing"
    import torch
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
    images = [
        mask_and_square(candidate, candidate_blocks),
        mask_and_square(reference, reference_blocks),
    ]
    with torch.no_grad():
        inputs = processor(images=images, return_tensors="pt")
        features = model.get_image_features(**inputs)
        if not isinstance(features, torch.Tensor):  # newer transformers return an output object
            features = features.pooler_output
    features = features / features.norm(dim=-1, keepdim=True)
    note = None
    try:
        import cv2  # noqa: F401
    except ImportError:
        note = "CLIP masks filled with the mean colour (OpenCV not installed, no Telea inpainting)"
    return float(features[0] @ features[1]), note
