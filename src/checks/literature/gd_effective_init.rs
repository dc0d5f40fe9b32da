//! `literature/gd-effective-init` (Even, Pesme, Gunasekar, Flammarion 2023; THEORY §5.6): gradient
//! descent with step γ on x = u ⊙ v (the paper's parameterisation, start `u0 = √2·α`, `v0 = 0`) on
//! the regression loss `½‖Ax − y‖²`, `u ← u − γ g ⊙ v`, `v ← v − γ g ⊙ u`, g = ∇f(x).
//!
//! Per coordinate `u + v` and `u − v` are multiplied by `1 − γg` and `1 + γg`, so exactly
//! `δ_{k+1} = δ_k(1 − γ²g_k²)` (δ = u² − v²) and, with `x = (δ/2) sinh z`,
//! `asinh(2x_k/δ_k) = asinh(2x_0/δ_0) − 2 Σ_{j<k} atanh(γ g_j)` while `γ|g_j| < 1`.
//! Splitting `atanh(γg) = γg + (atanh(γg) − γg)`, the first parts sum to an element of range(Aᵀ),
//! so the GD limit is the Bregman projection onto {Ax = y} of the hyperbolic entropy with the
//! effective scale `δ_∞ = δ_0 ∏(1 − γ²g_j²)` from the shifted reference whose dual coordinate is
//! `φ = −2 Σ_j (atanh(γg_j) − γg_j)`: the x with `x = (δ_∞/2) sinh(φ + Aᵀν)`, `Ax = y`.
//!
//! Routes: the identities from the GD iterates (engine optimizer) against the products and sums of
//! the recorded gradients; the limit from the dual solve of [`crate::bias::generalized_projection`]
//! (constraint matrix `A diag(δ_∞)`, dual directions A) against the GD iterate at loss ≤ target.

use super::label;
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::problem::Problem;
use crate::verdict::Evidence;

pub use crate::effective_init::{
    effective_limit, gd_prediction, run_gd, run_recorded, GdPrediction, GdRecord, Worst, MAX_STEPS,
};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// The claimed limit of GD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// Effective scale δ_∞ and shifted reference φ (THEORY §5.6).
    Effective,
    /// The gradient-flow limit: scale δ_0, no shift (a wrong claim for finite γ).
    GradientFlow,
    /// Effective scale δ_∞ but the unshifted reference φ = 0 (a wrong claim).
    Unshifted,
}

fn effective() -> Prediction {
    Prediction::Effective
}

fn default_seed() -> u64 {
    1
}

fn four() -> usize {
    4
}

fn eight() -> usize {
    8
}

fn default_target() -> f64 {
    1e-26
}

fn default_steps() -> usize {
    200_000
}

/// GD on u ⊙ v: the exact discrete identity and the limit as an effective Bregman projection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GdEffectiveInit {
    /// Initial scale α > 0: u0 = √2·α, v0 = 0 (δ_0 = 2α², x0 = 0).
    pub alpha: f64,
    /// Step size γ > 0.
    pub lr: f64,
    /// Seed of the random regression (A_ij ~ N(0, 1)).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Number of samples n.
    #[serde(default = "four")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "eight")]
    pub dim: usize,
    /// y = A x* with a k-sparse positive x* (0: Gaussian y).
    #[serde(default)]
    pub sparsity: usize,
    /// GD stops at loss ½‖Ax − y‖² ≤ this.
    #[serde(default = "default_target")]
    pub loss_target: f64,
    /// At most this many steps (≤ 1e6).
    #[serde(default = "default_steps")]
    pub max_steps: usize,
    /// The claimed limit.
    #[serde(default = "effective")]
    pub prediction: Prediction,
}

/// The tolerances of `literature/gd-effective-init`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GdEffectiveTolerance {
    /// Largest deviation along the run: |δ_k − δ_0∏(1 − γ²g²)|/δ_0 and
    /// |asinh(2x_k/δ_k) − asinh(2x_0/δ_0) + 2Σatanh(γg)|.
    pub identity: f64,
    /// Relative distance ‖x_pred − x_GD‖/‖x_pred‖ of the limit.
    pub limit: f64,
}

impl GdEffectiveInit {
    fn problem(&self) -> Problem {
        Problem::random_regression(self.seed, self.samples, self.dim, self.sparsity)
    }
}

impl Claim for GdEffectiveInit {
    const ID: &'static str = "literature/gd-effective-init";
    type Tolerance = GdEffectiveTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("alpha", self.alpha)?;
        check_positive("lr", self.lr)?;
        check_positive("loss_target", self.loss_target)?;
        crate::checks::regression::check_underdetermined(self.samples, self.dim, self.sparsity)?;
        if !(1..=MAX_STEPS).contains(&self.max_steps) {
            return Err(InputError::new("max_steps", format!("must lie in [1, {MAX_STEPS}]")));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &GdEffectiveTolerance, _numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let problem = self.problem();
        let d = self.dim;
        let case = label(case, "");
        let w0 = DVector::from_fn(2 * d, |k, _| if k < d { 2f64.sqrt() * self.alpha } else { 0.0 });
        let run = run_gd(&problem, &w0, self.lr, self.loss_target, self.max_steps);
        let mut rows = Vec::new();
        let route =
            format!("GD iterates (engine optimizer, {} steps) vs products and sums of the recorded γg", run.steps);
        if run.max_step_gradient >= 1.0 {
            let why = format!("γ|g| reached {:.3e} ≥ 1: the identity needs γ|g| < 1", run.max_step_gradient);
            rows.push(Evidence::inconclusive(&case, "exact identity", &route, why));
            return Ok(rows);
        }
        rows.push(Evidence::with_error(
            &case,
            "δ_k = δ_0∏(1 − γ²g_j²) (worst step and coordinate; error/δ_0)",
            run.delta_error.predicted,
            run.delta_error.measured,
            run.delta_error.error,
            tol.identity,
            &route,
        ));
        rows.push(Evidence::with_error(
            &case,
            "asinh(2x_k/δ_k) = asinh(2x_0/δ_0) − 2Σatanh(γg_j) (worst step and coordinate)",
            run.angle_error.predicted,
            run.angle_error.measured,
            run.angle_error.error,
            tol.identity,
            &route,
        ));
        let delta0 = 2.0 * self.alpha * self.alpha;
        let phi = (&run.atanh_sum - &run.linear_sum) * -2.0;
        rows.push(Evidence::observe(
            &case,
            "min_i δ_∞/δ_0 (effective scale shrink)",
            run.delta.min() / delta0,
            "product of (1 − γ²g²)",
        ));
        rows.push(Evidence::observe(&case, "max_i |φ_i| (reference shift)", phi.amax(), "−2Σ(atanh(γg) − γg)"));
        let quantity = "‖x_pred − x_GD‖/‖x_pred‖ (GD limit)";
        if run.loss.is_nan() || run.loss > self.loss_target {
            let why =
                format!("GD did not reach loss {:e} in {} steps (loss {:.3e})", self.loss_target, run.steps, run.loss);
            rows.push(Evidence::inconclusive(&case, quantity, "GD", why));
            return Ok(rows);
        }
        let (delta, shift, name) = match self.prediction {
            Prediction::Effective => (run.delta.clone(), phi, "effective δ_∞, shifted reference φ"),
            Prediction::GradientFlow => {
                (DVector::from_element(d, delta0), DVector::zeros(d), "gradient flow: δ_0, no shift")
            }
            Prediction::Unshifted => (run.delta.clone(), DVector::zeros(d), "effective δ_∞, unshifted reference"),
        };
        let (x_pred, converged, residual) = effective_limit(&problem.a, &problem.y, &delta, &shift);
        let route =
            format!("dual solve x = (δ/2) sinh(φ + Aᵀν), Ax = y ({name}) vs GD at loss ≤ {:e}", self.loss_target);
        if !converged {
            rows.push(Evidence::inconclusive(
                &case,
                quantity,
                &route,
                format!("dual solve did not converge (residual {residual:.3e})"),
            ));
            return Ok(rows);
        }
        let dist = (&x_pred - &run.x).norm() / x_pred.norm();
        rows.push(Evidence::with_error(&case, quantity, x_pred.norm(), run.x.norm(), dist, tol.limit, &route));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    #[test]
    fn one_step_by_hand_and_the_small_step_limit() {
        // one coordinate, A = [1], y = 1, u0 = 1, v0 = 0.5: g = uv − y = −0.5, γ = 0.2;
        // u1 = 1 + 0.1·0.5 = 1.05, v1 = 0.5 + 0.1 = 0.6, δ1 = 1.1025 − 0.36 = 0.7425 = 0.75(1 − 0.01)
        let p =
            Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, 1.0), Default::default()).unwrap();
        let r = run_gd(&p, &DVector::from_vec(vec![1.0, 0.5]), 0.2, 0.0, 1);
        assert!((r.x[0] - 1.05 * 0.6).abs() < 1e-15 && (r.delta[0] - 0.7425).abs() < 1e-15);
        assert!((r.atanh_sum[0] - (-0.1f64).atanh()).abs() < 1e-16 && r.delta_error.error < 1e-15);
        // small steps: δ_∞ → δ_0 and φ → 0, so the effective limit tends to the GF limit
        let q = Problem::random_regression(3, 4, 8, 2);
        let alpha: f64 = 0.3;
        let w0 = DVector::from_fn(16, |k, _| if k < 8 { 2f64.sqrt() * alpha } else { 0.0 });
        let gf = effective_limit(&q.a, &q.y, &DVector::from_element(8, 2.0 * alpha * alpha), &DVector::zeros(8)).0;
        let mut last = f64::INFINITY;
        for lr in [0.02, 0.002] {
            let r = run_gd(&q, &w0, lr, 1e-24, 1_000_000);
            let phi = (&r.atanh_sum - &r.linear_sum) * -2.0;
            let x = effective_limit(&q.a, &q.y, &r.delta, &phi).0;
            let gap = (&x - &gf).norm() / gf.norm();
            assert!(gap < last, "lr {lr}: {gap:e}");
            last = gap;
        }
        assert!(last < 1e-3, "{last:e}");
    }
}
