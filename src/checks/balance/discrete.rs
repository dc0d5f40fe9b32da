//! `balance/discrete`: exact one-step identities on u⊙v (THEORY §2; Even et al. 2023 for GD):
//! GD with coupled L2 μ: `δ_{k+1} = δ_k((1 − ημ)² − η² g_k²)`, `δ = u² − v²`, g_k the coordinate
//! gradient of f at x_k; SignGD with decoupled decay μ: `|u| − |v|` scales by `1 − ημ` per step
//! while no weight crosses zero.

use super::{five, one_u64, scale, ten, BalanceTolerance, Setup};
use crate::checks::{Claim, Numerics};
use crate::discrete::steepest_step;
use crate::error::{check_nonnegative, check_positive, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::geometry::sign;
use crate::reparam::Reparameterization;
use crate::verdict::{worst, worst_abs, Evidence};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Most steps one grid point may take (a budget).
pub const MAX_STEPS: usize = 1_000_000;

/// The discrete method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Gradient descent with coupled L2 μ (q = 2): δ = u² − v².
    Gd,
    /// SignGD with decoupled decay μ (q = 1): c = |u| − |v|.
    Signgd,
}

/// The claimed per-step factor of the balance quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Identity {
    /// The theory: GD `(1 − ημ)² − η² g_k²`, SignGD `1 − ημ`.
    Exact,
    /// Factor 1: the continuous-time conservation law claimed for the iterates.
    Conserved,
}

fn exact() -> Identity {
    Identity::Exact
}

/// The discrete balance identities of GD and SignGD on u⊙v hold step by step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Discrete {
    /// GD (coupled L2) or SignGD (decoupled decay).
    pub method: Method,
    /// Weight decay μ ≥ 0.
    #[serde(default)]
    pub weight_decay: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ: u at (α^q + λ)^{1/q}, v at α (q of the method).
    #[serde(default)]
    pub balance: f64,
    /// Step size η > 0.
    pub lr: f64,
    /// Steps K ≥ 2 (SignGD: at least K/2 before a weight crosses zero).
    pub steps: usize,
    /// Seed of the random regression.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n.
    #[serde(default = "five")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "ten")]
    pub dim: usize,
    /// The claimed per-step factor (theory: `exact`).
    #[serde(default = "exact")]
    pub identity: Identity,
}

impl Discrete {
    fn q(&self) -> f64 {
        match self.method {
            Method::Gd => 2.0,
            Method::Signgd => 1.0,
        }
    }

    fn setup(&self) -> InputResult<Setup> {
        Setup::new(2, self.q(), self.alpha, self.balance, self.seed, self.samples, self.dim)
    }
}

impl Claim for Discrete {
    const ID: &'static str = "balance/discrete";
    type Tolerance = BalanceTolerance;

    fn validate(&self) -> InputResult<()> {
        check_nonnegative("weight_decay", self.weight_decay)?;
        check_positive("lr", self.lr)?;
        if !(2..=MAX_STEPS).contains(&self.steps) {
            return Err(InputError::new("steps", format!("must lie in [2, {MAX_STEPS}], got {}", self.steps)));
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &BalanceTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let gd = self.method == Method::Gd;
        let (q, mu, eta) = (self.q(), self.weight_decay, self.lr);
        let decay = if gd { WeightDecay::Coupled(mu) } else { WeightDecay::Decoupled(mu) };
        let d = s.model.dim;
        // δ = u² − v² (GD), c = |u| − |v| (SignGD)
        let quantity = |w: &DVector<f64>| {
            DVector::from_fn(d, |k, _| if gd { w[k] * w[k] - w[d + k] * w[d + k] } else { w[k].abs() - w[d + k].abs() })
        };
        let mut w = s.w0.clone();
        let scale = scale(&quantity(&w), self.alpha, q);
        let (mut err, mut used): (f64, usize) = (0.0, 0);
        for _ in 0..self.steps {
            let g = s.problem.gradient(&s.model.x(&w));
            let next = steepest_step(&s.problem, &s.model, &w, q, eta, decay);
            if !gd && next.iter().zip(w.iter()).any(|(a, b)| sign(*a) != sign(*b)) {
                break; // a weight crossed zero: SignGD's identity holds only before
            }
            let before = quantity(&w);
            let predicted = DVector::from_fn(d, |k, _| {
                let factor = match (self.identity, gd) {
                    (Identity::Conserved, _) => 1.0,
                    (Identity::Exact, true) => (1.0 - eta * mu).powi(2) - eta * eta * g[k] * g[k],
                    (Identity::Exact, false) => 1.0 - eta * mu,
                };
                before[k] * factor
            });
            err = worst(err, worst_abs(&(quantity(&next) - predicted)) / scale);
            w = next;
            used += 1;
        }
        let route = if gd { "GD iterates vs one-step identity" } else { "SignGD iterates vs one-step identity" };
        if used < self.steps / 2 {
            let why = format!("weights crossed zero after {used} steps");
            return Ok(vec![Evidence::inconclusive(case, "discrete identity", route, why)]);
        }
        let quantity = format!("max one-step identity error over {used} steps");
        Ok(vec![Evidence::with_error(case, &quantity, 0.0, err, err, tol.balance, route)])
    }
}
