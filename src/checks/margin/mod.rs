//! The `margin` family: separable classification with the exponential loss (THEORY §5, §8). The
//! ℓ_q steepest flow on the two-sided depth-L diagonal model converges in direction to a KKT point
//! of `min ‖w‖_p s.t. y_k a_kᵀx(w) ≥ 1`, `p = q/(q−1)`; for balanced optima a KKT point of the
//! max-margin problem `min ‖x‖_r s.t. Gx ≥ 1` in x, `r = p/L` (G = diag(y) A). One claim per file:
//! - [`kkt_direction::KktDirection`] (q > 1): the flow's direction satisfies the first-order (KKT)
//!   conditions of the ℓ_r problem — stationarity with nonnegative multipliers on the active
//!   constraints, and at the coordinates the flow lets die the condition of its weights — or, claimed
//!   `global`, is the global optimum;
//! - [`sign_max_margin::SignMaxMargin`] (q = 1, SignGF): the normalised ℓ∞ margin increases to the ℓ∞
//!   max margin on the coordinates the flow keeps alive, for every depth.
//!
//! Both share the sweep of the flow ([`crate::margin::sweep`]) and the monotonicity rows: the ℓ_r
//! margin and the smoothed margin `−ln F/‖w‖_p^L` never decrease along the sweep.

pub mod kkt_direction;
pub mod sign_max_margin;

use crate::checks::Numerics;
use crate::error::{check_positive, InputError, InputResult};
use crate::margin::{signed_data, sweep, Sweep};
use crate::problem::{check_size, Problem};
use crate::verdict::{display_number, worst, Evidence};
use nalgebra::DMatrix;
use schemars::JsonSchema;
use serde::Deserialize;

/// What the card claims the limit direction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// A KKT point: optimal on the coordinates the flow keeps alive (a coordinate whose weights
    /// vanish is a saddle of the product map).
    Kkt,
    /// The global optimum over all coordinates.
    Global,
}

pub(crate) fn kkt() -> Prediction {
    Prediction::Kkt
}

pub(crate) fn default_support() -> f64 {
    1e-2
}

pub(crate) fn default_alpha() -> f64 {
    0.1
}

pub(crate) fn default_dim() -> usize {
    5
}

pub(crate) fn default_samples() -> usize {
    8
}

pub(crate) fn default_seed() -> u64 {
    1
}

/// Largest sweep time of a sign flow: its event-driven integrator switches O(t) times.
pub const MAX_SIGN_TIME: f64 = 1e5;

/// Validates the data and the sweep: problem size, `support ∈ (0, 1)`, `α > 0`, times positive,
/// increasing and finite (q > 1: above t = 1, the log-time sweep; q = 1: at most
/// [`MAX_SIGN_TIME`]).
pub(crate) fn validate_sweep(
    samples: usize,
    dim: usize,
    alpha: f64,
    support: f64,
    times: &[f64],
    q: f64,
) -> InputResult<()> {
    check_size(samples, dim)?;
    check_positive("alpha", alpha)?;
    if !(support > 0.0 && support < 1.0) {
        return Err(InputError::new("support", format!("the alive floor must lie in (0, 1), got {support}")));
    }
    if times.is_empty() || times.windows(2).any(|p| p[1] <= p[0]) || times.iter().any(|t| !t.is_finite() || *t <= 0.0) {
        return Err(InputError::new("times", "must be finite, positive and increasing"));
    }
    if q > 1.0 && times[0] <= 1.0 {
        return Err(InputError::new("times", "for q > 1 the sweep must lie above t = 1 (log time from t = 1)"));
    }
    if q == 1.0 && times[times.len() - 1] > MAX_SIGN_TIME {
        return Err(InputError::new("times", format!("sign-flow sweeps end by t = {MAX_SIGN_TIME:e}")));
    }
    Ok(())
}

/// The separable data of a claim (teacher (1, −1, 0, …)), `G = diag(y) A`, and the sweep of the
/// two-sided flow measured in ℓ_r; an integration failure (or a zero/non-finite final x) is the
/// reason of an INCONCLUSIVE row.
pub(crate) fn run_sweep(
    (seed, samples, dim): (u64, usize, usize),
    (depth, q, alpha): (usize, f64, f64),
    times: &[f64],
    r: f64,
    numerics: &Numerics,
) -> InputResult<Result<(DMatrix<f64>, Sweep), String>> {
    let problem = Problem::separable(seed, samples, dim, &[1.0, -1.0]);
    let s = match sweep(&problem, depth, q, alpha, times, r, &numerics.settings())? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let top = s.x.last().map_or(f64::NAN, crate::verdict::worst_abs);
    if !(top.is_finite() && top > 0.0) {
        return Ok(Err(format!("‖x(t_max)‖∞ = {top}: no direction")));
    }
    Ok(Ok((signed_data(&problem), s)))
}

/// The two monotonicity rows: the largest relative decrease of the ℓ_r margin and of the smoothed
/// margin `−ln F/‖w‖_p^L` along the sweep (0 for a non-decreasing sweep; tolerance `shrink`).
pub(crate) fn monotone_rows(case: &str, s: &Sweep, r: f64, p: f64, shrink: f64, route: &str) -> Vec<Evidence> {
    vec![
        decrease_row(
            case,
            &format!("largest decrease of the ℓ_{} margin (relative)", display_number(r)),
            &s.margins,
            shrink,
            route,
        ),
        decrease_row(
            case,
            &format!("largest decrease of −ln F/‖w‖_{}^L (relative)", display_number(p)),
            &s.smoothed,
            shrink,
            route,
        ),
    ]
}

/// The largest relative decrease `max_j (v_j − v_{j+1})/|v_last|` between consecutive values (NaN
/// propagates): 0 for a non-decreasing sweep.
fn decrease_row(case: &str, quantity: &str, values: &[f64], tolerance: f64, route: &str) -> Evidence {
    let scale = values.last().map_or(f64::NAN, |v| v.abs());
    let drop = values.windows(2).map(|p| (p[0] - p[1]) / scale).fold(f64::NEG_INFINITY, worst);
    Evidence::with_error(case, quantity, 0.0, drop, worst(drop, 0.0), tolerance, route)
}

/// `1e14` for large times, `2560` for small ones.
pub(crate) fn time_label(t: f64) -> String {
    if t >= 1e6 {
        format!("{t:.0e}")
    } else {
        display_number(t)
    }
}
