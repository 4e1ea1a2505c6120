//! Overlapping pairs of boxes within each rollout group: sweep-and-prune.
//!
//! Per group, boxes are visited in order of their leading edge along the sweep axis; an
//! "active" list holds the boxes that still extend past the current one, and only those can
//! intersect it, so the cost is O(n log n + n * active) instead of O(n^2). Two refinements keep
//! the active list short on real layouts: the sweep runs along the axis where boxes are
//! shortest relative to the spread of the group (text boxes are wide and short: sweep along y),
//! and the few boxes that are very long along that axis (panels, axes, backgrounds) skip the
//! sweep and are tested directly against every box of the group.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::boxes::{check_width, flat, validate_flat, Bbox};
use crate::error::{KResult, KernelError};
use crate::groups::partition;

/// A box longer than this many times the group's median length along the sweep axis is
/// tested directly instead of staying in the active list for most of the sweep.
const LONG_BOX_FACTOR: f64 = 8.0;

/// One overlapping pair: `i < j`, their intersection area and intersection over union
/// (computed in f64, stored as the f32 that goes back to numpy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    pub i: u32,
    pub j: u32,
    pub inter: f32,
    pub iou: f32,
}

impl Overlap {
    fn key(&self) -> u64 {
        ((self.i as u64) << 32) | self.j as u64
    }
}

/// The kernel's output, laid out as the numpy arrays it becomes: `pairs` holds `[i, j]` rows.
#[derive(Debug, Default)]
pub struct OverlapArrays {
    pub pairs: Vec<i64>,
    pub inter: Vec<f32>,
    pub iou: Vec<f32>,
}

pub fn overlap_pairs(
    boxes: &ArrayView2<f32>,
    groups: Option<&ArrayView1<i32>>,
    min_area: f64,
) -> KResult<OverlapArrays> {
    if !(min_area.is_finite() && min_area >= 0.0) {
        return Err(KernelError::arg(
            "min_area",
            format!("expected a finite number >= 0, got {min_area}"),
        ));
    }
    check_width(boxes, "boxes")?;
    let rows = flat(boxes);
    validate_flat(&rows, "boxes")?;
    let parts = partition(groups, boxes.nrows())?;
    let mut per_group: Vec<Vec<Overlap>> = parts
        .into_par_iter()
        .map(|members| group_overlaps(&rows, members, min_area))
        .filter(|found| !found.is_empty())
        .collect();
    // Each group's pairs are sorted; when groups occupy increasing index ranges (the usual
    // layout of a rollout batch) their concatenation is already in order.
    let in_order = per_group
        .windows(2)
        .all(|w| w[0].last().map(Overlap::key) < w[1].first().map(Overlap::key));
    if !in_order {
        let mut all = per_group.concat();
        all.par_sort_unstable_by_key(Overlap::key);
        per_group = vec![all];
    }
    Ok(into_arrays(per_group))
}

/// Lay the groups' pairs out as the output arrays.
fn into_arrays(per_group: Vec<Vec<Overlap>>) -> OverlapArrays {
    let total: usize = per_group.iter().map(Vec::len).sum();
    let mut out = OverlapArrays {
        pairs: Vec::with_capacity(2 * total),
        inter: Vec::with_capacity(total),
        iou: Vec::with_capacity(total),
    };
    for o in per_group.iter().flatten() {
        out.pairs.extend([o.i as i64, o.j as i64]);
        out.inter.push(o.inter);
        out.iou.push(o.iou);
    }
    out
}

/// A box of one group, in the sweep's frame (x is the sweep axis), with its index.
#[derive(Clone, Copy)]
struct Item {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    index: u32,
}

impl Item {
    fn bbox(&self) -> Bbox {
        Bbox::new(
            self.x0 as f64,
            self.y0 as f64,
            self.x1 as f64,
            self.y1 as f64,
        )
    }
}

fn push_if_overlapping(a: &Item, c: &Item, min_area: f64, out: &mut Vec<Overlap>) {
    if c.y1 <= a.y0 || a.y1 <= c.y0 || c.x1 <= a.x0 || a.x1 <= c.x0 {
        return;
    }
    let (ba, bc) = (a.bbox(), c.bbox());
    let inter = ba.intersection(&bc);
    if inter > min_area && inter > 0.0 {
        let union = ba.area() + bc.area() - inter;
        let (i, j) = (a.index.min(c.index), a.index.max(c.index));
        out.push(Overlap {
            i,
            j,
            inter: inter as f32,
            iou: (inter / union) as f32,
        });
    }
}

/// All overlapping pairs of one group, sorted by `(i, j)`.
fn group_overlaps(rows: &[f32], members: Vec<u32>, min_area: f64) -> Vec<Overlap> {
    // Zero-area boxes never have a positive intersection: leave them out.
    let mut items: Vec<Item> = members
        .into_iter()
        .map(|i| {
            let r = &rows[4 * i as usize..4 * i as usize + 4];
            Item {
                x0: r[0],
                y0: r[1],
                x1: r[2],
                y1: r[3],
                index: i,
            }
        })
        .filter(|b| b.x1 > b.x0 && b.y1 > b.y0)
        .collect();
    if items.len() < 2 {
        return Vec::new();
    }

    // Sweep along the axis where boxes are short relative to their spread; intersections are
    // symmetric in x and y, so sweeping along y is sweeping along x of the transposed boxes.
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    let mut len = [0.0f64; 2];
    for b in &items {
        lo = [lo[0].min(b.x0), lo[1].min(b.y0)];
        hi = [hi[0].max(b.x1), hi[1].max(b.y1)];
        len[0] += (b.x1 - b.x0) as f64;
        len[1] += (b.y1 - b.y0) as f64;
    }
    let spread = |k: usize| len[k] / ((hi[k] - lo[k]) as f64).max(f64::MIN_POSITIVE);
    if spread(1) < spread(0) {
        for b in items.iter_mut() {
            *b = Item {
                x0: b.y0,
                y0: b.x0,
                x1: b.y1,
                y1: b.x1,
                index: b.index,
            };
        }
    }

    let mut lengths: Vec<f32> = items.iter().map(|b| b.x1 - b.x0).collect();
    let mid = lengths.len() / 2;
    let long_from = *lengths.select_nth_unstable_by(mid, f32::total_cmp).1 * LONG_BOX_FACTOR as f32;
    let (long, short): (Vec<Item>, Vec<Item>) =
        items.into_iter().partition(|b| b.x1 - b.x0 > long_from);
    // Sort by left edge through packed integer keys (order-preserving bits of x0, position):
    // much cheaper to compare and move than the items themselves.
    let mut keys: Vec<u64> = short
        .iter()
        .enumerate()
        .map(|(k, b)| ((ordered_bits(b.x0) as u64) << 32) | k as u64)
        .collect();
    keys.sort_unstable();
    let short: Vec<Item> = keys
        .iter()
        .map(|k| short[(k & 0xffff_ffff) as usize])
        .collect();

    // Forward scan: box p can only meet the boxes that start before it ends.
    let mut out = Vec::with_capacity(2 * (short.len() + long.len()));
    for (p, a) in short.iter().enumerate() {
        for c in short[p + 1..].iter().take_while(|c| c.x0 < a.x1) {
            push_if_overlapping(a, c, min_area, &mut out);
        }
    }
    for (k, a) in long.iter().enumerate() {
        for c in short.iter().chain(&long[k + 1..]) {
            push_if_overlapping(a, c, min_area, &mut out);
        }
    }
    out.sort_unstable_by_key(Overlap::key);
    out
}

/// The bits of a finite f32, mapped so that unsigned integer order is numeric order.
fn ordered_bits(x: f32) -> u32 {
    let bits = x.to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn brute(b: &[Bbox], g: &[i32], min_area: f64) -> Vec<(u32, u32)> {
        let mut out = vec![];
        for i in 0..b.len() {
            for j in i + 1..b.len() {
                if g[i] == g[j] && b[i].intersection(&b[j]) > min_area {
                    out.push((i as u32, j as u32));
                }
            }
        }
        out
    }

    #[test]
    fn finds_the_overlapping_pair_only() {
        let boxes = array![
            [0.0f32, 0.0, 10.0, 10.0],
            [5.0, 5.0, 15.0, 15.0],
            [10.0, 0.0, 20.0, 5.0]
        ];
        let got = overlap_pairs(&boxes.view(), None, 0.0).unwrap();
        assert_eq!(got.pairs, vec![0, 1]);
        assert_eq!(got.inter, vec![25.0]);
        assert!((got.iou[0] - 25.0 / 175.0).abs() < 1e-7);
    }

    #[test]
    fn groups_never_pair_and_min_area_is_strict() {
        let boxes = array![
            [0.0f32, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 10.0]
        ];
        let g = array![1, 2, 1];
        let got = overlap_pairs(&boxes.view(), Some(&g.view()), 0.0).unwrap();
        assert_eq!(got.pairs, vec![0, 2]);
        assert!(overlap_pairs(&boxes.view(), Some(&g.view()), 100.0)
            .unwrap()
            .inter
            .is_empty());
    }

    #[test]
    fn agrees_with_brute_force_on_a_pseudorandom_layout() {
        // A small LCG keeps the test free of extra dependencies.
        let mut s: u64 = 42;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 1000) as f32 / 10.0
        };
        let n = 300;
        let mut boxes = Array2::<f32>::zeros((n, 4));
        let mut g = vec![0i32; n];
        for (k, gk) in g.iter_mut().enumerate() {
            let (x, y, w, h) = (next(), next(), next() / 4.0, next() / 8.0);
            boxes.row_mut(k).assign(&array![x, y, x + w, y + h]);
            *gk = (next() as i32) % 5;
        }
        let gv = ndarray::Array1::from(g.clone());
        let got: Vec<(u32, u32)> = overlap_pairs(&boxes.view(), Some(&gv.view()), 1.0)
            .unwrap()
            .pairs
            .chunks(2)
            .map(|p| (p[0] as u32, p[1] as u32))
            .collect();
        let b = crate::boxes::read_boxes(&boxes.view(), "boxes").unwrap();
        assert_eq!(got, brute(&b, &g, 1.0));
    }

    #[test]
    fn bad_min_area_is_an_error() {
        let boxes = Array2::<f32>::zeros((0, 4));
        assert!(overlap_pairs(&boxes.view(), None, -1.0)
            .unwrap_err()
            .0
            .starts_with("min_area"));
        assert!(overlap_pairs(&boxes.view(), None, f64::NAN).is_err());
    }
}
