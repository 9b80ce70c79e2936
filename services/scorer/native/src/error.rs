//! The store's errors, kept free of Python so the core is plain Rust; each maps
//! to the exception class the Python store raises in the same situation.

use pyo3::exceptions::{PyIndexError, PyKeyError, PyOverflowError, PyValueError};
use pyo3::PyErr;

/// An error the Python reference raises as the exception named by the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `ValueError` (bad or truncated records, `int(nan)`, math domain errors).
    Value(String),
    /// `OverflowError` (`int(inf)`, a bucket key beyond int64).
    Overflow(String),
    /// `KeyError` (a restored customer without one of the distinct kinds).
    Key(String),
    /// `IndexError` (a dirty entity asked for a history without hour buckets).
    Index(String),
}

impl Error {
    /// The message of a record too short for what its header announces.
    pub fn truncated() -> Self {
        Error::Value("truncated feature-state snapshot".into())
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Value(msg) => PyValueError::new_err(msg),
            Error::Overflow(msg) => PyOverflowError::new_err(msg),
            Error::Key(msg) => PyKeyError::new_err(msg),
            Error::Index(msg) => PyIndexError::new_err(msg),
        }
    }
}

/// Results of the store's core.
pub type Result<T> = std::result::Result<T, Error>;
