//! WCAG 2.x contrast of text, estimated from rendered pixels.
//!
//! Background: the dominant colour of the box and a 2-pixel ring around it (text rarely covers
//! most of its own box, and the ring is almost all background). Text colour: the dominant colour
//! among the "ink" pixels at least half as far from the background as the farthest one. The
//! anti-aliased edges of glyphs are spread over many intermediate colours while glyph cores share
//! one, so the mode lands on the true text colour instead of a blend. Colours are binned at 4
//! bits per channel and the exact colour is the mean of the pixels in the winning bin.

use ndarray::{ArrayView2, ArrayView3};
use rayon::prelude::*;

use crate::boxes::read_boxes;
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

/// Per-thread scratch histograms, cleared only where they were touched.
struct Histogram {
    count: Vec<u32>,
    sum: Vec<[u64; 3]>,
    touched: Vec<u16>,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            count: vec![0; BINS],
            sum: vec![[0; 3]; BINS],
            touched: Vec::new(),
        }
    }

    #[inline]
    fn add(&mut self, p: [u8; 3]) {
        let bin = ((p[0] as usize >> 4) << 8) | ((p[1] as usize >> 4) << 4) | (p[2] as usize >> 4);
        if self.count[bin] == 0 {
            self.touched.push(bin as u16);
        }
        self.count[bin] += 1;
        let s = &mut self.sum[bin];
        s[0] += p[0] as u64;
        s[1] += p[1] as u64;
        s[2] += p[2] as u64;
    }

    /// Mean colour of the most populated bin (ties: the lowest bin), then reset.
    fn take_mode(&mut self) -> Option<[u8; 3]> {
        let best = self.touched.iter().copied().max_by(|&a, &b| {
            self.count[a as usize]
                .cmp(&self.count[b as usize])
                .then(b.cmp(&a))
        })?;
        let (n, s) = (self.count[best as usize] as u64, self.sum[best as usize]);
        let mean = [0, 1, 2].map(|c| ((s[c] + n / 2) / n) as u8);
        for &bin in &self.touched {
            self.count[bin as usize] = 0;
            self.sum[bin as usize] = [0; 3];
        }
        self.touched.clear();
        Some(mean)
    }
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

fn measure(
    px: &Pixels,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    hist: &mut Histogram,
) -> (f32, [u8; 3], [u8; 3]) {
    let (bx0, bx1) = pixel_range(x0, x1, px.w);
    let (by0, by1) = pixel_range(y0, y1, px.h);
    if bx0 >= bx1 || by0 >= by1 {
        return (f32::NAN, [0; 3], [0; 3]);
    }
    let (rx0, rx1) = ((bx0 - RING).max(0), (bx1 + RING).min(px.w));
    let (ry0, ry1) = ((by0 - RING).max(0), (by1 + RING).min(px.h));
    for y in ry0..ry1 {
        for x in rx0..rx1 {
            hist.add(px.get(x, y));
        }
    }
    let bg = hist
        .take_mode()
        .expect("the ring contains the non-empty box");

    let mut far = 0i64;
    for y in by0..by1 {
        for x in bx0..bx1 {
            far = far.max(dist2(px.get(x, y), bg));
        }
    }
    if far < INK_MIN_DIST2 {
        return (1.0, bg, bg); // no visible ink: the text (if any) is invisible
    }
    // Pixels at least half as far as the farthest (in distance, so a quarter in squared distance).
    let cutoff = (far + 3) / 4;
    for y in by0..by1 {
        for x in bx0..bx1 {
            let p = px.get(x, y);
            if dist2(p, bg) >= cutoff {
                hist.add(p);
            }
        }
    }
    let fg = hist
        .take_mode()
        .expect("the farthest pixel passes the cutoff");
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
        .map_init(Histogram::new, |hist, bb| {
            measure(&px, bb.x0, bb.y0, bb.x1, bb.y1, hist)
        })
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
