//! `weight-decay/adamw-box`: AdamW with decoupled decay μ converges to a KKT point of
//! `min F(w) s.t. |w_j| ≤ 1/μ` (Xie & Li 2024; THEORY §6): feasible, stationary on inactive
//! coordinates, multipliers `−sign(w_j)∂F/∂w_j ≥ 0` on active ones; in x: `min(b, μ^{−L})` per
//! coordinate. Iterates that still move over the last tenth of the steps are INCONCLUSIVE.

use super::WeightDecayTolerance;
use super::{check_beta, check_steps, one_u64, predicted_limit, stationary, Decay, Limit, Regression};
use crate::checks::{Claim, Numerics};
use crate::discrete::{OptState, Optimizer};
use crate::error::{check_nonnegative, check_positive, InputError, InputResult};
use crate::reparam::Reparameterization;
use crate::verdict::{worst, Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// AdamW ends at the KKT point of the box-constrained problem.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamwBox {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Balanced initial scale α > 0.
    pub alpha: f64,
    /// Decoupled weight decay μ > 0 (box radius 1/μ in w, μ^{−L} in x).
    pub weight_decay: f64,
    /// Targets b > 0 (dense orthonormal design for several).
    pub targets: Vec<f64>,
    /// Seed of the design.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Step size η > 0.
    pub lr: f64,
    /// Adam β1 ∈ [0, 1).
    #[serde(default = "beta1")]
    pub beta1: f64,
    /// Adam β2 ∈ [0, 1).
    #[serde(default = "beta2")]
    pub beta2: f64,
    /// Adam ε ≥ 0.
    #[serde(default = "eps")]
    pub eps: f64,
    /// Steps K ≥ 10.
    pub steps: usize,
    /// The claimed limit in x (theory: `stationary`, for decoupled SignGF the box solution).
    #[serde(default = "stationary")]
    pub prediction: Limit,
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}

impl AdamwBox {
    fn regression(&self) -> InputResult<Regression> {
        Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, 1.0)
    }
}

impl Claim for AdamwBox {
    const ID: &'static str = "weight-decay/adamw-box";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        self.regression()?;
        check_positive("lr", self.lr)?;
        check_beta("beta1", self.beta1)?;
        check_beta("beta2", self.beta2)?;
        check_nonnegative("eps", self.eps)?;
        check_steps("steps", self.steps as f64)?;
        if self.steps < 10 {
            return Err(InputError::new("steps", "at least 10 steps (convergence is judged over the last tenth)"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let c = self.regression()?;
        let (lr, mu, tol) = (self.lr, c.mu, tol.wd);
        let opt = Optimizer::adamw(lr, self.beta1, self.beta2, self.eps, mu);
        let route = "AdamW iterates; KKT residuals of the box-constrained problem";
        // run K steps, keeping x after 0.9 K: the iterates must have settled (to the tolerance,
        // relative to max(1, ‖x‖∞)) over the last tenth, else the run is INCONCLUSIVE
        let mut s = OptState::new(&c.w0);
        let settle_from = self.steps - self.steps / 10;
        let mut x_settle = c.model.x(&c.w0);
        for k in 0..self.steps {
            if k == settle_from {
                x_settle = c.model.x(&s.w);
            }
            opt.step(&c.problem, &c.model, &mut s);
        }
        let w = &s.w;
        let x = c.model.x(w);
        if !x.iter().all(|v| v.is_finite()) {
            return Ok(vec![Evidence::inconclusive(case, "AdamW limit", route, "non-finite iterates")]);
        }
        let moved = (&x - &x_settle).amax();
        if moved > tol * x.amax().max(1.0) {
            let why = format!(
                "not converged: x moved {moved:.3e} over the last {} of {} steps (tolerance {tol} × max(1, ‖x‖∞))",
                self.steps - settle_from,
                self.steps
            );
            return Ok(vec![Evidence::inconclusive(case, "AdamW limit", route, why)]);
        }
        let settle_route = "AdamW iterates: max |x_K − x_{0.9K}|";
        let settle = Evidence::observe(case, "movement of x over the last tenth of the steps", moved, settle_route);
        let grad = c.model.pullback(w, &c.problem.gradient(&x));
        let scale = c.model.pullback(&c.w0, &c.problem.gradient(&c.model.x(&c.w0))).amax();
        let radius = 1.0 / mu;
        // KKT of min F(w) s.t. |w_j| ≤ 1/μ: feasibility; interior (|w_j| < 1/μ − 10η): ∂F/∂w_j = 0;
        // active: the multiplier −sign(w_j)∂F/∂w_j ≥ 0
        let (mut feas, mut stat, mut mult): (f64, f64, f64) = (0.0, 0.0, 0.0);
        let mut active = 0.0;
        for j in 0..w.len() {
            feas = worst(feas, w[j].abs() - radius);
            if w[j].abs() < radius - 10.0 * lr {
                stat = worst(stat, grad[j].abs() / scale);
            } else {
                active += 1.0;
                mult = worst(mult, (grad[j] * w[j].signum()).max(0.0) / scale);
            }
        }
        let feas = feas.max(0.0);
        let l = c.model.depth as f64;
        let mut rows = vec![
            settle,
            Evidence::with_error(case, "feasibility max(|w| − 1/μ)⁺", 0.0, feas, feas, tol, route),
            Evidence::with_error(case, "interior stationarity |∂F/∂w| (relative)", 0.0, stat, stat, tol, route),
            Evidence::with_error(case, "active multipliers of the wrong sign (relative)", 0.0, mult, mult, tol, route),
        ];
        // L weights per target at the box edge when b ≥ μ^{−L}; a count: tolerance 0.5 compares it exactly
        let expected_active = c.targets.iter().filter(|&&b| b >= mu.powf(-l)).count() as f64 * l;
        rows.push(Evidence::compare(case, "active constraints", expected_active, active, 0.5, Metric::Absolute, route));
        let p_route = "claimed limit per coordinate (theory: box solution min(b, μ^{−L}))";
        let x0 = c.model.x(&c.w0);
        for (k, &b) in c.targets.iter().enumerate() {
            let quantity = format!("x[{k}] vs claimed limit (target {b})");
            match predicted_limit(self.prediction, Decay::Decoupled, 1.0, self.depth, mu, b, x0[k]) {
                Ok(pred) => {
                    let err = (pred - x[k]).abs() / pred.abs().max(1.0);
                    rows.push(Evidence::with_error(case, &quantity, pred, x[k], err, tol, p_route));
                }
                Err(e) => rows.push(Evidence::inconclusive(case, &quantity, p_route, e)),
            }
        }
        Ok(rows)
    }
}
