//! `escape/escape-integral`: on the squared loss `f(x) = γ(x − y)²/2` with a target `y > x_1` (the
//! gradient shrinks as x grows), the escape time is the integral
//! `T(α) = ∫_α^{x_1^{1/L}} da / (|f'(a^L)|^{q−1} a^{(L−1)(q−1)})` (THEORY §4), against the engine's
//! parameter flow in plain coordinates.

use super::{half, linear, one, passage, EscapeTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::flow::{SteepestFlow, WeightDecay};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// What the prediction integrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EscapePrediction {
    /// The escape integral with the true gradient `f'(x) = γ(x − y)`.
    Integral,
    /// The linear-loss closed form with the gradient frozen at `|f'(0)| = γy` (a wrong claim: it
    /// ignores that the gradient shrinks).
    ConstantGradient,
}

/// The escape integral on a target-driven loss equals the parameter flow's escape time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscapeIntegral {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Initial scale α > 0 (every layer at α).
    pub alpha: f64,
    /// Curvature γ > 0 of the loss f(x) = γ(x − y)²/2.
    #[serde(default = "one")]
    pub gamma: f64,
    /// The target y > x_1.
    pub target: f64,
    /// Escape level x_1 > α^L.
    #[serde(default = "half")]
    pub level: f64,
    /// What the prediction integrates.
    #[serde(default = "integral")]
    pub prediction: EscapePrediction,
}

fn integral() -> EscapePrediction {
    EscapePrediction::Integral
}

impl Claim for EscapeIntegral {
    const ID: &'static str = "escape/escape-integral";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        linear(self.depth, self.q, self.gamma, self.level)?;
        check_positive("alpha", self.alpha)?;
        if !(self.target.is_finite() && self.target > self.level) {
            return Err(InputError::new("target", "the target must be finite and exceed the level x_1"));
        }
        super::start_below(self.alpha, self.depth, self.level)?;
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let esc = linear(self.depth, self.q, self.gamma, self.level)?;
        let (gamma, target, alpha, q) = (self.gamma, self.target, self.alpha, self.q);
        let predicted = match self.prediction {
            EscapePrediction::Integral => {
                crate::escape::escape_integral(esc.depth, q, alpha, esc.level, |x| gamma * (x - target))
            }
            EscapePrediction::ConstantGradient => {
                crate::escape::LinearEscape { gamma: gamma * target, ..esc }.closed_form(alpha)
            }
        };
        // f = ½(√γ x − √γ y)² = γ(x − y)²/2
        let root = gamma.sqrt();
        let problem = Problem::new(
            DMatrix::from_element(1, 1, root),
            DVector::from_element(1, root * target),
            Default::default(),
        )?;
        let model = DeepDiagonal::new(esc.depth, 1);
        let w0 = model.init(&Initialization::balanced(alpha, esc.depth), q)?;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
        let level = |w: &DVector<f64>| model.x(w)[0] - esc.level;
        let route = "quadrature of T(α) vs the engine's parameter flow in w (plain coordinates)";
        let quantity = "escape time on the squared loss";
        Ok(vec![match passage(&flow, &w0, &level, 10.0 * predicted + 10.0, &numerics.settings()) {
            Ok(run) => Evidence::compare(case, quantity, predicted, run.time, tol.escape, Metric::Relative, route)
                .with_stats(run.stats),
            Err(e) => Evidence::inconclusive(case, quantity, route, e.to_string()),
        }])
    }
}
