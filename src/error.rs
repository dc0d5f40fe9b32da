//! Errors. Bad input is reported in one line naming the field; the CLI exits with code 2.

use thiserror::Error;

/// An error in user input: a card, a data file or a command-line value.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{location}: {message}")]
pub struct InputError {
    /// Where: a file (and line), and the field.
    pub location: String,
    /// What is wrong with it.
    pub message: String,
}

impl InputError {
    /// An error at `location` (e.g. `"--depth"` or `"theorems/x.toml:12: parameters.q"`).
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { location: location.into(), message: message.into() }
    }
}

/// Shorthand for results whose error is bad input.
pub type InputResult<T> = Result<T, InputError>;

/// `Ok(v)` if `v` is finite, else an error naming `field`.
pub fn finite(field: &str, v: f64) -> InputResult<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(InputError::new(field, format!("must be a finite number, got {v}")))
    }
}

/// Validates a steepest-descent exponent: `q ∈ [1, 2]`.
pub fn check_q(field: &str, q: f64) -> InputResult<f64> {
    if q.is_finite() && (1.0..=2.0).contains(&q) {
        Ok(q)
    } else {
        Err(InputError::new(field, format!("q must lie in [1, 2], got {q}")))
    }
}

/// The largest depth accepted (a budget: deeper products under- or overflow f64 for any scale
/// that is not within a factor 2^(1022/L) of 1).
pub const MAX_DEPTH: i64 = 256;

/// Validates a depth: `1 ≤ L ≤ MAX_DEPTH`.
pub fn check_depth(field: &str, depth: i64) -> InputResult<usize> {
    if (1..=MAX_DEPTH).contains(&depth) {
        Ok(depth as usize)
    } else if depth < 1 {
        Err(InputError::new(field, format!("depth must be at least 1, got {depth}")))
    } else {
        Err(InputError::new(field, format!("depth {depth} exceeds the budget of {MAX_DEPTH} layers")))
    }
}

/// Validates a strictly positive scale (α, step size, time).
pub fn check_positive(field: &str, v: f64) -> InputResult<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(InputError::new(field, format!("must be a positive finite number, got {v}")))
    }
}

/// Validates a non-negative finite number (weight decay, balance magnitudes).
pub fn check_nonnegative(field: &str, v: f64) -> InputResult<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(InputError::new(field, format!("must be a non-negative finite number, got {v}")))
    }
}
