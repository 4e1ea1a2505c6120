"""AeSlides-style aesthetic scores (metrics.md section 3), ported to python-pptx decks.

AeSlides scores HTML slides with four rewards; what is public is implemented here as specified:

* :func:`aspect_ratio_reward` (3.2): 1 inside the 16:9 band, ``exp(-a e^2 - b max(-e - m, 0)^2)``
  outside it, ``e`` the log deviation. For a deck the ratio is ``slide_width / slide_height``;
  its pptx equivalent of "aspect distortion" is content off the slide (reported as defects);
* :func:`content_ratios` (3.3): the share of "content" pixels of a slide image (greyscale,
  21x21 Gaussian blur with sigma 3.5, local standard deviation over a 201 x 151 box, content when
  above 2.5 grey levels), over the full slide and over its central crop;
  :func:`whitespace_reward` = ``smoothstep(content_ratio_crop; 0.8, 0.995)`` (the reward input
  is not public: this choice is metrics.md's inference);
* :func:`centroid_score` (3.4): the weighted centre of the slide's text lines and pictures
  (weight = area), its offset from the slide centre normalised by the slide size, and
  ``sqrt((|dx|/0.0075)^2 + (|dy|/0.145)^2)``; a slide is imbalanced when the score is above 1;
* :func:`gdpo_advantages` (3.5): per-component group normalisation (unbiased std, eps 1e-4,
  NaN -> 0), summed with weights, then normalised over the batch.

The collision reward of AeSlides is not public; the overlap defects of :mod:`vsdpo.defects`
(metrics.md 4.1) stand in for it (:func:`slide_scores` counts them per slide).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vsdpo.artifact import Defect, DefectKind, ElementKind, RenderResult

TARGET_RATIO = 16 / 9
ALPHA, BETA, MARGIN = 16.0, 64.0, 0.04
CENTROID_TOL = (0.0075, 0.145)


def aspect_ratio_reward(
    width: float,
    height: float,
    lo: float = TARGET_RATIO,
    hi: float = TARGET_RATIO,
    alpha: float = ALPHA,
    beta: float = BETA,
    margin: float = MARGIN,
) -> float:
    """metrics.md 3.2. ``aspect_ratio_reward(1280, 720) == 1``, ``(1280, 900)`` -> 0.0527."""
    if width <= 0 or height <= 0:
        return 0.0
    r = width / height
    if lo <= r <= hi:
        return 1.0
    e = math.log(r / hi) if r > hi else math.log(r / lo)
    return math.exp(-alpha * e * e - beta * max(-e - margin, 0.0) ** 2)


def smoothstep(x: float, lower: float = 0.8, upper: float = 0.995, gamma: float = 1.0) -> float:
    """metrics.md 3.3: 0 below ``lower``, 1 above ``upper``, a gamma-warped smoothstep between."""
    if x <= lower:
        return 0.0
    if x >= upper:
        return 1.0
    t = (x - lower) / (upper - lower)
    u = t**gamma / (t**gamma + (1 - t) ** gamma)
    return 3 * u * u - 2 * u**3


def content_ratios(image: np.ndarray) -> tuple[float, float]:
    """``(content_ratio_full, content_ratio_crop)`` of an RGB uint8 image (metrics.md 3.3)."""
    from scipy import ndimage

    rgb = np.asarray(image, dtype=np.float32)[..., :3]
    grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114  # OpenCV BGR2GRAY
    # OpenCV GaussianBlur(21x21, sigma 0 -> 3.5), BORDER_REFLECT_101 == scipy "mirror"
    blurred = ndimage.gaussian_filter(grey, sigma=3.5, mode="mirror", truncate=10 / 3.5)
    size = (151, 201)  # rows (height) x columns (width)
    mean = ndimage.uniform_filter(blurred, size=size, mode="reflect")
    mean_sq = ndimage.uniform_filter(blurred * blurred, size=size, mode="reflect")
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    content = np.clip(std, 0, 50) / 50 > 0.05
    h, w = content.shape
    crop = content[int(h * 0.15) : int(h * 0.9), int(w * 0.1) : int(w * 0.9)]
    return float(content.mean()), float(crop.mean()) if crop.size else 0.0


def whitespace_reward(image: np.ndarray) -> float:
    """``smoothstep(content_ratio_crop)`` (the input choice is metrics.md's inference)."""
    return smoothstep(content_ratios(image)[1])


def centroid_score(
    items: Sequence[tuple[float, float, float, float]], canvas: tuple[float, float]
) -> float:
    """metrics.md 3.4 step 2-4 on weighted boxes ``(x0, y0, x1, y1)`` (weight = area).

    Raises ValueError when the total weight is 0, as the original does."""
    b = np.asarray(items, dtype=np.float64).reshape(-1, 4)
    w = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    total = w.sum()
    if total <= 0:
        raise ValueError("no weighted items: the centroid is undefined")
    cx = float((w * (b[:, 0] + b[:, 2]) / 2).sum() / total)
    cy = float((w * (b[:, 1] + b[:, 3]) / 2).sum() / total)
    dx = cx / canvas[0] - 0.5
    dy = cy / canvas[1] - 0.5
    return math.hypot(abs(dx) / CENTROID_TOL[0], abs(dy) / CENTROID_TOL[1])


def slide_items(result: RenderResult, page: int) -> list[tuple[float, float, float, float]]:
    """The weighted items of one slide: text lines and pictures (>= 4 px^2), as AeSlides
    counts text rects and image-like nodes (plain colour fills never count)."""
    out = []
    for e in result.elements:
        if e.page != page or e.area < 4:
            continue
        if e.is_text or e.kind == ElementKind.IMAGE:
            out.append(tuple(float(v) for v in e.bbox))
    return out


def slide_scores(
    result: RenderResult, defects: Sequence[Defect] | None = None
) -> list[dict[str, Any]]:
    """Per slide: aspect reward, content ratios, whitespace reward, centroid score (None when
    the slide has no text and no picture), imbalance flag, and counts of overlap and off-slide
    defects (the collision stand-in)."""
    if not result.ok:
        return []
    pages = result.pages or ([result.image] if result.image is not None else [])
    out = []
    for page, image in enumerate(pages):
        h, w = image.shape[:2]
        full, crop = content_ratios(image)
        items = slide_items(result, page)
        centroid = centroid_score(items, (w, h)) if items else None
        mine = [d for d in (defects or []) if d.page == page]
        out.append(
            {
                "page": page,
                "aspect_ratio_reward": aspect_ratio_reward(w, h),
                "content_ratio_full": full,
                "content_ratio_crop": crop,
                "whitespace_reward": smoothstep(crop),
                "centroid_score": centroid,
                "imbalanced": centroid is not None and centroid > 1.0,
                "collisions": sum(d.kind == DefectKind.OVERLAP for d in mine),
                "off_slide": sum(d.kind == DefectKind.OVERFLOW for d in mine),
            }
        )
    return out


def gdpo_advantages(
    rewards: Mapping[str, Sequence[Sequence[float]]],
    weights: Mapping[str, float] | None = None,
    eps: float = 1e-4,
) -> np.ndarray:
    """metrics.md 3.5. ``rewards[k]`` is ``[groups][samples]`` of component ``k``; returns the
    batch-normalised combined advantages, shape ``[groups, samples]``."""
    combined = None
    for k, r in rewards.items():
        a = np.asarray(r, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"rewards[{k!r}] must be [groups][samples]")
        mean = a.mean(axis=1, keepdims=True)
        std = a.std(axis=1, ddof=1, keepdims=True) if a.shape[1] > 1 else np.full_like(mean, np.nan)
        adv = np.nan_to_num((a - mean) / (std + eps))
        w = 1.0 if weights is None else float(weights.get(k, 1.0))
        combined = w * adv if combined is None else combined + w * adv
    if combined is None:
        raise ValueError("no reward components")
    flat = combined.reshape(-1)
    std = flat.std(ddof=1) if flat.size > 1 else 0.0
    return (combined - flat.mean()) / (std + eps)
