//! The error every invariant check returns: a plain description of what is inconsistent.
//!
//! A violation is a programmer error, never a user error, so one string type is enough; tests
//! print it and the engine asserts on the cheap checks.

use thiserror::Error;

/// A broken internal invariant, described for a human.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invariant violated: {what}")]
pub struct InvariantError {
    pub what: String,
}

impl InvariantError {
    /// Wraps a description.
    pub fn new(what: String) -> InvariantError {
        InvariantError { what }
    }
}
