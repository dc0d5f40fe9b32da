//! `escape/escape-time`: for the linear loss `f(x) = −γx` and the balanced init `w_i = α`, the
//! steepest flow reaches `x_1` at `T = (x_1^{1−e} − x_0^{1−e}) / (L(1−e)γ^{q−1})` (e ≠ 1),
//! `T = ln(x_1/x_0)/(Lγ^{q−1})` (e = 1), `e = q(L−1)/L`, `x_0 = α^L` (THEORY §4). Measured twice:
//! the quadrature of the escape integral and the parameter flow integrated in log-weights.

use super::{half, linear, one, EscapeTolerance, ODE_ROUTE};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, InputResult};
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// The escape time of the balanced steepest flow equals the closed form.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscapeTime {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Initial scale α > 0 (every layer at α).
    pub alpha: f64,
    /// Gradient magnitude γ > 0 of the loss f(x) = −γx.
    #[serde(default = "one")]
    pub gamma: f64,
    /// Escape level x_1 > α^L.
    #[serde(default = "half")]
    pub level: f64,
    /// The q the closed form is evaluated at (default: q; another value is a wrong claim).
    pub predict_q: Option<f64>,
}

impl Claim for EscapeTime {
    const ID: &'static str = "escape/escape-time";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        linear(self.depth, self.q, self.gamma, self.level)?;
        check_positive("alpha", self.alpha)?;
        if let Some(q) = self.predict_q {
            check_q("predict_q", q)?;
        }
        super::start_below(self.alpha, self.depth, self.level)?;
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let esc = linear(self.depth, self.q, self.gamma, self.level)?;
        let claimed = crate::escape::LinearEscape { q: self.predict_q.unwrap_or(self.q), ..esc };
        let predicted = claimed.closed_form(self.alpha);
        let route = |r: &str| format!("closed form (THEORY §4) vs {r}");
        let mut rows = vec![Evidence::compare(
            case,
            "escape time: quadrature of the escape integral",
            predicted,
            esc.quadrature(self.alpha),
            tol.escape,
            Metric::Relative,
            &route("Gauss–Legendre in ln a"),
        )];
        rows.push(match esc.integrated(self.alpha, &numerics.settings()) {
            Ok(run) => Evidence::compare(
                case,
                "escape time: parameter flow",
                predicted,
                run.time,
                tol.escape,
                Metric::Relative,
                &route(ODE_ROUTE),
            )
            .with_stats(run.stats),
            Err(e) => Evidence::inconclusive(case, "escape time: parameter flow", &route(ODE_ROUTE), e.to_string()),
        });
        Ok(rows)
    }
}
