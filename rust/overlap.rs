//! Overlapping pairs of boxes within each rollout group: sweep-and-prune along x.
//!
//! Boxes of a group are visited in order of their left edge; an "active" list holds the boxes
//! whose right edge is still to the right of the current left edge. Only active boxes can
//! intersect the current one, so the cost is O(n log n + n * active) instead of O(n^2).

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::boxes::{read_boxes, Bbox};
use crate::error::{KResult, KernelError};
use crate::groups::partition;

/// One overlapping pair: `i < j`, their intersection area and intersection over union.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    pub i: u32,
    pub j: u32,
    pub inter: f64,
    pub iou: f64,
}

pub fn overlap_pairs(
    boxes: &ArrayView2<f32>,
    groups: Option<&ArrayView1<i32>>,
    min_area: f64,
) -> KResult<Vec<Overlap>> {
    if !(min_area.is_finite() && min_area >= 0.0) {
        return Err(KernelError::arg(
            "min_area",
            format!("expected a finite number >= 0, got {min_area}"),
        ));
    }
    let b = read_boxes(boxes, "boxes")?;
    let parts = partition(groups, b.len())?;
    let mut found: Vec<Overlap> = parts
        .into_par_iter()
        .flat_map_iter(|members| sweep(&b, members, min_area))
        .collect();
    found.par_sort_unstable_by_key(|o| (o.i, o.j));
    Ok(found)
}

/// Sweep-and-prune over one group's members.
fn sweep(b: &[Bbox], members: Vec<u32>, min_area: f64) -> Vec<Overlap> {
    // A local copy sorted by left edge keeps the inner loop on contiguous memory. Zero-area
    // boxes never have a positive intersection, so they are left out.
    let mut local: Vec<(Bbox, u32)> = members
        .into_iter()
        .map(|i| (b[i as usize], i))
        .filter(|(bb, _)| bb.area() > 0.0)
        .collect();
    local.sort_unstable_by(|p, q| p.0.x0.total_cmp(&q.0.x0).then(p.1.cmp(&q.1)));

    let mut out = Vec::new();
    let mut active: Vec<usize> = Vec::new(); // positions in `local`
    for p in 0..local.len() {
        let (bi, i) = local[p];
        active.retain(|&q| local[q].0.x1 > bi.x0);
        for &q in &active {
            let (bj, j) = local[q];
            // x overlap is guaranteed by the sweep; test y first, it rejects most pairs cheaply.
            if bj.y1 <= bi.y0 || bi.y1 <= bj.y0 {
                continue;
            }
            let inter = bi.intersection(&bj);
            if inter > min_area && inter > 0.0 {
                let union = bi.area() + bj.area() - inter;
                let (lo, hi) = if i < j { (i, j) } else { (j, i) };
                out.push(Overlap {
                    i: lo,
                    j: hi,
                    inter,
                    iou: inter / union,
                });
            }
        }
        active.push(p);
    }
    out
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
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].i, got[0].j), (0, 1));
        assert_eq!(got[0].inter, 25.0);
        assert!((got[0].iou - 25.0 / 175.0).abs() < 1e-12);
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
        assert_eq!(
            got.iter().map(|o| (o.i, o.j)).collect::<Vec<_>>(),
            vec![(0, 2)]
        );
        assert!(overlap_pairs(&boxes.view(), Some(&g.view()), 100.0)
            .unwrap()
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
            .iter()
            .map(|o| (o.i, o.j))
            .collect();
        let b = read_boxes(&boxes.view(), "boxes").unwrap();
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
