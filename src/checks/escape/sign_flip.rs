//! `escape/sign-flip`: with a target `y < 0` and the positive balanced init, which flows carry x
//! through 0 (THEORY §3): the dual variable reaches the finite `R'(0)` iff `e = q(L−1)/L < 1`, and
//! the factors do not vanish together only for odd L. SignGF (q = 1) with odd L reaches 0 at
//! `T_0 = ∫_0^α da/(|f'(a^L)|^{q−1} a^{(L−1)(q−1)}) = α` and crosses; GF never does.
//!
//! Only q = 1 and q = 2 are accepted: for 1 < q < 2 the balanced weights reach the saddle w = 0
//! together, where the parameter flow's velocity vanishes and its continuation is not unique.

use super::{label, EscapeTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, InputError, InputResult};
use crate::escape::first_passage;
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stop};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which flows are claimed to cross 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CrossingRule {
    /// Odd L and e < 1 (THEORY §3).
    Theory,
    /// Every flow (a wrong claim).
    Always,
    /// No flow (a wrong claim).
    Never,
}

/// Sign flips: SignGF with odd L crosses x = 0 at t = α; GF never does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignFlip {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// q = 1 (SignGF) or q = 2 (GF).
    pub q: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// The target y < 0 of f(x) = (x − y)²/2.
    #[serde(default = "minus_half")]
    pub target: f64,
    /// Horizon of the flow.
    pub t_end: f64,
    /// Which flows are claimed to cross.
    #[serde(default = "theory")]
    pub rule: CrossingRule,
}

fn minus_half() -> f64 {
    -0.5
}

fn theory() -> CrossingRule {
    CrossingRule::Theory
}

impl Claim for SignFlip {
    const ID: &'static str = "escape/sign-flip";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        if self.q != 1.0 && self.q != 2.0 {
            return Err(InputError::new(
                "q",
                format!("the sign-flip claim is stated for q = 1 and q = 2, got {} (for 1 < q < 2 the weights reach the saddle w = 0 together and the continuation is not unique)", self.q),
            ));
        }
        check_positive("alpha", self.alpha)?;
        check_positive("t_end", self.t_end)?;
        if !(self.target.is_finite() && self.target < 0.0) {
            return Err(InputError::new("target", "the sign-flip claim needs a finite negative target"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (depth, q, alpha, target) = (self.depth, self.q, self.alpha, self.target);
        let theory = depth % 2 == 1 && crate::geometry::mirror_exponent(depth, q) < 1.0;
        let predicted = match self.rule {
            CrossingRule::Theory => theory,
            CrossingRule::Always => true,
            CrossingRule::Never => false,
        };
        let problem =
            Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, target), Default::default())?;
        let model = DeepDiagonal::new(depth, 1);
        let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
        let route =
            if q == 1.0 { "SignGF parameter flow in w (switched, Filippov)" } else { "parameter flow in w (Dop853)" };
        let settings = numerics.settings();
        let end = match flow.run(&w0, &[self.t_end], None, &settings) {
            Ok(tr) => tr,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "sign of x at t_end", route, e.to_string())]),
        };
        let crossed = model.x(end.last())[0] < 0.0;
        let code = |b: bool| if b { 1.0 } else { 0.0 };
        let mut rows = vec![Evidence::with_error(
            case,
            "x crosses 0 (1) or keeps its sign (0) by t_end",
            code(predicted),
            code(crossed),
            (code(predicted) - code(crossed)).abs(),
            0.5,
            route,
        )
        .with_stats(end.stats)];
        if theory && crossed {
            // the time x reaches 0: the escape integral from α down to 0 (= α for q = 1)
            let l = depth as f64;
            let t0 = crate::quadrature::integrate_from_zero(
                |a| 1.0 / ((a.powf(l) - target).abs().powf(q - 1.0) * a.powf((l - 1.0) * (q - 1.0))),
                alpha,
            );
            // the mirror route: z = R'(x) of the balanced potential, ż = −φ_q(f'(x))
            let potential = crate::potential::Balanced::new(depth, q);
            let mirror = crate::flow::MirrorFlow { problem: &problem, potential: &potential, q };
            let x0 = DVector::from_element(1, alpha.powi(depth as i32));
            let level = |z: &DVector<f64>| -mirror.predictor(z)[0];
            let mroute = "quadrature of the arrival time vs the mirror flow in z = R'(x) (switched)";
            let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| {
                mirror.run(&mirror.predictor(y), &[dt], stop, s)
            };
            let quantity = "time x reaches 0 (mirror route)";
            rows.push(match first_passage(&advance, &mirror.state(&x0), &level, self.t_end, &settings) {
                Ok(run) => Evidence::compare(case, quantity, t0, run.time, tol.escape, Metric::Relative, mroute)
                    .with_stats(run.stats),
                Err(e) => Evidence::inconclusive(case, quantity, mroute, e.to_string()),
            });
            let level = |w: &DVector<f64>| -model.x(w)[0];
            let quantity = "time x reaches 0 (parameter flow)";
            let proute = label("quadrature of the arrival time vs", route);
            rows.push(match super::passage(&flow, &w0, &level, self.t_end, &settings) {
                Ok(run) => Evidence::compare(case, quantity, t0, run.time, tol.escape, Metric::Relative, &proute)
                    .with_stats(run.stats),
                Err(e) => Evidence::inconclusive(case, quantity, &proute, e.to_string()),
            });
        }
        Ok(rows)
    }
}
