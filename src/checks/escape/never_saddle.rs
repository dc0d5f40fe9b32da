//! `escape/never-saddle`: the growth exponent `κ = q(L−1) − L` of `dT/d ln(1/α)` fitted from ODE
//! escape times over a geometric α sweep, the regime (bounded iff q < L/(L−1), logarithmic at
//! equality, a power law above), and the threshold located by Brent bisection in q on the
//! measured exponent (for L = 2 the threshold is the end of the range, THEORY §8).

use super::{alpha_sweep, half, label, linear, one, regime_code, EscapeTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, InputError, InputResult};
use crate::escape::{fit_line, increment_exponent, LinearEscape, Regime};
use crate::ode::Settings;
use crate::roots::brent;
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// Escape time bounded as α → 0 iff q < L/(L−1); logarithmic at equality, a power law above.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeverSaddle {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// The exponents q ∈ [1, 2] whose growth exponent is measured.
    pub qs: Vec<f64>,
    /// Geometric α sweep `first:last:count` (count ≥ 3).
    #[serde(default = "sweep")]
    pub alphas: String,
    /// Gradient magnitude γ > 0 of f(x) = −γx.
    #[serde(default = "one")]
    pub gamma: f64,
    /// Escape level x_1.
    #[serde(default = "half")]
    pub level: f64,
    /// The claimed threshold q_c (default L/(L−1)); the prediction is κ = L(q/q_c − 1).
    pub threshold: Option<f64>,
}

fn sweep() -> String {
    "1e-1:1e-2:5".into()
}

/// The growth exponent fitted from ODE escape times over `alphas` (Err: the reason).
fn measured_exponent(esc: &LinearEscape, alphas: &[f64], settings: &Settings) -> Result<(f64, Vec<f64>), String> {
    let times: Vec<f64> = alphas
        .iter()
        .map(|&a| esc.integrated(a, settings).map(|r| r.time).map_err(|e| format!("α = {a:e}: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((increment_exponent(alphas, &times).slope, times))
}

impl Claim for NeverSaddle {
    const ID: &'static str = "escape/never-saddle";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        linear(self.depth, 2.0, self.gamma, self.level)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "the saddle at 0 needs depth L ≥ 2"));
        }
        if self.qs.is_empty() {
            return Err(InputError::new("qs", "give at least one q"));
        }
        for &q in &self.qs {
            check_q("qs", q)?;
        }
        if let Some(t) = self.threshold {
            check_positive("threshold", t)?;
        }
        alpha_sweep(&self.alphas).map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let esc = linear(self.depth, 2.0, self.gamma, self.level)?;
        let settings = numerics.settings();
        let l = esc.depth as f64;
        let alphas = alpha_sweep(&self.alphas)?;
        let q_c = self.threshold.unwrap_or(l / (l - 1.0));
        let tolerance = tol.escape;
        let route = "fit of ln(ΔT/Δln(1/α)) vs ln(1/α), ODE escape times";
        let mut rows = Vec::new();
        for &q in &self.qs {
            let this = LinearEscape { q, ..esc };
            let case = label(case, &format!("q={q}"));
            let predicted = l * (q / q_c - 1.0);
            match measured_exponent(&this, &alphas, &settings) {
                Ok((kappa, times)) => {
                    rows.push(Evidence::compare(
                        &case,
                        "growth exponent κ of dT/dln(1/α)",
                        predicted,
                        kappa,
                        tolerance,
                        Metric::Absolute,
                        route,
                    ));
                    // the regime: sign of κ, with |κ| within the tolerance counted as 0 (logarithmic)
                    let measured = if kappa.abs() <= tolerance { 0.0 } else { kappa.signum() };
                    let want = regime_code(Regime::of_exponent(predicted));
                    rows.push(Evidence::with_error(
                        &case,
                        "regime (−1 bounded, 0 logarithmic, 1 power)",
                        want,
                        measured,
                        (want - measured).abs(),
                        0.5,
                        route,
                    ));
                    if Regime::of_exponent(predicted) == Regime::Logarithmic {
                        // at the threshold T = ln(x1/α^L)/(Lγ^{q−1}): the slope of T vs ln(1/α) is 1/γ^{q−1}
                        let pts: Vec<(f64, f64)> =
                            alphas.iter().zip(&times).map(|(a, t)| ((1.0 / a).ln(), *t)).collect();
                        rows.push(Evidence::compare(
                            &case,
                            "slope of T vs ln(1/α) at the threshold",
                            1.0 / esc.gamma.powf(q - 1.0),
                            fit_line(&pts).slope,
                            tolerance,
                            Metric::Relative,
                            "least-squares fit, ODE escape times",
                        ));
                    }
                }
                Err(reason) => {
                    rows.push(Evidence::inconclusive(&case, "growth exponent κ of dT/dln(1/α)", route, reason))
                }
            }
        }
        // the threshold: the root in q of the measured exponent
        let route = "Brent bisection in q on the measured growth exponent";
        let failure = std::cell::RefCell::new(None);
        let kappa = |q: f64| match measured_exponent(&LinearEscape { q, ..esc }, &alphas, &settings) {
            Ok((k, _)) => k,
            Err(r) => {
                failure.borrow_mut().get_or_insert(r);
                f64::NAN
            }
        };
        let at_two = kappa(2.0);
        let found = if at_two.abs() <= tolerance {
            Ok(2.0) // L = 2: the threshold is the end of the range (THEORY §8)
        } else {
            brent(&kappa, 1.0, 2.0, 1e-12).map_err(|e| e.to_string())
        };
        let quantity = "threshold q where the growth exponent changes sign";
        rows.push(match (found, failure.into_inner()) {
            (_, Some(r)) => Evidence::inconclusive(case, quantity, route, r),
            (Ok(q_star), None) => Evidence::compare(case, quantity, q_c, q_star, tolerance, Metric::Absolute, route),
            (Err(e), None) => Evidence::inconclusive(case, quantity, route, e),
        });
        Ok(rows)
    }
}
