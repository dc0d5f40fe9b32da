//! `weight-decay/adam-beta2`: Adam(β1 = 0, β2, ε) with β2 = 0 and ε = 0 is SignGD step for step
//! (THEORY §1); as β2 grows the second-moment average lags the squared gradient and the iterates
//! after K steps move away from SignGD's: the distance grows strictly along the β2 sweep.

use super::{check_beta, check_steps, one_u64, WeightDecayTolerance};
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, Optimizer};
use crate::error::{check_depth, check_nonnegative, check_positive, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::problem::{check_size, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::{Evidence, Metric};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Samples of the random regression (underdetermined for d > 3).
const SAMPLES: usize = 3;

/// The distance of Adam(β1 = 0, β2) to SignGD grows along the β2 sweep.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamBeta2 {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Imbalance λ: layer 1 at (α + λ) (q = 1), λ > −α.
    #[serde(default)]
    pub balance: f64,
    /// The β2 sweep, in the order along which the distance is claimed to grow (at least two
    /// values, each in [0, 1)).
    pub beta2s: Vec<f64>,
    /// Adam ε ≥ 0.
    #[serde(default)]
    pub eps: f64,
    /// Step size η > 0.
    pub lr: f64,
    /// Steps K ≥ 1.
    pub steps: usize,
    /// Seed of the random regression (3 samples).
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Dimension d.
    #[serde(default = "four")]
    pub dim: usize,
}

fn four() -> usize {
    4
}

impl AdamBeta2 {
    fn setup(&self) -> InputResult<(Problem, DeepDiagonal, DVector<f64>)> {
        let depth = check_depth("depth", self.depth as i64)?;
        check_size(SAMPLES, self.dim).map_err(|e| InputError::new("dim", e.message))?;
        let problem = Problem::random_regression(self.seed, SAMPLES, self.dim, 0);
        let model = DeepDiagonal::new(depth, self.dim);
        let w0 = model.init(&Initialization::lambda(self.alpha, depth, self.balance), 1.0)?;
        Ok((problem, model, w0))
    }
}

impl Claim for AdamBeta2 {
    const ID: &'static str = "weight-decay/adam-beta2";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("alpha", self.alpha)?;
        check_positive("lr", self.lr)?;
        check_nonnegative("eps", self.eps)?;
        check_steps("steps", self.steps as f64)?;
        if self.beta2s.len() < 2 {
            return Err(InputError::new("beta2s", "a trend needs at least two β2 values to compare"));
        }
        for &b in &self.beta2s {
            check_beta("beta2s", b)?;
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let (problem, model, w0) = self.setup()?;
        let (lr, steps) = (self.lr, self.steps);
        let sign = Optimizer { method: Method::SignGd, lr, decay: WeightDecay::None }.run(&problem, &model, &w0, steps);
        let route = "Adam(β1 = 0, β2) vs SignGD iterates at the same η and step count";
        let mut rows = Vec::new();
        let mut last: Option<f64> = None;
        let mut violations = 0.0;
        for &b2 in &self.beta2s {
            let method = Method::Adam { beta1: 0.0, beta2: b2, eps: self.eps };
            let adam = Optimizer { method, lr, decay: WeightDecay::None };
            let dist = (adam.run(&problem, &model, &w0, steps).w - &sign.w).amax();
            if !dist.is_finite() {
                let why = format!("distance {dist} at β2 = {b2}");
                return Ok(vec![Evidence::inconclusive(case, "distance to SignGD", route, why)]);
            }
            rows.push(Evidence::observe(case, &format!("distance to SignGD at β2 = {b2}"), dist, route));
            // growth: each next β2 at least `1 + tol` times farther (β2 = 0: distance 0 up to rounding)
            if last.is_some_and(|prev| dist <= prev * (1.0 + tol.wd)) {
                violations += 1.0;
            }
            last = Some(dist);
        }
        // a count: any tolerance below 1 compares it exactly
        let quantity = format!("β2 steps where the distance did not grow by a factor 1 + {}", tol.wd);
        rows.push(Evidence::compare(case, &quantity, 0.0, violations, 0.5, Metric::Absolute, route));
        Ok(rows)
    }
}
