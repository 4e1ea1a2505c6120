//! The one error type of the kernels: a message that names the offending argument.
//!
//! Every kernel validates its inputs and returns `Err(KernelError)` instead of panicking; the
//! pyo3 layer turns it into a Python `ValueError` with the same text.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError(pub String);

impl KernelError {
    /// An error about argument `name`, e.g. `boxes: row 3 has x1 < x0 (x0=5, x1=2)`.
    pub fn arg(name: &str, msg: impl fmt::Display) -> Self {
        KernelError(format!("{name}: {msg}"))
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KernelError {}

pub type KResult<T> = Result<T, KernelError>;
