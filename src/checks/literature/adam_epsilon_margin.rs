//! `literature/adam-epsilon-margin` (Zhang, Zou, Cao, NeurIPS 2024; Wang, Meng, Chen, ICML 2021;
//! THEORY §5.11): full-batch Adam on the logistic loss `Σ_n ln(1 + exp(−z_nᵀw))` of separable signed
//! samples, linear model (depth 1), from w_0 = 0 with the decaying step `η_k = η k^{−a}`.
//!
//! With ε = 0 the update `m̂/√v̂` is invariant under a common rescaling of the gradients and, once
//! one margin pattern dominates, sign-like per coordinate: the direction tends to the ℓ∞ max-margin
//! point (Zhang et al.; the schedule η k^{−a}, a ∈ (0, 1], is in their class). With ε > 0 the
//! update is `m̂/(√v̂ + ε)`: once |∇L| ≪ ε (margins ≳ ln(1/ε)) it is GD with step η_k/ε, whose
//! direction tends to the ℓ2 max-margin point (Wang et al.): the ℓ∞ claim fails.
//!
//! Routes: the max margin γ*_r and its point from clarabel's LP (r = ∞) or QP (r = 2), against the
//! normalised margin, the direction and the margin gap of the Adam iterates (engine optimizer).

use super::label;
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_nonnegative, check_positive, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::margin::{max_margin, norm, normalised_margin};
use crate::problem::{check_size, Loss, Problem};
use crate::reparam::DeepDiagonal;
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// The most Adam steps a point may take.
pub const MAX_STEPS: usize = 2_000_000;

/// The largest margin the run may reach: the logistic gradient is ~e^{−m} and its square, which
/// Adam's second moment holds, underflows near m ≈ 354; beyond this the verdict is INCONCLUSIVE.
pub const MAX_MARGIN: f64 = 300.0;

/// The claimed limit direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Geometry {
    /// The ℓ∞ max-margin point (Adam with ε = 0, Zhang et al.).
    LInf,
    /// The ℓ2 max-margin point (gradient descent's; Adam with ε > 0 as ∇L → 0).
    L2,
}

impl Geometry {
    fn exponent(self) -> f64 {
        match self {
            Geometry::LInf => f64::INFINITY,
            Geometry::L2 => 2.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Geometry::LInf => "ℓ∞",
            Geometry::L2 => "ℓ2",
        }
    }
}

fn default_points() -> Vec<Vec<f64>> {
    vec![vec![1.0, 0.3], vec![2.0, 1.0], vec![1.2, 0.6]]
}

fn default_lr() -> f64 {
    0.1
}

fn default_decay() -> f64 {
    0.5
}

fn default_beta1() -> f64 {
    0.9
}

fn default_beta2() -> f64 {
    0.999
}

fn default_steps() -> usize {
    1_000_000
}

fn l_inf() -> Geometry {
    Geometry::LInf
}

/// Adam (ε = 0 or ε > 0) on the logistic loss: the limit direction and its margin.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamEpsilonMargin {
    /// The signed samples `z_n = y_n a_n`, one row each (the problem has `a = z`, labels +1); they
    /// must be linearly separable.
    #[serde(default = "default_points")]
    pub points: Vec<Vec<f64>>,
    /// Base step η > 0 of the schedule η_k = η k^{−a}.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Decay exponent a ∈ (0, 1] of the schedule (Zhang et al.'s class; constant steps are outside it).
    #[serde(default = "default_decay")]
    pub lr_decay: f64,
    /// First-moment decay β1 ∈ [0, 1).
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// Second-moment decay β2 ∈ [0, 1).
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Adam's ε ≥ 0 in m̂/(√v̂ + ε).
    pub eps: f64,
    /// Steps K (≤ 2e6; ≥ 100).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// The claimed limit direction.
    #[serde(default = "l_inf")]
    pub direction: Geometry,
}

/// The tolerances of `literature/adam-epsilon-margin`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamMarginTolerance {
    /// Relative gap `(γ*_r − γ_r(w_K))/γ*_r` of the normalised margin at the last step.
    pub margin: f64,
    /// ‖w_K/‖w_K‖₂ − x̂_r/‖x̂_r‖₂‖₂, the direction's distance to the max-margin point.
    pub direction: f64,
    /// Largest ratio gap(K)/gap(K/10) of the margin gap over the last decade (a falling gap: < 1).
    pub decay: f64,
}

/// Adam iterates at the requested steps (ascending) with the schedule `η_k = η k^{−a}`, from the
/// engine's optimizer on the depth-1 (linear) model; stops early at a non-finite iterate.
pub fn adam_checkpoints(
    problem: &Problem,
    method: Method,
    lr: f64,
    decay: f64,
    at: &[usize],
) -> Vec<(usize, DVector<f64>)> {
    let model = DeepDiagonal::new(1, problem.dim());
    let mut s = OptState::new(&DVector::zeros(problem.dim()));
    let mut out = Vec::with_capacity(at.len());
    for &target in at {
        while (s.k as usize) < target {
            let step = lr * ((s.k + 1) as f64).powf(-decay);
            Optimizer { method, lr: step, decay: WeightDecay::None }.step(problem, &model, &mut s);
        }
        if s.w.iter().any(|v| !v.is_finite()) {
            break;
        }
        out.push((s.k as usize, s.w.clone()));
    }
    out
}

impl AdamEpsilonMargin {
    fn data(&self) -> DMatrix<f64> {
        let d = self.points[0].len();
        DMatrix::from_fn(self.points.len(), d, |n, j| self.points[n][j])
    }
}

impl Claim for AdamEpsilonMargin {
    const ID: &'static str = "literature/adam-epsilon-margin";
    type Tolerance = AdamMarginTolerance;

    fn validate(&self) -> InputResult<()> {
        let d = self.points.first().map_or(0, Vec::len);
        check_size(self.points.len(), d).map_err(|e| InputError::new("points", e.message))?;
        if self.points.len() > 32 || d > 8 {
            return Err(InputError::new("points", "at most 32 samples of dimension ≤ 8"));
        }
        if self.points.iter().any(|p| p.len() != d || p.iter().any(|v| !v.is_finite())) {
            return Err(InputError::new("points", format!("every row needs {d} finite entries")));
        }
        check_positive("lr", self.lr)?;
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return Err(InputError::new("lr_decay", "must lie in (0, 1]: the reference's steps η k^−a, a > 0"));
        }
        for (key, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(InputError::new(key, "must lie in [0, 1)"));
            }
        }
        check_nonnegative("eps", self.eps)?;
        if !(100..=MAX_STEPS).contains(&self.steps) {
            return Err(InputError::new("steps", format!("must lie in [100, {MAX_STEPS}]")));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &AdamMarginTolerance, _numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let z = self.data();
        let problem = Problem::new(z.clone(), DVector::from_element(z.nrows(), 1.0), Loss::Logistic)
            .map_err(|e| InputError::new("points", e.message))?;
        let case = label(case, "");
        let r = self.direction.exponent();
        let name = self.direction.name();
        let reference = max_margin(&z, r).map_err(|e| InputError::new("points", e.message))?;
        let gamma = 1.0 / norm(&reference.x, r);
        let k_end = self.steps;
        let at = [k_end / 100, k_end / 10, k_end];
        let method = Method::Adam { beta1: self.beta1, beta2: self.beta2, eps: self.eps };
        let run = adam_checkpoints(&problem, method, self.lr, self.lr_decay, &at);
        let route = format!(
            "{name} max margin (clarabel) vs Adam (engine optimizer, β = ({}, {}), ε = {:e}, η_k = {}·k^−{}) to K = {k_end}",
            self.beta1, self.beta2, self.eps, self.lr, self.lr_decay
        );
        let mut rows = vec![Evidence::observe(&case, &format!("max {name} margin γ*"), gamma, "clarabel")];
        if run.len() < at.len() {
            rows.push(Evidence::inconclusive(&case, "Adam iterates", &route, "a non-finite iterate"));
            return Ok(rows);
        }
        let top = run.iter().map(|(_, w)| (&z * w).min()).fold(f64::NEG_INFINITY, f64::max);
        rows.push(Evidence::observe(&case, "min_n z_nᵀw_K (unnormalised margin)", (&z * &run[2].1).min(), &route));
        if top > MAX_MARGIN {
            let why = format!("the margin reached {top:.1} > {MAX_MARGIN}: the squared logistic gradient underflows");
            rows.push(Evidence::inconclusive(&case, "Adam iterates", &route, why));
            return Ok(rows);
        }
        let other = if self.direction == Geometry::LInf { 2.0 } else { f64::INFINITY };
        rows.push(Evidence::observe(
            &case,
            &format!("normalised {} margin at K", if other == 2.0 { "ℓ2" } else { "ℓ∞" }),
            normalised_margin(&z, &run[2].1, other),
            &route,
        ));
        let gap = |w: &DVector<f64>| (gamma - normalised_margin(&z, w, r)) / gamma;
        let w_end = &run[2].1;
        rows.push(Evidence::compare(
            &case,
            &format!("normalised {name} margin at K"),
            gamma,
            normalised_margin(&z, w_end, r),
            tol.margin,
            Metric::Relative,
            &route,
        ));
        let unit = |v: &DVector<f64>| v / v.norm();
        let distance = (unit(w_end) - unit(&reference.x)).norm();
        rows.push(Evidence::with_error(
            &case,
            &format!("‖w_K/‖w_K‖ − x̂/‖x̂‖‖ (distance to the {name} max-margin direction)"),
            0.0,
            distance,
            distance,
            tol.direction,
            &route,
        ));
        let (g_mid, g_end) = (gap(&run[1].1), gap(w_end));
        rows.push(Evidence::observe(&case, &format!("{name} margin gap at K/100"), gap(&run[0].1), &route));
        rows.push(Evidence::observe(&case, &format!("{name} margin gap at K/10"), g_mid, &route));
        let ratio = if g_mid > 0.0 { g_end / g_mid } else { f64::NAN };
        rows.push(Evidence::with_error(
            &case,
            &format!("{name} margin gap ratio gap(K)/gap(K/10) (falling: < 1)"),
            0.0,
            ratio,
            ratio,
            tol.decay,
            &route,
        ));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_data_separates_the_two_geometries() {
        // z1 = (1, 0.3) alone is active for both: ℓ2 point z1/‖z1‖², ℓ∞ point (1, 1)/1.3
        let z = DMatrix::from_row_slice(3, 2, &[1.0, 0.3, 2.0, 1.0, 1.2, 0.6]);
        let l2 = max_margin(&z, 2.0).unwrap().x;
        let linf = max_margin(&z, f64::INFINITY).unwrap().x;
        assert!((&l2 - DVector::from_vec(vec![1.0, 0.3]) / 1.09).norm() < 1e-7, "{l2}");
        assert!((&linf - DVector::from_vec(vec![1.0, 1.0]) / 1.3).norm() < 1e-7, "{linf}");
    }

    #[test]
    fn memoryless_adam_with_zero_eps_is_signgd_on_the_same_schedule() {
        // β1 = β2 = 0, ε = 0: m̂/√v̂ = g/|g| = sign(g), so every iterate is SignGD's with η_k = η k^{−a}
        let z = DMatrix::from_row_slice(3, 2, &[1.0, 0.3, 2.0, 1.0, 1.2, 0.6]);
        let p = Problem::new(z, DVector::from_element(3, 1.0), Loss::Logistic).unwrap();
        let at = [1, 10, 100, 1000];
        let adam = adam_checkpoints(&p, Method::Adam { beta1: 0.0, beta2: 0.0, eps: 0.0 }, 0.1, 0.5, &at);
        let sign = adam_checkpoints(&p, Method::SignGd, 0.1, 0.5, &at);
        for ((k, a), (_, b)) in adam.iter().zip(&sign) {
            assert!((a - b).amax() < 1e-13, "k = {k}: {a} vs {b}");
        }
        // the schedule: one step of size η·1^{−a} = 0.1 per coordinate from w_0 = 0
        assert!((&adam[0].1 - DVector::from_element(2, 0.1)).amax() < 1e-15);
    }

    #[test]
    fn constant_steps_and_bad_moments_are_input_errors() {
        let mut c = AdamEpsilonMargin {
            points: default_points(),
            lr: 0.1,
            lr_decay: 0.5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 0.0,
            steps: 1000,
            direction: Geometry::LInf,
        };
        assert!(c.validate().is_ok());
        c.lr_decay = 0.0;
        assert_eq!(c.validate().unwrap_err().location, "lr_decay");
        c.lr_decay = 0.5;
        c.beta2 = 1.0;
        assert_eq!(c.validate().unwrap_err().location, "beta2");
    }
}
