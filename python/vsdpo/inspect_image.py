"""The "inspect" picture: a render with its defects outlined and numbered, and listed below.

Meant for people (``vsdpo inspect``, the detector evaluation's examples): each defect's region is
outlined in its own colour with its number in a label box, and a panel under the image lists
``"1. [overlap] line 12: the x tick labels overlap each other (7 pairs)"``, wrapped to the image
width. A failed render shows its error and the end of its traceback on a blank canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vsdpo.artifact import Defect, DefectKind, RenderResult

#: outline colours, one per defect (cycled): tab10 without its grey and olive, which vanish on
#: the white and grey of most charts
PALETTE = (
    (214, 39, 40),
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (148, 103, 189),
    (227, 119, 194),
    (140, 86, 75),
    (23, 190, 207),
)
MARGIN = 16  # grey frame around the image, so outlines on its edges (overflow) stay visible
FRAME = (236, 236, 236)
PANEL_BG = (255, 255, 255)
INK = (33, 33, 33)
MUTED = (110, 110, 110)


@lru_cache(maxsize=16)
def _font(
    size: int, mono: bool = False, bold: bool = False
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (or Sans Mono), located through matplotlib's font manager; PIL's default otherwise."""
    try:
        from matplotlib import font_manager

        family = "DejaVu Sans Mono" if mono else "DejaVu Sans"
        props = font_manager.FontProperties(family=family, weight="bold" if bold else "normal")
        return ImageFont.truetype(font_manager.findfont(props, fallback_to_default=True), size)
    except (ImportError, OSError, ValueError):  # no matplotlib or no font file: draw anyway
        return ImageFont.load_default()


def _wrap(text: str, font, width: float, draw: ImageDraw.ImageDraw) -> list[str]:
    """Greedy word wrap of ``text`` to ``width`` pixels (words longer than a line are cut)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        indent = paragraph[: len(paragraph) - len(paragraph.lstrip(" "))]  # keep traceback indents
        current = ""
        for word in paragraph.lstrip(" ").split(" "):
            candidate = f"{current} {word}" if current else indent + word
            if draw.textlength(candidate, font=font) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while draw.textlength(word, font=font) > width and len(word) > 1:
                cut = max(1, int(len(word) * width / draw.textlength(word, font=font)) - 1)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _base_image(result: RenderResult) -> tuple[np.ndarray, list[int]]:
    """The pixels to annotate (pages stacked vertically) and the y offset of each page."""
    pages = (
        list(result.pages) if result.pages else ([result.image] if result.image is not None else [])
    )
    pages = [np.asarray(p, dtype=np.uint8)[..., :3] for p in pages]
    width = max(p.shape[1] for p in pages)
    gap = MARGIN
    offsets, y = [], 0
    for p in pages:
        offsets.append(y)
        y += p.shape[0] + gap
    canvas = np.full((y - gap, width, 3), FRAME, dtype=np.uint8)
    for p, off in zip(pages, offsets):
        canvas[off : off + p.shape[0], : p.shape[1]] = p
    return canvas, offsets


def _error_card(result: RenderResult) -> Image.Image:
    """A blank canvas showing why the render failed."""
    w, h = result.canvas if result.canvas[0] > 0 and result.canvas[1] > 0 else (640, 480)
    w, h = max(w, 480), max(h, 240)
    img = Image.new("RGB", (w, h), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    title_font, body_font, mono = _font(22, bold=True), _font(16), _font(13, mono=True)
    draw.text((24, 20), "The code did not run", font=title_font, fill=(183, 28, 28))
    err = result.error
    summary = err.summary() if err else "no image was produced"
    y = 60
    for line in _wrap(summary, body_font, w - 48, draw):
        draw.text((24, y), line, font=body_font, fill=INK)
        y += 22
    if err and err.traceback:
        y += 12
        tb_lines = err.traceback.rstrip().splitlines()
        room = max(0, (h - y - 16) // 17)
        for line in tb_lines[-room:] if room else []:
            for piece in _wrap(line, mono, w - 48, draw)[:2]:
                if y > h - 30:
                    break
                draw.text((24, y), piece, font=mono, fill=MUTED)
                y += 17
    return img.crop((0, 0, w, max(240, min(h, y + 24))))  # no acre of empty canvas


def annotate(result: RenderResult, defects: Sequence[Defect]) -> Image.Image:
    """The render with each defect's region outlined and numbered, and the defects listed below."""
    if not result.ok or (result.image is None and not result.pages):
        top = _error_card(result)
        outlined: list[tuple[int, Defect]] = []
    else:
        pixels, offsets = _base_image(result)
        h, w = pixels.shape[:2]
        top = Image.new("RGB", (w + 2 * MARGIN, h + 2 * MARGIN), FRAME)
        top.paste(Image.fromarray(pixels), (MARGIN, MARGIN))
        outlined = [(n, d) for n, d in enumerate(defects, 1) if d.region is not None]
        _draw_outlines(top, outlined, offsets, len(offsets))

    return _with_panel(top, list(defects), result)


def _draw_outlines(
    img: Image.Image, outlined: list[tuple[int, Defect]], offsets: list[int], n_pages: int
) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    label_font = _font(13, bold=True)
    W, H = img.size
    for n, d in outlined:
        colour = PALETTE[(n - 1) % len(PALETTE)]
        off = offsets[d.page] if d.page < n_pages else 0
        x0, y0, x1, y1 = d.region  # type: ignore[misc]
        # clip to the framed image: off-canvas parts end on the grey frame, which shows where
        x0, x1 = (min(max(v + MARGIN, 1), W - 2) for v in (x0, x1))
        y0, y1 = (min(max(v + MARGIN + off, 1), H - 2) for v in (y0, y1))
        x1, y1 = max(x1, x0 + 2), max(y1, y0 + 2)
        draw.rectangle((x0, y0, x1, y1), fill=(*colour, 28), outline=(*colour, 255), width=2)
        label = str(n)
        tw = draw.textlength(label, font=label_font)
        lw, lh = tw + 8, 18
        lx = min(max(x0 - 1, 0), W - lw)
        ly = y0 - lh if y0 - lh >= 0 else min(y0 + 1, H - lh)
        draw.rectangle((lx, ly, lx + lw, ly + lh), fill=(*colour, 255))
        draw.text((lx + 4, ly + 1), label, font=label_font, fill=(255, 255, 255))


def _with_panel(top: Image.Image, defects: list[Defect], result: RenderResult) -> Image.Image:
    """Append the numbered list of defects under the image."""
    width = max(top.size[0], 480)
    font, bold = _font(15), _font(15, bold=True)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    pad, swatch, line_h = 14, 12, 21
    text_w = width - 2 * pad - swatch - 10
    entries: list[tuple[tuple[int, int, int], list[str]]] = []
    for n, d in enumerate(defects, 1):
        colour = PALETTE[(n - 1) % len(PALETTE)] if d.region is not None else MUTED
        severity = (
            f" (severity {d.severity:.2f})"
            if d.kind not in (DefectKind.EXEC_ERROR, DefectKind.EMPTY)
            else ""
        )
        entries.append(
            (colour, _wrap(f"{n}. [{d.kind}] {d.message}{severity}", font, text_w, measure))
        )
    header = (
        f"{len(defects)} defect{'s' if len(defects) != 1 else ''}"
        if defects
        else "No defects found"
    )
    height = pad + line_h + 6 + sum(len(lines) * line_h + 6 for _, lines in entries) + pad
    out = Image.new("RGB", (width, top.size[1] + height), PANEL_BG)
    out.paste(top, (0, 0))
    draw = ImageDraw.Draw(out)
    y = top.size[1] + pad
    draw.line((0, top.size[1], width, top.size[1]), fill=(210, 210, 210), width=1)
    draw.text((pad, y), header, font=bold, fill=INK)
    y += line_h + 6
    for colour, lines in entries:
        draw.rectangle((pad, y + 4, pad + swatch, y + 4 + swatch), fill=colour)
        for line in lines:
            draw.text((pad + swatch + 10, y), line, font=font, fill=INK)
            y += line_h
        y += 6
    return out


def save_annotated(result: RenderResult, defects: Sequence[Defect], path: str | Path) -> Path:
    """Write :func:`annotate`'s picture as a PNG and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    annotate(result, defects).save(path, format="PNG", optimize=True)
    return path
