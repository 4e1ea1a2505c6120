"""Every threshold of the defect engine, with the defaults of metrics.md section 4.6."""

from __future__ import annotations

from dataclasses import dataclass, field

from vsdpo.artifact import DefectKind


@dataclass
class DefectConfig:
    """Thresholds for :func:`vsdpo.defects.detect_defects` (pixels unless said otherwise)."""

    #: which defect kinds to report (exec_error and empty are always reported)
    kinds: frozenset[str] = field(default_factory=lambda: frozenset(DefectKind.ALL))

    # --- which elements take part (metrics.md 4, "Element boxes") ---
    #: boxes smaller than this area (px^2) are ignored
    min_area: float = 4.0
    #: elements with meta["alpha"] below this are invisible and ignored
    min_alpha: float = 0.05
    #: an element covering at least this fraction of the canvas is a full-bleed background
    background_canvas_fraction: float = 0.75

    # --- 4.1 overlap ---
    #: every box is shrunk by this much on each side first, so touching boxes never overlap
    shrink_px: float = 1.0
    #: text-text: the intersection must be at least this many px wide AND high
    text_text_min_px: float = 2.0
    #: text over a non-container, non-text element: fraction of the smaller box covered, strictly above
    text_over_fraction: float = 0.10
    #: non-text over non-text: fraction of the smaller box covered, strictly above
    nontext_fraction: float = 0.30
    #: charts: legend over data artists, fraction of the legend's area, strictly above
    legend_over_data_fraction: float = 0.10
    #: charts: a data artist whose box lies at least this much under the legend is hidden by it
    legend_hides_artist_fraction: float = 0.5
    #: charts: ring (px outside the legend frame) searched for the colour of data running under it
    legend_ring_px: tuple[float, float] = (1.0, 4.0)
    #: charts: max channel difference for a ring pixel to count as the data artist's colour
    legend_colour_tolerance: int = 40
    #: charts: how many ring pixels of the artist's colour prove it runs under the legend
    legend_ring_min_pixels: int = 3
    #: charts: two axes with IoU above this are twins (twinx/twiny) sharing one plot area
    twin_axes_iou: float = 0.9
    #: charts: an axes lying at least this much inside another is an inset, not a collision
    inset_fraction: float = 0.95

    # --- 4.2 clipped text ---
    #: hidden fraction of the text box, strictly above
    clipped_fraction: float = 0.02
    #: or more than this many px of the text's height hidden
    clipped_height_px: float = 1.0

    # --- 4.3 overflow off the canvas ---
    #: fraction of the element outside the canvas, strictly above
    overflow_fraction: float = 0.01
    #: text: at least this many px outside the canvas
    overflow_text_px: float = 2.0
    #: severity floor of text flagged by the pixel rule alone (a cut letter is visible)
    overflow_text_min_severity: float = 0.1

    # --- 4.4 near-miss alignment ---
    #: edges within this distance are aligned
    aligned_px: float = 1.0
    #: tau = max(align_tol_px, align_tol_width_fraction * canvas width)
    align_tol_px: float = 4.0
    align_tol_width_fraction: float = 0.004
    #: horizontal-edge classes only for pairs whose vertical gap is at most this fraction of H
    #: (and the mirror rule for vertical-edge classes)
    align_gap_fraction: float = 0.25
    #: severity of a near-miss: from the high end (d just above aligned_px) to the low end (d = tau)
    misalignment_severity: tuple[float, float] = (0.4, 0.2)

    # --- 4.5 low contrast ---
    contrast_normal: float = 4.5
    contrast_large: float = 3.0
    #: large text: at least this font size in px, or large_bold_text_px when bold
    large_text_px: float = 24.0
    large_bold_text_px: float = 18.66

    # --- slides (vsdpo.defects.slides) ---
    #: smallest readable font size in points on a 7.5 in tall slide (scaled with the slide height)
    slide_min_font_pt: float = 10.0
    #: text overflowing its shape: glyphs more than this many px outside the shape's box
    slide_overflow_px: float = 2.0
    #: a shape drawn over text hides it: fraction of the text line covered, strictly above
    slide_text_cover_fraction: float = 0.10
    #: text drawn over a filled shape straddles its edge: covered fraction in (this, 1 - this)
    slide_straddle_fraction: float = 0.10
    #: two filled shapes collide: fraction of the smaller covered, strictly above ...
    slide_shape_overlap_fraction: float = 0.30
    #: ... and below this (a shape wholly inside another is a card or a frame, by design)
    slide_contained_fraction: float = 0.98
    #: severity of an empty placeholder (the layout's prompt text is not shown, the gap is)
    empty_placeholder_severity: float = 0.3

    # --- messages ---
    #: at most this many line numbers are spelled out in a message ("lines 3, 5, 7 and 2 more")
    max_lines_in_message: int = 4

    def enabled(self, kind: str) -> bool:
        return kind in self.kinds
