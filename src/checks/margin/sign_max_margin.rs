//! `margin/sign-max-margin`: sign gradient flow (q = 1, p = ∞) on the two-sided depth-L model with
//! the exponential loss: the normalised ℓ∞ margin `min_k (Gx)_k/‖x‖∞` increases to the ℓ∞ max
//! margin (clarabel LP) on the coordinates the flow keeps alive, for every depth L (THEORY §5, §8).
//! The gap closes like 1/t (‖w‖ grows linearly in t): rows at earlier sweep times t get the envelope
//! `margin·t_max/t`. The flow runs on the log-exponential loss `ln Σ exp(−(Gx)_k)`, whose gradient has
//! the signs of the exponential loss's (the same Filippov flow) but never underflows.
//!
//! Under SignGF every alive coordinate grows like t^L, so the direction is a sign pattern on the
//! alive coordinates and the ℓ∞ problem's multipliers are not determined by a smooth stationarity
//! equation: the claim is checked on its margin value (`exponent` and `prediction` move it).

use super::{
    default_alpha, default_dim, default_samples, default_seed, default_support, kkt, monotone_rows, run_sweep,
    time_label, validate_sweep, Prediction,
};
use crate::checks::{Claim, Numerics};
use crate::error::{check_depth, InputError, InputResult};
use crate::margin::{max_margin, max_margin_on, norm};
use crate::verdict::{display_number, Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// The tolerances of `margin/sign-max-margin`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignMarginTolerance {
    /// Relative margin gap at t_max (earlier sweep times t: `margin·t_max/t`).
    pub margin: f64,
    /// Largest relative decrease of the margins along the sweep.
    pub shrink: f64,
}

/// SignGF's normalised ℓ∞ margin increases to the ℓ∞ max margin, for every depth.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignMaxMargin {
    /// Depth L ≥ 1 of the two-sided model x = ∏w⁺ − ∏w⁻.
    pub depth: usize,
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
    /// Increasing sweep times in (0, 1e5].
    pub times: Vec<f64>,
    /// A coordinate is alive when |x_i| ≥ support·‖x‖∞ at t_max (in (0, 1)).
    #[serde(default = "default_support")]
    pub support: f64,
    /// The claimed exponent r of the margin norm (default ∞, for every depth).
    pub exponent: Option<f64>,
    /// What the limit is claimed to be: optimal on the alive coordinates (`kkt`) or globally.
    #[serde(default = "kkt")]
    pub prediction: Prediction,
}

impl Claim for SignMaxMargin {
    const ID: &'static str = "margin/sign-max-margin";
    type Tolerance = SignMarginTolerance;

    fn validate(&self) -> InputResult<()> {
        check_depth("depth", self.depth as i64)?;
        if let Some(r) = self.exponent {
            if r.is_nan() || r <= 0.0 {
                return Err(InputError::new("exponent", format!("must be positive (or inf), got {r}")));
            }
        }
        validate_sweep(self.samples, self.dim, self.alpha, self.support, &self.times, 1.0)
    }

    fn evidence(&self, case: &str, tol: &SignMarginTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let depth = self.depth;
        let r = self.exponent.unwrap_or(f64::INFINITY);
        let global = self.prediction == Prediction::Global;
        let rs = display_number(r);
        let route = format!("two-sided L = {depth} SignGF (switched, Filippov) vs max ℓ_{rs} margin");
        let data = (self.seed, self.samples, self.dim);
        let (g, s) = match run_sweep(data, (depth, 1.0, self.alpha), &self.times, r, numerics)
            .map_err(|e| InputError::new(if e.location == "loss" { "samples".into() } else { e.location }, e.message))?
        {
            Ok(v) => v,
            Err(reason) => return Ok(vec![Evidence::inconclusive(case, "ℓ∞ margin", &route, reason)]),
        };
        let last = s.x.last().expect("validated: at least one time");
        let top = norm(last, f64::INFINITY);
        let alive: Vec<usize> = (0..last.len()).filter(|&i| last[i].abs() >= self.support * top).collect();
        let data_error = |e: InputError| InputError::new("samples", format!("{}: {}", e.location, e.message));
        let reference = if global { max_margin(&g, r) } else { max_margin_on(&g, r, &alive) }.map_err(data_error)?;
        let optimum = 1.0 / reference.objective;
        let what =
            if global { "global optimum".to_string() } else { format!("optimum on {} alive coordinates", alive.len()) };
        let t_max = *s.times.last().expect("validated");
        let mut rows: Vec<Evidence> = s
            .times
            .iter()
            .zip(&s.margins)
            .map(|(&t, &m)| {
                let quantity = format!("ℓ_{rs} margin at t = {} vs {what}", time_label(t));
                Evidence::compare(case, &quantity, optimum, m, tol.margin * t_max / t, Metric::Relative, &route)
            })
            .collect();
        if let Some(row) = rows.last_mut() {
            row.stats = Some(s.stats);
        }
        rows.push(Evidence::observe(case, "alive coordinates", alive.len() as f64, &route));
        rows.extend(monotone_rows(case, &s, r, f64::INFINITY, tol.shrink, &route));
        Ok(rows)
    }
}
