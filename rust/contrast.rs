//! WCAG 2.x contrast of text, estimated from rendered pixels.
//!
//! Background: the most frequent exact colour of the box and a 2-pixel ring around it (text
//! rarely covers most of its own box, and the ring is almost all background), found in two
//! passes: a coarse histogram (4 bits per channel) picks the dominant bin, a fine one over that
//! bin picks the exact colour. Text colour: the most frequent exact colour among the "ink"
//! pixels at least half as far from the background as the farthest one. The anti-aliased edges
//! of glyphs are spread over many distinct blends while glyph cores share one colour, so the
//! exact mode lands on the true text colour, not a blend, even for small text.

use ndarray::{ArrayView2, ArrayView3};
use rayon::prelude::*;

use crate::boxes::{read_boxes, Bbox};
use crate::error::{KResult, KernelError};

const RING: i64 = 2;
const BINS: usize = 4096;
/// Squared RGB distance below which a pixel counts as background (flat noise, JPEG ringing).
const INK_MIN_DIST2: i64 = 36;

pub struct ContrastOut {
    pub ratio: Vec<f32>,
    pub fg: Vec<[u8; 3]>,
    pub bg: Vec<[u8; 3]>,
}

/// Per-thread scratch: a 4096-bin histogram cleared only where it was touched, and a buffer
/// for the ink colours.
struct Scratch {
    count: Vec<u32>,
    touched: Vec<u16>,
    ink: Vec<u32>,
}

#[inline]
fn coarse_bin(p: [u8; 3]) -> usize {
    ((p[0] as usize >> 4) << 8) | ((p[1] as usize >> 4) << 4) | (p[2] as usize >> 4)
}

#[inline]
fn fine_bin(p: [u8; 3]) -> usize {
    ((p[0] as usize & 15) << 8) | ((p[1] as usize & 15) << 4) | (p[2] as usize & 15)
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            count: vec![0; BINS],
            touched: Vec::new(),
            ink: Vec::new(),
        }
    }

    #[inline]
    fn add(&mut self, bin: usize) {
        if self.count[bin] == 0 {
            self.touched.push(bin as u16);
        }
        self.count[bin] += 1;
    }

    /// The most populated bin (ties: the lowest), then reset the histogram.
    fn take_mode(&mut self) -> usize {
        let best = self
            .touched
            .iter()
            .copied()
            .max_by(|&a, &b| {
                self.count[a as usize]
                    .cmp(&self.count[b as usize])
                    .then(b.cmp(&a))
            })
            .expect("at least one pixel was added");
        for &bin in &self.touched {
            self.count[bin as usize] = 0;
        }
        self.touched.clear();
        best as usize
    }

    /// The most frequent colour in `ink` (ties: the one farthest from `bg`).
    fn ink_mode(&mut self, bg: [u8; 3]) -> [u8; 3] {
        self.ink.sort_unstable();
        let mut best = (0usize, 0i64, self.ink[0]);
        for run in self.ink.chunk_by(|a, b| a == b) {
            let key = (run.len(), dist2(unpack(run[0]), bg));
            if key > (best.0, best.1) {
                best = (key.0, key.1, run[0]);
            }
        }
        self.ink.clear();
        unpack(best.2)
    }
}

#[inline]
fn pack(p: [u8; 3]) -> u32 {
    ((p[0] as u32) << 16) | ((p[1] as u32) << 8) | p[2] as u32
}

#[inline]
fn unpack(c: u32) -> [u8; 3] {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

fn linear(v: u8) -> f64 {
    let c = v as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// WCAG 2.x relative luminance of an 8-bit sRGB colour.
pub fn luminance(p: [u8; 3]) -> f64 {
    0.2126 * linear(p[0]) + 0.7152 * linear(p[1]) + 0.0722 * linear(p[2])
}

/// WCAG 2.x contrast ratio, in [1, 21].
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[inline]
fn dist2(a: [u8; 3], b: [u8; 3]) -> i64 {
    (0..3).map(|c| (a[c] as i64 - b[c] as i64).pow(2)).sum()
}

/// A row-major view of the image; pixels are read through one flat slice.
struct Pixels<'a> {
    data: &'a [u8],
    h: i64,
    w: i64,
}

impl Pixels<'_> {
    #[inline]
    fn get(&self, x: i64, y: i64) -> [u8; 3] {
        let o = ((y * self.w + x) * 3) as usize;
        [self.data[o], self.data[o + 1], self.data[o + 2]]
    }
}

/// Integer pixel range `[a, b)` covered by `[lo, hi)`, clipped to `[0, size)`.
fn pixel_range(lo: f64, hi: f64, size: i64) -> (i64, i64) {
    let a = (lo.floor() as i64).clamp(0, size);
    let b = (hi.ceil() as i64).clamp(0, size);
    (a, b)
}

fn measure(px: &Pixels, bb: &Bbox, scratch: &mut Scratch) -> (f32, [u8; 3], [u8; 3]) {
    let (bx0, bx1) = pixel_range(bb.x0, bb.x1, px.w);
    let (by0, by1) = pixel_range(bb.y0, bb.y1, px.h);
    if bx0 >= bx1 || by0 >= by1 {
        return (f32::NAN, [0; 3], [0; 3]);
    }
    let (rx0, rx1) = ((bx0 - RING).max(0), (bx1 + RING).min(px.w));
    let (ry0, ry1) = ((by0 - RING).max(0), (by1 + RING).min(px.h));
    let ring = || (ry0..ry1).flat_map(move |y| (rx0..rx1).map(move |x| px.get(x, y)));

    // Background: the dominant coarse bin, then the dominant exact colour inside it.
    ring().for_each(|p| scratch.add(coarse_bin(p)));
    let bin = scratch.take_mode();
    ring()
        .filter(|&p| coarse_bin(p) == bin)
        .for_each(|p| scratch.add(fine_bin(p)));
    let fine = scratch.take_mode();
    let bg = [0, 1, 2].map(|c| {
        let shift = 8 - 4 * c;
        ((((bin >> shift) & 15) << 4) | ((fine >> shift) & 15)) as u8
    });

    let inside = || (by0..by1).flat_map(move |y| (bx0..bx1).map(move |x| px.get(x, y)));
    let far = inside().map(|p| dist2(p, bg)).max().unwrap_or(0);
    if far < INK_MIN_DIST2 {
        return (1.0, bg, bg); // no visible ink: the text (if any) is invisible
    }
    // Ink: pixels at least half as far as the farthest (a quarter in squared distance).
    let cutoff = (far + 3) / 4;
    scratch
        .ink
        .extend(inside().filter(|&p| dist2(p, bg) >= cutoff).map(pack));
    let fg = scratch.ink_mode(bg);
    (contrast_ratio(fg, bg) as f32, fg, bg)
}

pub fn contrast(image: &ArrayView3<u8>, boxes: &ArrayView2<f32>) -> KResult<ContrastOut> {
    let shape = image.shape();
    if shape[2] != 3 {
        return Err(KernelError::arg(
            "image",
            format!("expected shape (H, W, 3) RGB, got {shape:?}"),
        ));
    }
    let b = read_boxes(boxes, "boxes")?;
    // Read through one flat row-major slice; a non-standard layout is copied once (the Python
    // wrapper passes C-contiguous images, so this is only a safety net).
    let owned;
    let data: &[u8] = match image.as_slice() {
        Some(s) => s,
        None => {
            owned = image.as_standard_layout().into_owned();
            owned.as_slice().expect("standard layout")
        }
    };
    let px = Pixels {
        data,
        h: shape[0] as i64,
        w: shape[1] as i64,
    };
    let measured: Vec<(f32, [u8; 3], [u8; 3])> = b
        .par_iter()
        .map_init(Scratch::new, |scratch, bb| measure(&px, bb, scratch))
        .collect();
    Ok(ContrastOut {
        ratio: measured.iter().map(|m| m.0).collect(),
        fg: measured.iter().map(|m| m.1).collect(),
        bg: measured.iter().map(|m| m.2).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn wcag_test_vectors() {
        let white = [255, 255, 255];
        for (c, want) in [
            ([0x77, 0x77, 0x77], 4.4781),
            ([0x76, 0x76, 0x76], 4.5422),
            ([0x1F, 0x77, 0xB4], 4.8209),
            ([0, 0, 0], 21.0),
        ] {
            assert!((contrast_ratio(c, white) - want).abs() < 1e-4, "{c:?}");
        }
        assert!((contrast_ratio(white, [255, 255, 0]) - 1.0738).abs() < 1e-4);
    }

    #[test]
    fn solid_text_and_blank_and_offimage_boxes() {
        let mut img = Array3::<u8>::from_elem((40, 80, 3), 255);
        for y in 10..30 {
            for x in 10..70 {
                if (x / 3) % 2 == 0 {
                    img[[y, x, 0]] = 0x1F;
                    img[[y, x, 1]] = 0x77;
                    img[[y, x, 2]] = 0xB4;
                }
            }
        }
        let boxes = array![
            [5.0f32, 5.0, 75.0, 35.0],
            [0.0, 0.0, 5.0, 5.0],
            [100.0, 100.0, 120.0, 120.0],
            [-10.0, -10.0, 20.0, 20.0]
        ];
        let out = contrast(&img.view(), &boxes.view()).unwrap();
        assert!((out.ratio[0] - 4.8209).abs() < 1e-3);
        assert_eq!(out.fg[0], [0x1F, 0x77, 0xB4]);
        assert_eq!(out.bg[0], [255, 255, 255]);
        assert_eq!(
            (out.ratio[1], out.fg[1], out.bg[1]),
            (1.0, [255; 3], [255; 3])
        );
        assert!(out.ratio[2].is_nan());
        assert!(out.ratio[3] > 4.0);
    }
}
