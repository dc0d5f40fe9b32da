//! `margin/kkt-direction`: the ℓ_q steepest flow (1 < q ≤ 2) on the two-sided depth-L model with
//! the exponential loss converges in direction to a KKT point of `min ‖x‖_r^r s.t. Gx ≥ 1`,
//! `r = p/L`, `p = q/(q−1)` (THEORY §5, §8; GF: r = 2/L). At the direction `x̂ = x/min_k (Gx)_k` of
//! the flow at t_max ([`crate::margin::kkt`]):
//!
//! - stationarity on the alive coordinates S (`|x_i| ≥ support·‖x‖∞`): `r sign(x̂_i)|x̂_i|^{r−1} =
//!   (Gᵀμ)_i` with `μ ≥ 0` on the active constraints (slack within the `active` tolerance), solved by
//!   nonnegative least squares: a wrong exponent changes `|x̂_i|^{r−1}` on ≥ 2 alive coordinates and
//!   leaves a residual, or needs a negative multiplier;
//! - dead coordinates, r ≥ 1, when the flow's weights cannot vanish (GF, q = 2: φ_q is linear and
//!   the weights decay but stay nonzero) or the global optimum is claimed: the condition at the
//!   limit's `x̂_i = 0`, `(Gᵀμ)_i = 0` for r > 1 and `|(Gᵀμ)_i| ≤ 1` (the ℓ1 subdifferential) for
//!   r = 1. For q < 2 a coordinate whose weights vanish in finite time rests at a
//!   saddle of the product map, where the first-order condition is vacuous; for r < 1 it is vacuous
//!   at x_i = 0 anyway;
//! - the margin `min_k (Gx)_k/‖x‖_r` along the sweep vs the optimum on the alive coordinates (convex
//!   r ≥ 1: a KKT point on S is optimal on S) or, claimed `global`, vs the global optimum (clarabel
//!   for r ≥ 1, vertex enumeration for r < 1), inside the envelope `margin·ln t_max/ln t`; for r < 1 a
//!   KKT point need not be optimal on S and the comparison with the restricted optimum is reported
//!   only;
//! - the ℓ_r margin and the smoothed margin never decrease.

use super::{
    default_alpha, default_dim, default_samples, default_seed, default_support, kkt, monotone_rows, run_sweep,
    time_label, validate_sweep, Prediction,
};
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::geometry::dual_exponent;
use crate::margin::{margin_exponent, max_margin, max_margin_on, norm};
use crate::verdict::{display_number, Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// The tolerances of `margin/kkt-direction`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KktTolerance {
    /// Relative stationarity residual `‖(Gᵀμ − ∇)_S‖/‖∇_S‖` at t_max.
    pub stationarity: f64,
    /// Excess of `|(Gᵀμ)_i|/‖∇_S‖∞` over its bound at a dead coordinate, at t_max.
    pub dead: f64,
    /// A margin constraint is active when its slack `(Gx̂)_k − 1` is at most this at t_max.
    pub active: f64,
    /// Relative margin gap at t_max (earlier sweep times t: `margin·ln t_max/ln t`).
    pub margin: f64,
    /// Largest relative decrease of the margins along the sweep.
    pub shrink: f64,
}

/// The direction of the ℓ_q steepest flow (q > 1) is a KKT point of the ℓ_{p/L} max-margin problem.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KktDirection {
    /// Depth L ≥ 1 of the two-sided model x = ∏w⁺ − ∏w⁻.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ (1, 2] (q = 1 is `margin/sign-max-margin`).
    pub q: f64,
    /// Dimension d of the separable data.
    #[serde(default = "default_dim")]
    pub dim: usize,
    /// Number of samples n.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Seed of the data (Gaussian rows, labels of the teacher (1, −1, 0, …)).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Initial scale α > 0 (balanced).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Increasing sweep times, all above t = 1 (the flow runs in log time s = ln t beyond t = 1).
    pub times: Vec<f64>,
    /// A coordinate is alive when |x_i| ≥ support·‖x‖∞ at t_max (in (0, 1)).
    #[serde(default = "default_support")]
    pub support: f64,
    /// The claimed exponent r of the margin norm (default: the theory's p/L).
    pub exponent: Option<f64>,
    /// What the limit is claimed to be: a KKT point (`kkt`) or the global optimum (`global`).
    #[serde(default = "kkt")]
    pub prediction: Prediction,
}

impl Claim for KktDirection {
    const ID: &'static str = "margin/kkt-direction";
    type Tolerance = KktTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        check_q("q", self.q)?;
        if self.q == 1.0 {
            return Err(InputError::new("q", "q = 1 (SignGF, r = ∞) is the claim margin/sign-max-margin"));
        }
        if let Some(r) = self.exponent {
            check_positive("exponent", r)?;
        }
        validate_sweep(self.samples, self.dim, self.alpha, self.support, &self.times, self.q)
    }

    fn evidence(&self, case: &str, tol: &KktTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (depth, q) = (self.depth, self.q);
        let r = self.exponent.unwrap_or_else(|| margin_exponent(q, depth));
        let global = self.prediction == Prediction::Global;
        let rs = display_number(r);
        let route = format!("two-sided L = {depth}, q = {q} flow (ode, ln t time) vs ℓ_{rs} max-margin KKT conditions");
        let data = (self.seed, self.samples, self.dim);
        let (g, s) = match run_sweep(data, (depth, q, self.alpha), &self.times, r, numerics)
            .map_err(|e| InputError::new(if e.location == "loss" { "samples".into() } else { e.location }, e.message))?
        {
            Ok(v) => v,
            Err(reason) => return Ok(vec![Evidence::inconclusive(case, "ℓ_r KKT conditions", &route, reason)]),
        };
        let last = s.x.last().expect("validated: at least one time");
        let top = norm(last, f64::INFINITY);
        let alive: Vec<usize> = (0..last.len()).filter(|&i| last[i].abs() >= self.support * top).collect();
        // the data's own limits (vertex budget, separability) are input errors of the data keys
        let data_error = |e: InputError| InputError::new("samples", format!("{}: {}", e.location, e.message));
        let reference = if global { max_margin(&g, r) } else { max_margin_on(&g, r, &alive) }.map_err(data_error)?;
        let optimum = 1.0 / reference.objective;
        let what =
            if global { "global optimum".to_string() } else { format!("optimum on {} alive coordinates", alive.len()) };
        // the dead-coordinate bound: GF weights never vanish; a global optimum is an x-space KKT point
        let dead_applies = r >= 1.0 && (q == 2.0 || global);
        let t_max = *s.times.last().expect("validated");
        let mut rows = Vec::new();
        for (&t, (x, &m)) in s.times.iter().zip(s.x.iter().zip(&s.margins)) {
            let quantity = format!("ℓ_{rs} margin at t = {} vs {what}", time_label(t));
            let tolerance = tol.margin * t_max.ln() / t.ln();
            rows.push(if r >= 1.0 || global {
                Evidence::compare(case, &quantity, optimum, m, tolerance, Metric::Relative, &route)
            } else {
                // a KKT point of the nonconvex problem need not be optimal on its support
                Evidence::observe(
                    case,
                    &format!("{quantity} (relative gap; r < 1: reported)"),
                    (optimum - m) / optimum,
                    &route,
                )
            });
            if t < t_max {
                let k = crate::margin::kkt(&g, x, r, self.support, tol.active, dead_applies);
                let quantity = format!("stationarity residual at t = {} (approach)", time_label(t));
                rows.push(Evidence::observe(case, &quantity, k.stationarity, &route));
            }
        }
        let k = crate::margin::kkt(&g, last, r, self.support, tol.active, dead_applies);
        let active = k.multipliers.iter().filter(|&&v| v > 0.0).count();
        let stationarity =
            format!("stationarity ‖Gᵀμ − r|x̂|^(r−1)sign x̂‖/‖∇‖ on {} alive coordinates, μ ≥ 0", alive.len());
        if alive.len() < 2 {
            // a 1-sparse direction has the same ℓ_r margin and KKT conditions for every r
            let reason = format!("{} alive coordinate(s): the ℓ_r KKT conditions do not depend on r", alive.len());
            rows.push(Evidence::inconclusive(case, &stationarity, &route, reason));
        } else {
            rows.push(
                Evidence::with_error(
                    case,
                    &stationarity,
                    0.0,
                    k.stationarity,
                    k.stationarity,
                    tol.stationarity,
                    &route,
                )
                .with_stats(s.stats),
            );
        }
        let dead_count = last.len() - alive.len();
        if dead_applies && dead_count > 0 {
            rows.push(Evidence::with_error(
                case,
                &format!("dead coordinates ({dead_count}): excess of |(Gᵀμ)_i|/‖∇‖∞ over its bound at x_i = 0 (r = 1: 1, r > 1: 0)"),
                0.0,
                k.dead,
                k.dead,
                tol.dead,
                &route,
            ));
        }
        rows.push(Evidence::observe(case, "multipliers μ_k > 0 (count)", active as f64, &route));
        rows.push(Evidence::observe(case, "complementary slackness Σμ_k((Gx̂)_k − 1)/Σμ_k", k.slackness, &route));
        rows.extend(monotone_rows(case, &s, r, dual_exponent(q), tol.shrink, &route));
        Ok(rows)
    }
}
