//! `escape/learning-rate`: discrete GD and SignGD on `f(x) = −γx`. With a small step η the steps to
//! escape × η approach the flow time T; the smallest step size that escapes within K steps is
//! exact for GD at L = 2 (`η* = ((x_1/α²)^{1/(2K)} − 1)/γ`, THEORY §8) and `(x_1^{1/L} − α)/K` for
//! SignGD; GD's grows like `α^{−(L−2)}` (ln(1/α) at L = 2), SignGD's does not grow.

use super::{alpha_sweep, half, label, linear, one};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::escape::{discrete_steps, exact_gd_step_depth2, increment_exponent, min_step_size, LinearEscape};
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

pub use crate::discrete::MAX_STEPS;

/// GD needs step sizes growing like ln(1/α) (L = 2) or α^{−(L−2)}; SignGD's do not depend on α.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LearningRate {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// Geometric α sweep `first:last:count` (count ≥ 3).
    #[serde(default = "sweep")]
    pub alphas: String,
    /// Step budget K ≥ 1 for the smallest escaping step size.
    pub steps: usize,
    /// Small step size η > 0 for the steps-to-escape rows.
    pub lr: f64,
    /// Gradient magnitude γ > 0 of f(x) = −γx.
    #[serde(default = "one")]
    pub gamma: f64,
    /// Escape level x_1.
    #[serde(default = "half")]
    pub level: f64,
    /// The claimed growth exponent of SignGD's smallest step size (theory: −1, it shrinks like the
    /// distance x_1^{1/L} − α, i.e. does not grow).
    #[serde(default = "minus_one")]
    pub signgd_exponent: f64,
}

fn sweep() -> String {
    "1e-1:1e-4:4".into()
}

fn minus_one() -> f64 {
    -1.0
}

/// The tolerances of the learning-rate claim.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LearningRateTolerance {
    /// Relative error of K·η against the flow time.
    pub escape: f64,
    /// Absolute error of the fitted growth exponents.
    pub exponent: f64,
}

impl Claim for LearningRate {
    const ID: &'static str = "escape/learning-rate";
    type Tolerance = LearningRateTolerance;

    fn validate(&self) -> InputResult<()> {
        let gd = linear(self.depth, 2.0, self.gamma, self.level)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "the saddle at 0 needs depth L ≥ 2"));
        }
        check_positive("lr", self.lr)?;
        crate::error::finite("signgd_exponent", self.signgd_exponent)?;
        if self.steps == 0 || self.steps as f64 > MAX_STEPS {
            return Err(InputError::new("steps", format!("must lie in [1, {MAX_STEPS:e}], got {}", self.steps)));
        }
        let alphas = alpha_sweep(&self.alphas)?;
        let smallest = alphas.iter().copied().fold(f64::INFINITY, f64::min);
        let needed = gd.closed_form(smallest) / self.lr;
        if needed.is_nan() || needed > MAX_STEPS {
            return Err(InputError::new(
                "lr",
                format!("GD would need about {needed:.1e} steps at α = {smallest:e}, over the budget of {MAX_STEPS:e}"),
            ));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &LearningRateTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let gd = linear(self.depth, 2.0, self.gamma, self.level)?;
        let sign = LinearEscape { q: 1.0, ..gd };
        let l = gd.depth as f64;
        let alphas = alpha_sweep(&self.alphas)?;
        let (steps, eta) = (self.steps, self.lr);
        let mut rows = Vec::new();
        let (mut gd_min, mut sign_min) = (Vec::new(), Vec::new());
        let a1 = gd.level.powf(1.0 / l);
        for &alpha in &alphas {
            let case = label(case, &format!("α={alpha:e}"));
            // steps to escape with a small step η: K η → T (first order in η)
            for (name, prob) in [("GD", &gd), ("SignGD", &sign)] {
                let t = prob.closed_form(alpha);
                let max = (20.0 * t / eta) as usize + 10;
                let quantity = format!("{name}: steps to escape × η vs flow time T");
                let route = format!("{name} iterates (η = {eta}) vs closed form");
                rows.push(match discrete_steps(prob, alpha, eta, max) {
                    Some(k) => {
                        Evidence::compare(&case, &quantity, t, k as f64 * eta, tol.escape, Metric::Relative, &route)
                    }
                    None => Evidence::inconclusive(&case, &quantity, &route, format!("no escape within {max} steps")),
                });
            }
            // the smallest step size that escapes within K steps
            let route = format!("root of η ↦ x_K(η) − x_1 (K = {steps}) vs exact");
            match (min_step_size(&gd, alpha, steps), min_step_size(&sign, alpha, steps)) {
                (Ok(g), Ok(s)) => {
                    if gd.depth == 2 {
                        let exact = exact_gd_step_depth2(alpha, gd.gamma, gd.level, steps);
                        let quantity = "GD: smallest step size, L = 2 (THEORY §8)";
                        // root finding to 1e-14 relative; 1e-9 leaves room for the K-fold product's rounding
                        rows.push(Evidence::compare(&case, quantity, exact, g, 1e-9, Metric::Relative, &route));
                    }
                    let exact = (a1 - alpha) / steps as f64;
                    let quantity = "SignGD: smallest step size (x_1^{1/L} − α)/K";
                    rows.push(Evidence::compare(&case, quantity, exact, s, 1e-9, Metric::Relative, &route));
                    gd_min.push(g);
                    sign_min.push(s);
                }
                (Err(e), _) | (_, Err(e)) => {
                    rows.push(Evidence::inconclusive(&case, "smallest step size", &route, e.to_string()))
                }
            }
        }
        if gd_min.len() == alphas.len() {
            let route = "fit of ln(Δη/Δln(1/α)) vs ln(1/α) over the α sweep";
            rows.push(Evidence::compare(
                case,
                "GD: growth exponent of the smallest step size (L − 2)",
                l - 2.0,
                increment_exponent(&alphas, &gd_min).slope,
                tol.exponent,
                Metric::Absolute,
                route,
            ));
            rows.push(Evidence::compare(
                case,
                "SignGD: growth exponent of the smallest step size",
                self.signgd_exponent,
                increment_exponent(&alphas, &sign_min).slope,
                tol.exponent,
                Metric::Absolute,
                route,
            ));
        }
        Ok(rows)
    }
}
