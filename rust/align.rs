//! Near-miss alignment: pairs of boxes whose edges differ by a little, but not by nothing.
//!
//! Edges that almost line up look like mistakes; edges that line up exactly, or are far
//! apart, look intended. For each group and each of the six edge classes the edge values are
//! sorted, and each box is compared only with the boxes within `tol` after it.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use crate::boxes::{check_width, read_boxes};
use crate::error::{KResult, KernelError};
use crate::groups::partition;

pub const EDGE_CLASSES: usize = 6; // left, right, h-centre, top, bottom, v-centre

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearMiss {
    pub i: u32,
    pub j: u32,
    pub edge: i8,
    /// `e_j - e_i`, computed in f32 like the edges themselves.
    pub delta: f32,
}

/// Edge value of class `edge` for a raw f32 row; centres are `(a + b) * 0.5` in f32.
fn edge_value(r: &[f32; 4], edge: usize) -> f32 {
    match edge {
        0 => r[0],
        1 => r[2],
        2 => (r[0] + r[2]) * 0.5,
        3 => r[1],
        4 => r[3],
        _ => (r[1] + r[3]) * 0.5,
    }
}

pub fn near_misaligned(
    boxes: &ArrayView2<f32>,
    groups: Option<&ArrayView1<i32>>,
    tol: f64,
) -> KResult<Vec<NearMiss>> {
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(KernelError::arg(
            "tol",
            format!("expected a finite number >= 0, got {tol}"),
        ));
    }
    check_width(boxes, "boxes")?;
    read_boxes(boxes, "boxes")?; // validation only: edges are compared in f32 below
    let rows: Vec<[f32; 4]> = boxes
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect();
    let parts = partition(groups, rows.len())?;
    let tol = tol as f32;

    let jobs: Vec<(usize, usize)> = (0..parts.len())
        .flat_map(|g| (0..EDGE_CLASSES).map(move |e| (g, e)))
        .collect();
    let mut found: Vec<NearMiss> = jobs
        .into_par_iter()
        .flat_map_iter(|(g, edge)| {
            let mut vals: Vec<(f32, u32)> = parts[g]
                .iter()
                .map(|&i| (edge_value(&rows[i as usize], edge), i))
                .collect();
            vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut out = Vec::new();
            for p in 0..vals.len() {
                for q in p + 1..vals.len() {
                    // Sorted values: differences grow with q, so stop at the first one past tol.
                    if vals[q].0 - vals[p].0 > tol {
                        break;
                    }
                    let (i, j) = if vals[p].1 < vals[q].1 {
                        (vals[p], vals[q])
                    } else {
                        (vals[q], vals[p])
                    };
                    let delta = j.0 - i.0;
                    if delta != 0.0 && delta.abs() <= tol {
                        out.push(NearMiss {
                            i: i.1,
                            j: j.1,
                            edge: edge as i8,
                            delta,
                        });
                    }
                }
            }
            out
        })
        .collect();
    found.par_sort_unstable_by_key(|m| (m.edge, m.i, m.j));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn left_edges_two_pixels_apart() {
        let boxes = array![[10.0f32, 0.0, 50.0, 10.0], [12.0, 20.0, 50.0, 30.0]];
        let got = near_misaligned(&boxes.view(), None, 4.0).unwrap();
        // left differs by 2; right is exactly aligned (not reported); h-centre differs by 1.
        assert_eq!(
            got,
            vec![
                NearMiss {
                    i: 0,
                    j: 1,
                    edge: 0,
                    delta: 2.0
                },
                NearMiss {
                    i: 0,
                    j: 1,
                    edge: 2,
                    delta: 1.0
                },
            ]
        );
    }

    #[test]
    fn exact_and_far_edges_are_not_near_misses() {
        let boxes = array![
            [0.0f32, 0.0, 10.0, 10.0],
            [0.0, 100.0, 10.0, 110.0],
            [50.0, 0.0, 60.0, 10.0]
        ];
        let got = near_misaligned(&boxes.view(), None, 4.0).unwrap();
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn groups_are_separate() {
        let boxes = array![[10.0f32, 0.0, 50.0, 10.0], [12.0, 20.0, 50.0, 30.0]];
        let g = array![0, 1];
        assert!(near_misaligned(&boxes.view(), Some(&g.view()), 4.0)
            .unwrap()
            .is_empty());
    }
}
