//! `escape/blow-up` (the paper's Lemma 4.13 / Cor. 4.14, THEORY §3.5 and §4.4): R is a valid
//! Legendre function only if `m = q(L−1)/L ≤ 1`. For `m > 1` (balanced, λ = 0) `R'` has a bounded
//! range, and on `f = −γx` the flow blows up at `T* = x_0^{1−m}/(L(m−1)γ^{q−1})`; for `m ≤ 1` it
//! exists for all time. Measured by integrating the parameter flow in log-weights to a huge x
//! (1e150) and adding the analytic tail beyond it (the dual variable is linear in t: integrating it
//! would only reproduce the formula).

use super::{linear, one, EscapeTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputError, InputResult};
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

const ODE_ROUTE: &str =
    "ODE in log-weights with time as a state, in s = ∫‖u̇‖∞dt (Dop853, rtol 1e-11), crossing by Brent";

/// Which flows are claimed to blow up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BlowUpRule {
    /// Exactly those with m > 1 (THEORY §3.5).
    Theory,
    /// Every flow, at the time the formula gives for |m − 1| (a wrong claim).
    Always,
}

/// Finite-time blow-up iff m > 1, at T* = x_0^{1−m}/(L(m−1)γ^{q−1}).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlowUp {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Initial scale α > 0 (balanced).
    pub alpha: f64,
    /// Gradient magnitude γ > 0 of f(x) = −γx.
    #[serde(default = "one")]
    pub gamma: f64,
    /// The huge level where the integration stops (the tail beyond it is analytic).
    #[serde(default = "huge")]
    pub far: f64,
    /// Which flows are claimed to blow up.
    #[serde(default = "theory")]
    pub rule: BlowUpRule,
}

fn huge() -> f64 {
    1e150
}

fn theory() -> BlowUpRule {
    BlowUpRule::Theory
}

impl Claim for BlowUp {
    const ID: &'static str = "escape/blow-up";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        linear(self.depth, self.q, self.gamma, self.far)?;
        check_positive("alpha", self.alpha)?;
        super::start_below(self.alpha, self.depth, self.far)?;
        if self.far < 1e20 {
            return Err(InputError::new("far", "stop the integration at x ≥ 1e20 so the level 1e10 lies inside"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let esc = linear(self.depth, self.q, self.gamma, self.far)?;
        let settings = numerics.settings();
        let m = esc.exponent();
        let theory = esc.blow_up_time(self.alpha);
        let claimed = match self.rule {
            BlowUpRule::Theory => theory,
            BlowUpRule::Always => {
                let l = self.depth as f64;
                let x0m = (l * (1.0 - m) * self.alpha.ln()).exp();
                Some(x0m / (l * (m - 1.0).abs().max(1e-12) * self.gamma.powf(self.q - 1.0)))
            }
        };
        let far = esc.integrated_in_log_weights(self.alpha, &settings);
        let near = crate::escape::LinearEscape { level: 1e10, ..esc }.integrated_in_log_weights(self.alpha, &settings);
        let (far, near) = match (far, near) {
            (Ok(f), Ok(n)) => (f, n),
            (Err(e), _) | (_, Err(e)) => {
                return Ok(vec![Evidence::inconclusive(case, "time to reach x = 1e150", ODE_ROUTE, e.to_string())])
            }
        };
        let mut rows = Vec::new();
        match claimed {
            Some(t_star) => {
                // a blow-up is claimed: the measured blow-up time is T(far) plus the analytic tail,
                // which exists only for m > 1 (else the flow is still finite at far: T* = ∞)
                let measured = if m > 1.0 + 1e-12 { far.time + esc.tail(self.far) } else { f64::INFINITY };
                let quantity = "blow-up time T* (ODE to x = far + analytic tail)";
                rows.push(if measured.is_finite() {
                    Evidence::compare(case, quantity, t_star, measured, tol.escape, Metric::Relative, ODE_ROUTE)
                        .with_stats(far.stats)
                } else {
                    // no blow-up: the time keeps growing with the level (T(far) ≫ T(1e10))
                    Evidence::with_error(
                        case,
                        "blow-up claimed, but T(1e150)/T(1e10) − 1 (0 for a blow-up)",
                        0.0,
                        far.time / near.time - 1.0,
                        far.time / near.time - 1.0,
                        tol.escape,
                        ODE_ROUTE,
                    )
                });
            }
            None => {
                // no blow-up: the time to reach far must match the closed form T(far) (finite for
                // every level), and keep growing: T(far) > T(1e10)
                rows.push(
                    Evidence::compare(
                        case,
                        "time to reach x = far (finite: no blow-up)",
                        esc.closed_form(self.alpha),
                        far.time,
                        tol.escape,
                        Metric::Relative,
                        &format!("closed form (m = {m:.4} ≤ 1) vs {ODE_ROUTE}"),
                    )
                    .with_stats(far.stats),
                );
                let growth = far.time / near.time - 1.0;
                rows.push(Evidence::with_error(
                    case,
                    "growth T(far)/T(1e10) − 1 ≥ 1e-3 (error: the shortfall)",
                    1e-3,
                    growth,
                    (1e-3 - growth).max(0.0),
                    tol.escape,
                    ODE_ROUTE,
                ));
            }
        }
        Ok(rows)
    }
}
