"""Building blocks shared by the benchmark metrics (metrics.md section 0).

* :func:`multiset_prf`: precision / recall / F1 of a candidate list against a reference list with
  multiset matching (0.1), ChartMimic's "either list empty -> all zero" convention included;
* :func:`srgb_to_lab`, :func:`ciede2000` and :func:`color_similarity`: colormath 3.0.0's
  sRGB -> Lab (D65, no adaptation, the 7.787 constant) and CIEDE2000, vectorised with numpy, and
  the benchmarks' similarity ``max(0, 1 - dE00/100)`` (0.2);
* :func:`sequence_ratio`: Design2Code's text similarity, the standard library's
  ``difflib.SequenceMatcher(None, a, b).ratio()`` (0.3; not symmetric, auto-junk included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

ColorLike = Any  # "#RRGGBB[AA]" / "RRGGBB" string, or an (R, G, B) triple in 0..255


@dataclass(frozen=True)
class PRF:
    """Precision, recall and their harmonic mean, each in [0, 1]."""

    precision: float
    recall: float
    f1: float

    @staticmethod
    def from_hits(hits: float, n_candidate: int, n_reference: int) -> PRF:
        """``P = hits/|G|``, ``R = hits/|R|``, ``F1 = 2PR/(P+R)`` (0 when P+R = 0); a side with no
        items gives 0 for the ratio that divides by it."""
        p = hits / n_candidate if n_candidate else 0.0
        r = hits / n_reference if n_reference else 0.0
        f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        return PRF(float(p), float(r), float(f1))


ZERO = PRF(0.0, 0.0, 0.0)
ONE = PRF(1.0, 1.0, 1.0)


def multiset_hits(
    candidate: Sequence[Any],
    reference: Sequence[Any],
    equal: Callable[[Any, Any], bool] | None = None,
) -> int:
    """Walk ``reference`` in order; each item uses up the first unused equal candidate item.

    With plain equality of hashable items this is the size of the multiset intersection."""
    if equal is None:
        try:
            left = Counter(candidate)
            return sum(min(n, left[item]) for item, n in Counter(reference).items())
        except TypeError:  # unhashable items (dicts): the quadratic walk below
            equal = _eq
    used = [False] * len(candidate)
    hits = 0
    for r in reference:
        for k, g in enumerate(candidate):
            if not used[k] and equal(g, r):
                used[k] = True
                hits += 1
                break
    return hits


def _eq(a: Any, b: Any) -> bool:
    return a == b


def multiset_prf(
    candidate: Sequence[Any],
    reference: Sequence[Any],
    equal: Callable[[Any, Any], bool] | None = None,
    *,
    faithful: bool = True,
) -> PRF:
    """Multiset P/R/F1 (metrics.md 0.1).

    ChartMimic's convention (``faithful=True``): if either list is empty, everything is 0, **even
    when both are** [quirk]. ``faithful=False`` scores two empty lists as a perfect match (1)."""
    if not candidate or not reference:
        if not faithful and not candidate and not reference:
            return ONE
        return ZERO
    hits = multiset_hits(candidate, reference, equal)
    return PRF.from_hits(hits, len(candidate), len(reference))


def counts_prf(candidate: dict[Hashable, int], reference: dict[Hashable, int]) -> PRF:
    """P/R/F1 of two count tables: ``n = sum_k min(c[k], r[k])`` (ChartMimic's chart type, 1.6).
    An empty side gives 0 (vsdpo's choice where the original keeps stale values)."""
    total_c, total_r = sum(candidate.values()), sum(reference.values())
    if total_c <= 0 or total_r <= 0:
        return ZERO
    hits = sum(min(n, reference.get(k, 0)) for k, n in candidate.items())
    return PRF.from_hits(hits, total_c, total_r)


# ---------------------------------------------------------------------------- colour


def parse_rgb(color: ColorLike) -> tuple[int, int, int]:
    """``(R, G, B)`` in 0..255 of a hex string (first 6 hex digits: alpha ignored) or a triple."""
    if isinstance(color, str):
        digits = color.strip().lstrip("#")
        if len(digits) < 6:
            raise ValueError(f"not a #RRGGBB colour: {color!r}")
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    r, g, b = (int(v) for v in list(color)[:3])
    return (r, g, b)


def _as_rgb_array(colors: Any) -> np.ndarray:
    """Colours as a float array ``[..., 3]`` in 0..255 (hex strings parsed one by one)."""
    if isinstance(colors, str):
        return np.asarray(parse_rgb(colors), dtype=np.float64)
    arr = np.asarray(colors, dtype=object)
    if arr.dtype == object and arr.size and isinstance(arr.flat[0], str):
        return np.asarray([parse_rgb(c) for c in arr.ravel()], dtype=np.float64).reshape(
            arr.shape + (3,)
        )
    return np.asarray(colors, dtype=np.float64)[..., :3]


_SRGB_TO_XYZ = np.array(
    [
        [0.412424, 0.357579, 0.180464],
        [0.212656, 0.715158, 0.0721856],
        [0.0193324, 0.119193, 0.950444],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(colors: Any) -> np.ndarray:
    """Lab ``[..., 3]`` of 8-bit sRGB colours ``[..., 3]`` (or hex strings), as colormath 3.0.0
    converts them: linearise, colormath's sRGB matrix (D65 kept), ``f`` with 7.787."""
    c = _as_rgb_array(colors) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _SRGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) of Lab arrays ``[..., 3]`` (broadcast)."""
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    c7 = c_bar**7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.where(c1p == 0, 0.0, np.degrees(np.arctan2(b1, a1p)) % 360)
    h2p = np.where(c2p == 0, 0.0, np.degrees(np.arctan2(b2, a2p)) % 360)
    dLp = L2 - L1
    dCp = c2p - c1p
    prod = c1p * c2p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(prod == 0, 0.0, dh)
    dHp = 2 * np.sqrt(prod) * np.sin(np.radians(dh) / 2)
    Lp_bar = (L1 + L2) / 2
    Cp_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        prod == 0,
        h_sum,
        np.where(
            np.abs(h1p - h2p) <= 180,
            h_sum / 2,
            np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    l50 = (Lp_bar - 50) ** 2
    s_l = 1 + 0.015 * l50 / np.sqrt(20 + l50)
    s_c = 1 + 0.045 * Cp_bar
    s_h = 1 + 0.015 * Cp_bar * t
    cp7 = Cp_bar**7
    r_t = (
        -2
        * np.sqrt(cp7 / (cp7 + 25.0**7))
        * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2))))
    )
    dl, dc, dhh = dLp / s_l, dCp / s_c, dHp / s_h
    return np.sqrt(np.maximum(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh, 0.0))


def delta_e(c1: ColorLike | Any, c2: ColorLike | Any) -> np.ndarray | float:
    """CIEDE2000 between sRGB colours (hex strings or triples; arrays broadcast)."""
    out = ciede2000(srgb_to_lab(c1), srgb_to_lab(c2))
    return float(out) if np.ndim(out) == 0 else out


def color_similarity(c1: ColorLike | Any, c2: ColorLike | Any) -> np.ndarray | float:
    """``max(0, 1 - dE00/100)`` (metrics.md 0.2); arrays of colours broadcast."""
    out = np.maximum(0.0, 1.0 - ciede2000(srgb_to_lab(c1), srgb_to_lab(c2)) / 100.0)
    return float(out) if np.ndim(out) == 0 else out


def similarity_matrix(a: Sequence[ColorLike], b: Sequence[ColorLike]) -> np.ndarray:
    """``S[i, j] = color_similarity(a[i], b[j])``, shape ``[len(a), len(b)]``."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    la = srgb_to_lab(np.stack([_as_rgb_array(c) for c in a]))
    lb = srgb_to_lab(np.stack([_as_rgb_array(c) for c in b]))
    return np.maximum(0.0, 1.0 - ciede2000(la[:, None, :], lb[None, :, :]) / 100.0)


# ---------------------------------------------------------------------------- text


def sequence_ratio(a: str, b: str) -> float:
    """``difflib.SequenceMatcher(None, a, b).ratio()``: ``2M/(|a|+|b|)`` with Ratcliff/Obershelp
    blocks and the auto-junk heuristic (metrics.md 0.3). Design2Code passes ``a`` = candidate."""
    return SequenceMatcher(None, a, b).ratio()
