//! vsdpo's performance core: defect-detection and credit-assignment kernels over whole rollout
//! groups, exposed to Python as the private module `vsdpo._kernels` (wrapped, typed and
//! documented by `vsdpo.kernels`).
//!
//! Each binding borrows the numpy inputs as views (no copy), releases the GIL for the whole
//! computation, and hands freshly allocated `Vec`s back to numpy without copying. Errors are
//! `KernelError`s raised as `ValueError`; nothing here panics on user input.

pub mod align;
pub mod boxes;
pub mod contrast;
pub mod error;
pub mod groups;
pub mod outside;
pub mod overlap;
pub mod tokens;

use ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::KernelError;

impl From<KernelError> for PyErr {
    fn from(e: KernelError) -> PyErr {
        PyValueError::new_err(e.0)
    }
}

type Arr1<'py, T> = Bound<'py, PyArray1<T>>;
type Arr2<'py, T> = Bound<'py, PyArray2<T>>;

fn pairs_array<'py>(py: Python<'py>, flat: Vec<i64>) -> PyResult<Arr2<'py, i64>> {
    let rows = flat.len() / 2;
    let arr = Array2::from_shape_vec((rows, 2), flat)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(arr.into_pyarray(py))
}

#[pyfunction]
#[pyo3(name = "overlap_pairs")]
#[pyo3(signature = (boxes, groups, min_area))]
fn py_overlap_pairs<'py>(
    py: Python<'py>,
    boxes: PyReadonlyArray2<'py, f32>,
    groups: Option<PyReadonlyArray1<'py, i32>>,
    min_area: f64,
) -> PyResult<(Arr2<'py, i64>, Arr1<'py, f32>, Arr1<'py, f32>)> {
    let b = boxes.as_array();
    let g = groups.as_ref().map(|g| g.as_array());
    let found = py.detach(|| overlap::overlap_pairs(&b, g.as_ref(), min_area))?;
    Ok((
        pairs_array(py, found.pairs)?,
        found.inter.into_pyarray(py),
        found.iou.into_pyarray(py),
    ))
}

#[pyfunction]
#[pyo3(name = "outside_fraction")]
fn py_outside_fraction<'py>(
    py: Python<'py>,
    boxes: PyReadonlyArray2<'py, f32>,
    containers: PyReadonlyArray2<'py, f32>,
) -> PyResult<Arr1<'py, f32>> {
    let (b, c) = (boxes.as_array(), containers.as_array());
    let out = py.detach(|| outside::outside_fraction(&b, &c))?;
    Ok(out.into_pyarray(py))
}

#[pyfunction]
#[pyo3(name = "contrast")]
fn py_contrast<'py>(
    py: Python<'py>,
    image: PyReadonlyArray3<'py, u8>,
    boxes: PyReadonlyArray2<'py, f32>,
) -> PyResult<(Arr1<'py, f32>, Arr2<'py, u8>, Arr2<'py, u8>)> {
    let (img, b) = (image.as_array(), boxes.as_array());
    let out = py.detach(|| contrast::contrast(&img, &b))?;
    let colours = |v: Vec<[u8; 3]>| -> PyResult<Arr2<'py, u8>> {
        let n = v.len();
        let flat: Vec<u8> = v.into_iter().flatten().collect();
        let arr = Array2::from_shape_vec((n, 3), flat)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(arr.into_pyarray(py))
    };
    Ok((
        out.ratio.into_pyarray(py),
        colours(out.fg)?,
        colours(out.bg)?,
    ))
}

#[pyfunction]
#[pyo3(name = "near_misaligned")]
#[pyo3(signature = (boxes, groups, tol))]
fn py_near_misaligned<'py>(
    py: Python<'py>,
    boxes: PyReadonlyArray2<'py, f32>,
    groups: Option<PyReadonlyArray1<'py, i32>>,
    tol: f64,
) -> PyResult<(Arr2<'py, i64>, Arr1<'py, i8>, Arr1<'py, f32>)> {
    let b = boxes.as_array();
    let g = groups.as_ref().map(|g| g.as_array());
    let found = py.detach(|| align::near_misaligned(&b, g.as_ref(), tol))?;
    let pairs = found
        .iter()
        .flat_map(|m| [m.i as i64, m.j as i64])
        .collect();
    let edge: Vec<i8> = found.iter().map(|m| m.edge).collect();
    let delta: Vec<f32> = found.iter().map(|m| m.delta).collect();
    Ok((
        pairs_array(py, pairs)?,
        edge.into_pyarray(py),
        delta.into_pyarray(py),
    ))
}

#[pyfunction]
#[pyo3(name = "token_weights")]
fn py_token_weights<'py>(
    py: Python<'py>,
    token_offsets: PyReadonlyArray2<'py, i64>,
    spans: PyReadonlyArray2<'py, i64>,
    span_weights: PyReadonlyArray1<'py, f32>,
    base: f64,
) -> PyResult<Arr1<'py, f32>> {
    let (t, s, w) = (
        token_offsets.as_array(),
        spans.as_array(),
        span_weights.as_array(),
    );
    let out = py.detach(|| tokens::token_weights(&t, &s, &w, base))?;
    Ok(out.into_pyarray(py))
}

#[pyfunction]
#[pyo3(name = "token_weights_batch")]
fn py_token_weights_batch<'py>(
    py: Python<'py>,
    token_offsets: PyReadonlyArray2<'py, i64>,
    token_splits: PyReadonlyArray1<'py, i64>,
    spans: PyReadonlyArray2<'py, i64>,
    span_weights: PyReadonlyArray1<'py, f32>,
    span_splits: PyReadonlyArray1<'py, i64>,
    base: f64,
) -> PyResult<Arr1<'py, f32>> {
    let (t, ts) = (token_offsets.as_array(), token_splits.as_array());
    let (s, w, ss) = (
        spans.as_array(),
        span_weights.as_array(),
        span_splits.as_array(),
    );
    let out = py.detach(|| tokens::token_weights_batch(&t, &ts, &s, &w, &ss, base))?;
    Ok(out.into_pyarray(py))
}

#[pymodule]
fn _kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_overlap_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(py_outside_fraction, m)?)?;
    m.add_function(wrap_pyfunction!(py_contrast, m)?)?;
    m.add_function(wrap_pyfunction!(py_near_misaligned, m)?)?;
    m.add_function(wrap_pyfunction!(py_token_weights, m)?)?;
    m.add_function(wrap_pyfunction!(py_token_weights_batch, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
