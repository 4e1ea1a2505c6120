//! Axis-aligned boxes `(x0, y0, x1, y1)` read from an `f32[N, 4]` array, validated once.
//!
//! Geometry is computed in f64 so that areas of boxes with large coordinates stay exact enough;
//! results go back to Python as f32.

use std::borrow::Cow;

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::error::{KResult, KernelError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Bbox {
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Bbox { x0, y0, x1, y1 }
    }

    pub fn area(&self) -> f64 {
        (self.x1 - self.x0) * (self.y1 - self.y0)
    }

    /// Area shared with `other`; 0 when they only touch or are apart.
    pub fn intersection(&self, other: &Bbox) -> f64 {
        let w = self.x1.min(other.x1) - self.x0.max(other.x0);
        let h = self.y1.min(other.y1) - self.y0.max(other.y0);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }

    /// True when `self` lies inside `other`, edges included.
    pub fn inside(&self, other: &Bbox) -> bool {
        self.x0 >= other.x0 && self.x1 <= other.x1 && self.y0 >= other.y0 && self.y1 <= other.y1
    }
}

/// Check the shape of an `[N, 4]` view (callers from Python cannot get this wrong through the
/// wrapper, but the private module must not panic either).
pub fn check_width(view: &ArrayView2<f32>, name: &str) -> KResult<()> {
    if view.ncols() != 4 {
        return Err(KernelError::arg(
            name,
            format!("expected shape (N, 4), got {:?}", view.shape()),
        ));
    }
    Ok(())
}

/// Read and validate every row: finite coordinates, `x0 <= x1`, `y0 <= y1`.
pub fn read_boxes(view: &ArrayView2<f32>, name: &str) -> KResult<Vec<Bbox>> {
    check_width(view, name)?;
    view.rows()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let b = Bbox::new(r[0] as f64, r[1] as f64, r[2] as f64, r[3] as f64);
            validate(&b, i, name)?;
            Ok(b)
        })
        .collect()
}

/// The view's elements in row-major order: borrowed when the array is C-contiguous (the Python
/// wrapper makes sure it is), copied once otherwise.
pub fn flat<'a, T: Clone>(view: &'a ArrayView2<T>) -> Cow<'a, [T]> {
    match view.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(view.iter().cloned().collect()),
    }
}

/// Validate `[N, 4]` rows in parallel without converting them; the error names the first bad row.
pub fn validate_flat(rows: &[f32], name: &str) -> KResult<()> {
    let bad = |r: &[f32]| !(r.iter().all(|v| v.is_finite())) || r[2] < r[0] || r[3] < r[1];
    if !rows.par_chunks_exact(4).with_min_len(8192).any(bad) {
        return Ok(());
    }
    let (row, r) = rows
        .chunks_exact(4)
        .enumerate()
        .find(|(_, r)| bad(r))
        .expect("found above");
    validate(
        &Bbox::new(r[0] as f64, r[1] as f64, r[2] as f64, r[3] as f64),
        row,
        name,
    )
}

pub fn validate(b: &Bbox, row: usize, name: &str) -> KResult<()> {
    if !(b.x0.is_finite() && b.y0.is_finite() && b.x1.is_finite() && b.y1.is_finite()) {
        return Err(KernelError::arg(
            name,
            format!(
                "row {row} has a NaN or infinite coordinate ({}, {}, {}, {})",
                b.x0, b.y0, b.x1, b.y1
            ),
        ));
    }
    if b.x1 < b.x0 {
        return Err(KernelError::arg(
            name,
            format!(
                "row {row} has x1 < x0 (x0={}, x1={}); boxes are (x0, y0, x1, y1)",
                b.x0, b.x1
            ),
        ));
    }
    if b.y1 < b.y0 {
        return Err(KernelError::arg(
            name,
            format!(
                "row {row} has y1 < y0 (y0={}, y1={}); boxes are (x0, y0, x1, y1)",
                b.y0, b.y1
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn intersection_excludes_touching() {
        let a = Bbox::new(0.0, 0.0, 10.0, 10.0);
        let b = Bbox::new(10.0, 0.0, 20.0, 10.0);
        assert_eq!(a.intersection(&b), 0.0);
        let c = Bbox::new(5.0, 5.0, 15.0, 15.0);
        assert_eq!(a.intersection(&c), 25.0);
    }

    #[test]
    fn rejects_bad_rows_with_the_argument_name() {
        let bad = array![[0.0f32, 0.0, 1.0, 1.0], [5.0, 0.0, 2.0, 1.0]];
        let err = read_boxes(&bad.view(), "boxes").unwrap_err();
        assert!(err.0.starts_with("boxes: row 1 has x1 < x0"), "{}", err);
        let nan = array![[f32::NAN, 0.0, 1.0, 1.0]];
        assert!(read_boxes(&nan.view(), "containers")
            .unwrap_err()
            .0
            .starts_with("containers: row 0"));
        let wide = ndarray::Array2::<f32>::zeros((3, 5));
        assert!(read_boxes(&wide.view(), "boxes")
            .unwrap_err()
            .0
            .contains("[3, 5]"));
    }
}
