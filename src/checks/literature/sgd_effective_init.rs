//! `literature/sgd-effective-init` (Pesme, Pillaud-Vivien, Flammarion, NeurIPS 2021; THEORY §5.9):
//! mini-batch SGD with step γ on x = u ⊙ v (start `u0 = √2·α`, `v0 = 0`) on the sum loss
//! `½‖Ax − y‖²`, each step along the pullback of `g̃ = (n/B) Σ_{k∈batch} a_k r_k` (unbiased for ∇f;
//! with the mean loss, i.e. A and y divided by √n, it is `(1/B) Σ a_k r_k`).
//!
//! The per-coordinate identity of GD (THEORY §5.6) uses nothing about the gradients but γ|g_j| < 1,
//! so along every SGD path `δ_k = δ_0 ∏(1 − γ²g̃_j²)` and
//! `asinh(2x_k/δ_k) = asinh(2x_0/δ_0) − 2 Σ_{j<k} atanh(γ g̃_j)`; each g̃_j lies in range(Aᵀ), so the
//! SGD limit is the effective Bregman projection with the path's δ_∞ and φ. The stochastic gradients
//! are larger than the full one (the factor n/B on single samples), so `δ_∞` shrinks more: SGD's
//! limit sits closer to min-ℓ1 than GD's at the same step, measured by the ℓ1 excess
//! `‖x‖₁ − min_{Ax=y}‖x‖₁` (the Euclidean distance to the min-ℓ1 point is reported: a smaller but
//! non-uniform δ_∞ need not shorten it).
//!
//! Routes: the identity from the SGD iterates (engine optimizer, `Method::Sgd`) against the products
//! and sums of the recorded g̃; the limit from the dual solve against the SGD iterate; the ℓ1 norms
//! of the SGD and GD limits against clarabel's min-ℓ1 value, seed by seed.

use super::gd_effective_init::{effective_limit, run_recorded, GdRecord, Prediction, MAX_STEPS};
use super::label;
use crate::bias;
use crate::checks::{Claim, Numerics};
use crate::discrete::Method;
use crate::error::{check_positive, InputError, InputResult};
use crate::problem::Problem;
use crate::verdict::Evidence;
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Which method's limit is claimed to be closer to min-ℓ1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Closer {
    /// SGD's (the theory: a smaller effective scale).
    Sgd,
    /// GD's (a wrong claim).
    Gd,
}

fn effective() -> Prediction {
    Prediction::Effective
}

fn sgd() -> Closer {
    Closer::Sgd
}

fn one() -> usize {
    1
}

fn ten() -> usize {
    10
}

fn four() -> usize {
    4
}

fn eight() -> usize {
    8
}

fn two() -> usize {
    2
}

fn default_data_seed() -> u64 {
    1
}

fn default_target() -> f64 {
    1e-26
}

fn default_steps() -> usize {
    200_000
}

/// The most SGD seeds of one point.
pub const MAX_SEEDS: usize = 200;

/// SGD on u ⊙ v: the exact identity along every path, the limit, and SGD against GD.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SgdEffectiveInit {
    /// Initial scale α > 0: u0 = √2·α, v0 = 0 (δ_0 = 2α², x0 = 0).
    pub alpha: f64,
    /// Step size γ > 0 (the same for SGD and GD).
    pub lr: f64,
    /// Batch size 1 ≤ B < n.
    #[serde(default = "one")]
    pub batch: usize,
    /// Number of SGD seeds (1 to 200); SGD path s draws its batches from seed s (s = 1, 2, …).
    #[serde(default = "ten")]
    pub seeds: usize,
    /// Seed of the random regression (A_ij ~ N(0, 1)).
    #[serde(default = "default_data_seed")]
    pub data_seed: u64,
    /// Number of samples n ≥ 2.
    #[serde(default = "four")]
    pub samples: usize,
    /// Dimension d > n.
    #[serde(default = "eight")]
    pub dim: usize,
    /// y = A x* with a k-sparse positive x* (0: Gaussian y).
    #[serde(default = "two")]
    pub sparsity: usize,
    /// SGD and GD stop at loss ½‖Ax − y‖² ≤ this.
    #[serde(default = "default_target")]
    pub loss_target: f64,
    /// At most this many steps per run (≤ 1e6).
    #[serde(default = "default_steps")]
    pub max_steps: usize,
    /// The claimed limit of each SGD path.
    #[serde(default = "effective")]
    pub prediction: Prediction,
    /// Which limit is claimed closer to min-ℓ1.
    #[serde(default = "sgd")]
    pub closer: Closer,
}

/// The tolerances of `literature/sgd-effective-init`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SgdEffectiveTolerance {
    /// Largest deviation of the identity over every path, step and coordinate (as in
    /// `gd-effective-init`).
    pub identity: f64,
    /// Largest relative distance ‖x_pred − x_SGD‖/‖x_pred‖ over the paths.
    pub limit: f64,
    /// Largest shortfall of the fraction of seeds whose claimed-closer limit has the smaller ℓ1 excess
    /// `‖x‖₁ − min_{Ax=y}‖x‖₁` (predicted 1).
    pub closer: f64,
}

impl SgdEffectiveInit {
    fn problem(&self) -> Problem {
        Problem::random_regression(self.data_seed, self.samples, self.dim, self.sparsity)
    }

    fn w0(&self) -> DVector<f64> {
        let d = self.dim;
        DVector::from_fn(2 * d, |k, _| if k < d { 2f64.sqrt() * self.alpha } else { 0.0 })
    }

    fn run(&self, problem: &Problem, method: Method, seed: u64) -> GdRecord {
        run_recorded(problem, &self.w0(), method, seed, self.lr, self.loss_target, self.max_steps)
    }
}

/// Why a run cannot be used, if it cannot.
fn unusable(run: &GdRecord, target: f64, name: &str) -> Option<String> {
    if run.max_step_gradient >= 1.0 || run.max_step_gradient.is_nan() {
        return Some(format!("{name}: γ|g| reached {:.3e} ≥ 1: the identity needs γ|g| < 1", run.max_step_gradient));
    }
    if run.loss.is_nan() || run.loss > target {
        return Some(format!("{name} did not reach loss {target:e} in {} steps (loss {:.3e})", run.steps, run.loss));
    }
    None
}

impl Claim for SgdEffectiveInit {
    const ID: &'static str = "literature/sgd-effective-init";
    type Tolerance = SgdEffectiveTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("alpha", self.alpha)?;
        check_positive("lr", self.lr)?;
        check_positive("loss_target", self.loss_target)?;
        crate::checks::regression::check_underdetermined(self.samples, self.dim, self.sparsity)?;
        if self.samples < 2 {
            return Err(InputError::new("samples", "SGD needs n ≥ 2 samples"));
        }
        if !(1..self.samples).contains(&self.batch) {
            return Err(InputError::new("batch", format!("must lie in [1, n − 1] = [1, {}]", self.samples - 1)));
        }
        if !(1..=MAX_SEEDS).contains(&self.seeds) {
            return Err(InputError::new("seeds", format!("must lie in [1, {MAX_SEEDS}]")));
        }
        if !(1..=MAX_STEPS).contains(&self.max_steps) {
            return Err(InputError::new("max_steps", format!("must lie in [1, {MAX_STEPS}]")));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &SgdEffectiveTolerance, _numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let problem = self.problem();
        let d = self.dim;
        let case = label(case, "");
        let mut rows = Vec::new();
        let sgd_route = format!(
            "SGD iterates (engine optimizer, batch {}, seeds 1..={}) vs products and sums of the recorded γg̃",
            self.batch, self.seeds
        );
        let gd = self.run(&problem, Method::Gd, 0);
        if let Some(why) = unusable(&gd, self.loss_target, "GD") {
            rows.push(Evidence::inconclusive(&case, "GD limit", "GD", why));
            return Ok(rows);
        }
        let l1 = bias::min_l1(&problem.a, &problem.y)?;
        let dist = |x: &DVector<f64>| (x - &l1.x).norm() / l1.x.norm();
        let gd_dist = dist(&gd.x);
        let delta0 = 2.0 * self.alpha * self.alpha;
        // per path: identity errors, limit error, distance to min-ℓ1
        let (mut delta_err, mut angle_err, mut limit_err) = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0));
        // ℓ1 excess ‖x‖₁ − min ‖x‖₁ ≥ 0 of each limit
        let excess = |x: &DVector<f64>| x.lp_norm(1) - l1.objective;
        let gd_excess = excess(&gd.x);
        let (mut closer, mut ratios, mut l2_ratios, mut shrink) = (0usize, Vec::new(), Vec::new(), f64::INFINITY);
        for seed in 1..=self.seeds as u64 {
            let run = self.run(&problem, Method::Sgd { batch: self.batch }, seed);
            if let Some(why) = unusable(&run, self.loss_target, &format!("SGD seed {seed}")) {
                rows.push(Evidence::inconclusive(&case, "SGD path", &sgd_route, why));
                return Ok(rows);
            }
            let pick = |acc: &mut (f64, f64, f64), e: f64, p: f64, m: f64| {
                if !acc.0.is_nan() && (e.is_nan() || e > acc.0) {
                    *acc = (e, p, m);
                }
            };
            pick(&mut delta_err, run.delta_error.error, run.delta_error.predicted, run.delta_error.measured);
            pick(&mut angle_err, run.angle_error.error, run.angle_error.predicted, run.angle_error.measured);
            let phi = (&run.atanh_sum - &run.linear_sum) * -2.0;
            let (delta, shift) = match self.prediction {
                Prediction::Effective => (run.delta.clone(), phi),
                Prediction::GradientFlow => (DVector::from_element(d, delta0), DVector::zeros(d)),
                Prediction::Unshifted => (run.delta.clone(), DVector::zeros(d)),
            };
            let (x_pred, converged, residual) = effective_limit(&problem.a, &problem.y, &delta, &shift);
            if !converged {
                let why = format!("seed {seed}: dual solve did not converge (residual {residual:.3e})");
                rows.push(Evidence::inconclusive(&case, "SGD limit", "dual solve", why));
                return Ok(rows);
            }
            pick(&mut limit_err, (&x_pred - &run.x).norm() / x_pred.norm(), x_pred.norm(), run.x.norm());
            l2_ratios.push(dist(&run.x) / gd_dist);
            let sgd_excess = excess(&run.x);
            ratios.push(sgd_excess / gd_excess);
            shrink = shrink.min(run.delta.min() / delta0);
            let sgd_closer = sgd_excess < gd_excess;
            if sgd_closer == (self.closer == Closer::Sgd) {
                closer += 1;
            }
        }
        rows.push(Evidence::with_error(
            &case,
            "δ_k = δ_0∏(1 − γ²g̃_j²) (worst path, step and coordinate; error/δ_0)",
            delta_err.1,
            delta_err.2,
            delta_err.0,
            tol.identity,
            &sgd_route,
        ));
        rows.push(Evidence::with_error(
            &case,
            "asinh(2x_k/δ_k) = asinh(2x_0/δ_0) − 2Σatanh(γg̃_j) (worst path, step and coordinate)",
            angle_err.1,
            angle_err.2,
            angle_err.0,
            tol.identity,
            &sgd_route,
        ));
        let name = match self.prediction {
            Prediction::Effective => "effective δ_∞, shifted reference φ",
            Prediction::GradientFlow => "gradient flow: δ_0, no shift",
            Prediction::Unshifted => "effective δ_∞, unshifted reference",
        };
        rows.push(Evidence::with_error(
            &case,
            "‖x_pred − x_SGD‖/‖x_pred‖ (worst path)",
            limit_err.1,
            limit_err.2,
            limit_err.0,
            tol.limit,
            &format!("dual solve x = (δ/2) sinh(φ + Aᵀν), Ax = y ({name}) vs SGD at loss ≤ {:e}", self.loss_target),
        ));
        rows.push(Evidence::observe(&case, "min over paths of min_i δ_∞/δ_0 (SGD)", shrink, "product of (1 − γ²g̃²)"));
        rows.push(Evidence::observe(&case, "min_i δ_∞/δ_0 (GD)", gd.delta.min() / delta0, "product of (1 − γ²g²)"));
        rows.push(Evidence::observe(
            &case,
            "(‖x_GD‖₁ − min‖x‖₁)/min‖x‖₁",
            gd_excess / l1.objective,
            "GD vs clarabel min-ℓ1",
        ));
        ratios.sort_by(f64::total_cmp);
        l2_ratios.sort_by(f64::total_cmp);
        rows.push(Evidence::observe(
            &case,
            "median over seeds of the ℓ1 excess ratio SGD/GD",
            ratios[ratios.len() / 2],
            "SGD and GD vs clarabel min-ℓ1",
        ));
        rows.push(Evidence::observe(
            &case,
            "median over seeds of ‖x_SGD − x_ℓ1‖/‖x_GD − x_ℓ1‖ (reported: not monotone in δ_∞)",
            l2_ratios[l2_ratios.len() / 2],
            "SGD and GD vs clarabel min-ℓ1",
        ));
        let fraction = closer as f64 / self.seeds as f64;
        let who = if self.closer == Closer::Sgd { "SGD" } else { "GD" };
        rows.push(Evidence::with_error(
            &case,
            &format!("fraction of seeds whose {who} limit has the smaller ℓ1 excess ‖x‖₁ − min‖x‖₁"),
            1.0,
            fraction,
            1.0 - fraction,
            tol.closer,
            &format!("‖x‖₁ of SGD (γ = {}, B = {}) and GD (same γ) vs clarabel min-ℓ1", self.lr, self.batch),
        ));
        Ok(rows)
    }
}
