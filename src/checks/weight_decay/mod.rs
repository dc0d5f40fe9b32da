//! The `weight-decay` family: coupled (Adam + L2) vs decoupled (AdamW) weight decay, THEORY §1, §2,
//! §6, §8, §9, one claim per file:
//! - [`equilibria::Equilibria`]: the long-time limit of the balanced flow is the stationary point of
//!   the regularised objective reached from the initialisation (decoupled SignGF: the box
//!   `|x| ≤ μ^{−L}`);
//! - [`separation::Separation`]: coupled and decoupled SignGF limits differ, and which is closer to
//!   the target depends on where it lies relative to `(μ, μ^{−L})`;
//! - [`time_mirror::TimeMirror`]: L = 2, decoupled decay: `d/dt R'_{λ(t)}(x) = −φ_q(g)` with
//!   `λ(t) = λ_0 e^{−qμt}` (holds for q = 2 only, THEORY §8);
//! - [`optimizer_order::OptimizerOrder`]: GD, SignGD, Adam, AdamW with step η track their flows to
//!   order 1 in η;
//! - [`adam_beta2::AdamBeta2`]: Adam(β1 = 0, β2) moves away from SignGD as β2 grows;
//! - [`adamw_box::AdamwBox`]: AdamW converges to a KKT point of `min F(w) s.t. |w_j| ≤ 1/μ`;
//! - [`decoupled_regulariser::DecoupledRegulariser`]: balanced decoupled decay is the mirror flow
//!   with the regulariser drift `−μM'(x)`, `M = Σ|x|^{2−m}/(2−m)` (Table 1);
//! - [`decoupled_selection::DecoupledSelection`]: which interpolator decoupled SignGF selects on
//!   under-determined data (open: figures against min ℓ1, min Σ|x|^{2−m} and SignGD).

pub mod adam_beta2;
pub mod adamw_box;
pub mod decoupled_regulariser;
pub mod decoupled_selection;
pub mod equilibria;
pub mod optimizer_order;
pub mod separation;
pub mod time_mirror;

use crate::error::{check_depth, check_positive, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::geometry::dual_exponent;
use crate::problem::{check_size, Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use crate::roots::brent;
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// The tolerances of the weight-decay claims.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightDecayTolerance {
    /// The claim's error bound (relative limits, KKT residuals, mismatch, slope or growth margin:
    /// see each claim).
    pub wd: f64,
}

/// How weight decay enters the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    /// Coupled (L2 penalty inside the steepest map): `ẇ = −φ_q(∇F + μw)` (Adam + L2).
    Coupled,
    /// Decoupled: `ẇ = −φ_q(∇F) − μw` (AdamW).
    Decoupled,
}

impl Decay {
    /// The flow's [`WeightDecay`] with strength μ.
    pub fn with(self, mu: f64) -> WeightDecay {
        match self {
            Decay::Coupled => WeightDecay::Coupled(mu),
            Decay::Decoupled => WeightDecay::Decoupled(mu),
        }
    }
}

/// A claimed long-time limit of coordinate k (target b, weight decay μ, depth L).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// The theory (THEORY §6, §8): the stationary point of the regularised objective of the decay
    /// reached from the initialisation; decoupled SignGF: `min(b, μ^{−L})`.
    Stationary,
    /// The soft threshold `max(b − μ, 0)` (coupled decay at L = 2, claimed for every flow).
    SoftThreshold,
    /// The box solution `min(b, μ^{−L})` (decoupled SignGF, claimed for every flow).
    Box,
    /// The unconstrained minimiser `x = b` (weight decay claimed to have no effect).
    Unconstrained,
    /// The stationary point of `f + μM`, `M = Σ|x|^{2−m}/(2−m)`, `m = q(L−1)/L`, reached from the
    /// initialisation: decoupled decay's mirror-space regulariser (THEORY §9) claimed to fix the
    /// equilibria too (true at q = 2 only; for q < 2 they are those of `f + μ^{p−1}(L/p)Σ|x|^{p/L}`).
    MirrorRegulariser,
}

pub(crate) fn one_u64() -> u64 {
    1
}

pub(crate) fn horizon() -> f64 {
    400.0
}

pub(crate) fn stationary() -> Limit {
    Limit::Stationary
}

/// Validates the common keys of a target regression: `L ≥ 1`, `α > 0`, `μ > 0`, at least one
/// target, every target finite and positive (the positive balanced initialisation reaches only
/// positive targets, THEORY §6), the design of `d + 2 × d` entries within the problem budget.
pub(crate) fn check_regression(depth: usize, alpha: f64, mu: f64, targets: &[f64]) -> InputResult<()> {
    check_depth("depth", depth as i64)?;
    check_positive("alpha", alpha)?;
    check_positive("weight_decay", mu)?;
    if targets.is_empty() {
        return Err(InputError::new("targets", "at least one target is needed"));
    }
    if let Some(b) = targets.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
        return Err(InputError::new("targets", format!("targets must be finite and positive, got {b}")));
    }
    check_size(targets.len() + 2, targets.len()).map_err(|e| InputError::new("targets", e.message))
}

/// A problem whose loss is `½‖x − b‖²` up to a constant: scalar for one target, otherwise a dense
/// design with orthonormal columns (thin QR of a seeded Gaussian matrix, n = d + 2).
pub fn design(targets: &[f64], seed: u64) -> Problem {
    let d = targets.len();
    let b = DVector::from_column_slice(targets);
    if d == 1 {
        return Problem { a: DMatrix::from_element(1, 1, 1.0), y: b, loss: Loss::Squared };
    }
    let raw = Problem::random_regression(seed, d + 2, d, 0).a;
    let q = raw.qr().q();
    let y = &q * b;
    Problem { a: q, y, loss: Loss::Squared }
}

/// A regression `f = ½‖Qx − Qb‖² = ½‖x − b‖²` (Q with orthonormal columns; Q = 1 for one target)
/// on a balanced deep diagonal model.
pub struct Regression {
    /// The problem.
    pub problem: Problem,
    /// The model (one-sided, depth L, dimension = number of targets).
    pub model: DeepDiagonal,
    /// The targets b.
    pub targets: Vec<f64>,
    /// The balanced initial parameters (every weight α).
    pub w0: DVector<f64>,
    /// μ.
    pub mu: f64,
    /// q of the flow.
    pub q: f64,
}

impl Regression {
    /// The regression with targets b, seed of the design, depth L, balanced init α (every weight
    /// `(α^q)^{1/q}`), weight decay μ.
    pub fn new(targets: &[f64], seed: u64, depth: usize, alpha: f64, mu: f64, q: f64) -> InputResult<Self> {
        check_regression(depth, alpha, mu, targets)?;
        let problem = design(targets, seed);
        let model = DeepDiagonal::new(depth, targets.len());
        let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
        Ok(Self { problem, model, targets: targets.to_vec(), w0, mu, q })
    }
}

/// The claimed limit of the balanced scalar flow from `x0 > 0` towards target `b > 0`:
/// [`Limit::SoftThreshold`] `max(b − μ, 0)`, [`Limit::Box`] `min(b, μ^{−L})`,
/// [`Limit::Unconstrained`] `b`, or [`Limit::Stationary`], the theory (THEORY §6, §8): with all
/// layers equal to `w = x^{1/L}` the flow is one-dimensional and `ẋ` has the sign of `−S(x)`, with
/// `S` the derivative of the regularised objective:
/// - coupled (any q) and q = 2: `S(x) = x − b + μ x^{2/L − 1}` (`f + (μL/2)|x|^{2/L}`);
/// - decoupled, q ∈ (1, 2): `S(x) = x − b + μ^{p−1} x^{p/L − 1}` (`f + (μ^{p−1}L/p)|x|^{p/L}`);
/// - decoupled, q = 1: the KKT point of `min f s.t. x ≤ μ^{−L}`: `min(b, μ^{−L})`;
/// - [`Limit::MirrorRegulariser`] (any decay): `S(x) = x − b + μ x^{1−m}` (`f + μM`).
///
/// x moves monotonically to the first zero of S in the direction of `−S(x0)` (a geometric scan
/// with ratio 1.001, then Brent), or to 0 when S stays positive below x0 (the stable point reached
/// from the initialisation).
pub fn predicted_limit(
    limit: Limit,
    decay: Decay,
    q: f64,
    depth: usize,
    mu: f64,
    b: f64,
    x0: f64,
) -> Result<f64, String> {
    let l = depth as f64;
    match limit {
        Limit::SoftThreshold => return Ok((b - mu).max(0.0)),
        Limit::Box => return Ok(b.min(mu.powf(-l))),
        Limit::Unconstrained => return Ok(b),
        Limit::Stationary | Limit::MirrorRegulariser => {}
    }
    let (coef, expo) = match decay {
        _ if limit == Limit::MirrorRegulariser => (mu, 1.0 - crate::geometry::mirror_exponent(depth, q)),
        Decay::Decoupled if q == 1.0 => return Ok(b.min(mu.powf(-l))),
        // (cargo-mutants: dropping `q < 2`, or `q <= 2`, is equivalent: q = 2 gives p = 2 and the
        // coupled law below)
        Decay::Decoupled if q < 2.0 => {
            let p = dual_exponent(q);
            (mu.powf(p - 1.0), p / l - 1.0)
        }
        _ => (mu, 2.0 / l - 1.0),
    };
    let s = |x: f64| x - b + coef * x.powf(expo);
    let s0 = s(x0);
    if s0 == 0.0 {
        return Ok(x0);
    }
    // (cargo-mutants: `<=` is equivalent, s0 = 0 returned above)
    let ratio: f64 = if s0 < 0.0 { 1.001 } else { 1.0 / 1.001 };
    let mut a = x0;
    for _ in 0..1_000_000 {
        let next = a * ratio;
        // (cargo-mutants: `/` for `*` is equivalent: s0 ≠ 0 here, and the quotient has the
        // product's sign)
        if s(next) * s0 <= 0.0 {
            let (lo, hi) = (a.min(next), a.max(next));
            return brent(s, lo, hi, 1e-15 * hi).map_err(|e| e.to_string());
        }
        // (cargo-mutants: `<=` is equivalent, the scan's value landing exactly on 1e-100 is a tie
        // of measure zero and either branch then reports a limit below 1e-100)
        if next < 1e-100 {
            return Ok(0.0);
        }
        a = next;
    }
    Err("no zero of the stationarity function found in the scan".into())
}

/// An Adam moment decay β ∈ [0, 1) at `key`.
pub(crate) fn check_beta(key: &str, beta: f64) -> InputResult<f64> {
    if (0.0..1.0).contains(&beta) {
        Ok(beta)
    } else {
        Err(InputError::new(key, format!("β must lie in [0, 1), got {beta}")))
    }
}

/// Most optimizer steps (or flow-time/η ratios) one grid point may take (a budget).
pub const MAX_STEPS: f64 = 1e7;

/// `steps ∈ [1, MAX_STEPS]` at `key`.
pub(crate) fn check_steps(key: &str, steps: f64) -> InputResult<()> {
    if !(1.0..=MAX_STEPS).contains(&steps) {
        return Err(InputError::new(key, format!("{steps:.3e} steps: must lie in [1, {MAX_STEPS:e}]")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_three_basin_of_theory_section_8() {
        // THEORY §8: y = 1, μ = 0.1, L = 3, coupled: x → 0 for α ≤ 0.09, x → 0.896 for α ≥ 0.11
        let st = Limit::Stationary;
        let limit = |alpha: f64| predicted_limit(st, Decay::Coupled, 2.0, 3, 0.1, 1.0, alpha.powi(3)).unwrap();
        assert_eq!(limit(0.09), 0.0);
        assert!((limit(0.11) - 0.896).abs() < 1e-3, "{}", limit(0.11));
        // THEORY §6 table (L = 2, μ = 0.1): soft threshold for coupled, box for decoupled SignGF
        let c = |y: f64| predicted_limit(st, Decay::Coupled, 1.0, 2, 0.1, y, 0.01).unwrap();
        let d = |y: f64| predicted_limit(st, Decay::Decoupled, 1.0, 2, 0.1, y, 0.01).unwrap();
        assert_eq!((c(0.05), d(0.05)), (0.0, 0.05));
        // Brent to 1e−15 relative; 0.1^(−2) is 100 up to rounding
        assert!((c(0.5) - 0.4).abs() < 1e-12, "{}", c(0.5));
        assert!((c(200.0) - 199.9).abs() < 1e-9, "{}", c(200.0));
        assert!((d(200.0) - 100.0).abs() < 1e-12, "{}", d(200.0));
        // the bracket's root to 1e−15 relative even at x ≈ 1e−30 (coupled GF, L = 2: x = b − μ)
        let tiny = predicted_limit(st, Decay::Coupled, 2.0, 2, 1e-30, 3e-30, 1e-31).unwrap();
        assert!((tiny - 2e-30).abs() < 1e-12 * 2e-30, "{tiny}");
        // decoupled q = 1.5, L = 2: (y − x) = μ² sqrt(x)
        let x = predicted_limit(st, Decay::Decoupled, 1.5, 2, 0.1, 0.5, 0.01).unwrap();
        assert!((0.5 - x - 0.01 * x.sqrt()).abs() < 1e-13, "{x}");
        // the claimed alternatives
        assert_eq!(predicted_limit(Limit::SoftThreshold, Decay::Decoupled, 1.0, 2, 0.1, 0.5, 0.01), Ok(0.4));
        assert_eq!(predicted_limit(Limit::Unconstrained, Decay::Decoupled, 1.0, 2, 0.1, 200.0, 0.01), Ok(200.0));
        // the box claim for any flow: SignGF with decoupled decay stops where ẇ = 1 − μw = 0, |w| = 1/μ
        // per layer, so x ≤ (1/μ)^L: μ = ½, L = 3 gives 8 (b = 100 above it; b = 5 inside it)
        assert_eq!(predicted_limit(Limit::Box, Decay::Coupled, 2.0, 3, 0.5, 100.0, 0.01), Ok(8.0));
        assert_eq!(predicted_limit(Limit::Box, Decay::Coupled, 2.0, 3, 0.5, 5.0, 0.01), Ok(5.0));
        // f + μM: q = 1.5, L = 3 has m = 1, M' = 1: the soft threshold b − μ (decoupled: b − μ²)
        let mr = predicted_limit(Limit::MirrorRegulariser, Decay::Decoupled, 1.5, 3, 0.1, 0.5, 0.01).unwrap();
        assert!((mr - 0.4).abs() < 1e-12, "{mr}");
        let st = predicted_limit(Limit::Stationary, Decay::Decoupled, 1.5, 3, 0.1, 0.5, 0.01).unwrap();
        assert!((st - 0.49).abs() < 1e-12, "{st}");
        // q = 2: M = Σ|x|^(2/L)/(2/L), so f + μM is the coupled objective f + (μL/2)Σ|x|^(2/L)
        for depth in [2, 3] {
            let a = predicted_limit(Limit::MirrorRegulariser, Decay::Decoupled, 2.0, depth, 0.1, 0.5, 0.3).unwrap();
            let b = predicted_limit(Limit::Stationary, Decay::Coupled, 2.0, depth, 0.1, 0.5, 0.3).unwrap();
            assert_eq!(a, b);
        }
    }
}
