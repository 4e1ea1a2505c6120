//! Fraction of each box lying outside its container (the canvas, an axes, a text frame).

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::boxes::{check_width, flat, validate_flat, Bbox};
use crate::error::{KResult, KernelError};

/// `containers` has one row per box, or a single row shared by every box.
pub fn outside_fraction(
    boxes: &ArrayView2<f32>,
    containers: &ArrayView2<f32>,
) -> KResult<Vec<f32>> {
    check_width(boxes, "boxes")?;
    check_width(containers, "containers")?;
    let (n, m) = (boxes.nrows(), containers.nrows());
    if !(m == n || m == 1) {
        return Err(KernelError::arg(
            "containers",
            format!("expected one container per box ({n}) or a single box, got {m}"),
        ));
    }
    let (b, c) = (flat(boxes), flat(containers));
    validate_flat(&b, "boxes")?;
    validate_flat(&c, "containers")?;
    let as_box = |r: &[f32]| Bbox::new(r[0] as f64, r[1] as f64, r[2] as f64, r[3] as f64);
    let shared = m == 1;
    Ok(b.par_chunks_exact(4)
        .with_min_len(4096)
        .enumerate()
        .map(|(k, r)| {
            let ck = if shared {
                &c[..4]
            } else {
                &c[4 * k..4 * k + 4]
            };
            fraction_outside(&as_box(r), &as_box(ck)) as f32
        })
        .collect())
}

pub fn fraction_outside(b: &Bbox, container: &Bbox) -> f64 {
    let area = b.area();
    if area <= 0.0 {
        // A point or a segment: it is either in or out.
        return if b.inside(container) { 0.0 } else { 1.0 };
    }
    (1.0 - b.intersection(container) / area).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn fractions() {
        let canvas = array![[0.0f32, 0.0, 100.0, 100.0]];
        let boxes = array![
            [90.0f32, 0.0, 110.0, 10.0],
            [0.0, 0.0, 10.0, 10.0],
            [200.0, 200.0, 210.0, 210.0],
            [100.0, 50.0, 100.0, 60.0],
            [101.0, 50.0, 101.0, 60.0]
        ];
        let got = outside_fraction(&boxes.view(), &canvas.view()).unwrap();
        assert_eq!(got, vec![0.5, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn container_count_must_match() {
        let boxes = ndarray::Array2::<f32>::zeros((3, 4));
        let two = ndarray::Array2::<f32>::zeros((2, 4));
        assert!(outside_fraction(&boxes.view(), &two.view())
            .unwrap_err()
            .0
            .starts_with("containers"));
    }
}
