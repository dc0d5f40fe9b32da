//! `escape/coercivity` (the paper's Cor. 4.10, THEORY §4.3): from the coercive initialisation
//! `w_1 = 0`, `w_i = λ` the inverse metric `h = 1/R''` of the per-layer-constants potential is
//! smallest at x = 0, where it equals `μ = λ^{q(L−1)}`; on `f = −γx` the flow leaves the saddle
//! x = 0 at once, `T(x_1) ≤ x_1/(μγ^{q−1})`; and at small levels (x_1 ≲ λ^L, where
//! `T ≈ x_1 γ/(λ^{L−1}γ)^q`) smaller q escapes faster iff `λ^{L−1}γ < 1`.

use super::{label, one, EscapeTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, check_positive, check_q, InputError, InputResult};
use crate::escape::CoerciveEscape;
use crate::potential::Potential;
use crate::verdict::{worst, Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which q is claimed to escape faster at small levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// Smaller q is faster iff `λ^{L−1}γ < 1` (THEORY §4.3).
    Watershed,
    /// Smaller q is always faster (a wrong claim).
    SmallerQFaster,
}

/// Coercive init: min h = λ^{q(L−1)}, escape from x = 0 within x_1/(μγ^{q−1}), the q-ordering
/// watershed λ^{L−1}γ = 1.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coercivity {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// The exponents q ∈ [1, 2] compared (at least two).
    pub qs: Vec<f64>,
    /// The scale λ > 0 of layers 2..L (layer 1 starts at 0).
    pub lambda: f64,
    /// Gradient magnitude γ > 0 of f(x) = −γx.
    #[serde(default = "one")]
    pub gamma: f64,
    /// Escape level x_1 > 0 for the escape-time and bound rows.
    pub level: f64,
    /// A small level (≲ λ^L·1e-2) for the ordering row.
    pub small_level: f64,
    /// The claimed exponent k of the coercivity constant μ = λ^k (default: q(L−1)).
    pub mu_exponent: Option<f64>,
    /// The claimed ordering of escape times in q at the small level.
    #[serde(default = "watershed")]
    pub ordering: Ordering,
}

fn watershed() -> Ordering {
    Ordering::Watershed
}

impl Claim for Coercivity {
    const ID: &'static str = "escape/coercivity";
    type Tolerance = EscapeTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "the saddle at 0 needs depth L ≥ 2"));
        }
        if self.qs.len() < 2 {
            return Err(InputError::new("qs", "give at least two q to compare"));
        }
        for &q in &self.qs {
            check_q("qs", q)?;
        }
        check_positive("lambda", self.lambda)?;
        check_positive("gamma", self.gamma)?;
        check_positive("level", self.level)?;
        check_positive("small_level", self.small_level)?;
        if self.small_level > 1e-2 * self.lambda.powi(self.depth as i32) {
            return Err(InputError::new("small_level", "the ordering law holds for levels ≲ 1e-2·λ^L"));
        }
        let watershed = self.lambda.powi(self.depth as i32 - 1) * self.gamma;
        if (watershed.ln()).abs() < 0.1 {
            return Err(InputError::new("gamma", format!("λ^(L−1)γ = {watershed:.3} is too close to the watershed 1")));
        }
        if let Some(k) = self.mu_exponent {
            crate::error::finite("mu_exponent", k)?;
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &EscapeTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let settings = numerics.settings();
        let mut rows = Vec::new();
        let mut small = Vec::new();
        for &q in &self.qs {
            let case = label(case, &format!("q={q}"));
            let esc = CoerciveEscape { depth: self.depth, q, lambda: self.lambda, gamma: self.gamma };
            // the coercivity constant of the theory, or λ^k with a claimed exponent k
            let mu = match self.mu_exponent {
                None => esc.mu(),
                Some(k) => self.lambda.powf(k),
            };
            // min over x of h = 1/R'' by a scan over 0 < |x| ≤ x_1 (layer magnitudes by root finding)
            let p = esc.potential();
            let h_min = (0..=240)
                .map(|k| self.level * 10f64.powf(-(k as f64) / 10.0))
                .map(|x| 1.0 / p.hess(x))
                .fold(f64::INFINITY, |m, h| if h.is_nan() { f64::NAN } else { m.min(h) });
            rows.push(Evidence::compare(
                &case,
                "min_x h(x) = 1/R''(x) (coercivity constant μ)",
                mu,
                h_min,
                tol.escape,
                Metric::Relative,
                "λ^{q(L−1)} vs scan of 1/R'' (per-layer-constants potential) over 1e-24·x_1 … x_1",
            ));
            let route = "quadrature ∫_0^{x_1} R'' dx/γ^{q−1} vs parameter flow from w = (0, λ, …, λ)";
            let quadrature = esc.quadrature(self.level);
            match esc.integrated(self.level, &settings) {
                Ok(run) => {
                    rows.push(
                        Evidence::compare(
                            &case,
                            "escape time from x = 0",
                            quadrature,
                            run.time,
                            tol.escape,
                            Metric::Relative,
                            route,
                        )
                        .with_stats(run.stats),
                    );
                    // the bound: one-sided, the error is the relative excess over it
                    let bound = self.level / (mu * self.gamma.powf(q - 1.0));
                    let excess = worst(0.0, (run.time - bound) / bound);
                    rows.push(Evidence::with_error(
                        &case,
                        "escape time ≤ x_1/(μγ^{q−1}) (relative excess)",
                        bound,
                        run.time,
                        excess,
                        tol.escape,
                        "bound with the claimed μ vs parameter flow",
                    ));
                }
                Err(e) => rows.push(Evidence::inconclusive(&case, "escape time from x = 0", route, e.to_string())),
            }
            small.push((q, esc.quadrature(self.small_level), esc.integrated(self.small_level, &settings)));
        }
        // the ordering at the small level: smallest q against largest q
        let by_q = |pick: fn(f64, f64) -> bool| {
            small.iter().fold(None::<&(f64, f64, _)>, |b, s| match b {
                Some(b) if !pick(s.0, b.0) => Some(b),
                _ => Some(s),
            })
        };
        let (lo, hi) = (by_q(|a, b| a < b).expect("≥ 2 q"), by_q(|a, b| a > b).expect("≥ 2 q"));
        let watershed = self.lambda.powi(self.depth as i32 - 1) * self.gamma;
        let predicted = match self.ordering {
            Ordering::Watershed => watershed < 1.0,
            Ordering::SmallerQFaster => true,
        };
        let code = |b: bool| if b { 1.0 } else { 0.0 };
        let quantity = format!("q={} escapes x_1 = {:e} before q={} (1 yes, 0 no)", lo.0, self.small_level, hi.0);
        rows.push(match (&lo.2, &hi.2) {
            (Ok(a), Ok(b)) => {
                let measured = a.time < b.time;
                Evidence::with_error(
                    case,
                    &quantity,
                    code(predicted),
                    code(measured),
                    (code(predicted) - code(measured)).abs(),
                    0.5,
                    &format!("λ^(L−1)γ = {watershed:.3}; parameter flows (quadrature {:.4e} vs {:.4e})", lo.1, hi.1),
                )
            }
            (Err(e), _) | (_, Err(e)) => Evidence::inconclusive(case, &quantity, "parameter flows", e.to_string()),
        });
        Ok(rows)
    }
}
