//! `balance/conservation`: without weight decay, per coordinate `d|w_i|^q/dt = −q sign(gx)|gx|^{q−1}`
//! for every layer i, so `|w_i|^q − |w_L|^q` is constant along `ẇ = −φ_q(∇_w F)` (THEORY §2).

use super::{check_horizon, five, one_u64, scale, ten, BalanceTolerance, Setup};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, InputResult};
use crate::flow::{run_to_stationarity, SteepestFlow, WeightDecay};
use crate::ode::sample_times;
use crate::verdict::{worst, Evidence};
use schemars::JsonSchema;
use serde::Deserialize;

/// The steepest flow without weight decay conserves `|w_i|^q − |w_L|^q`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conservation {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ: layer 1 at (α^q + λ)^{1/q}.
    #[serde(default)]
    pub balance: f64,
    /// Seed of the random regression.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n.
    #[serde(default = "five")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "ten")]
    pub dim: usize,
    /// Horizon (100 samples in (0, t_end], the flow may stop earlier at stationarity).
    pub t_end: f64,
    /// The claimed exponent e of the conserved `|w_i|^e − |w_L|^e` (theory: q).
    pub law_exponent: Option<f64>,
}

impl Conservation {
    fn setup(&self) -> InputResult<Setup> {
        check_q("q", self.q)?;
        Setup::new(self.depth, self.q, self.alpha, self.balance, self.seed, self.samples, self.dim)
    }
}

impl Claim for Conservation {
    const ID: &'static str = "balance/conservation";
    type Tolerance = BalanceTolerance;

    fn validate(&self) -> InputResult<()> {
        check_horizon(self.t_end)?;
        if let Some(e) = self.law_exponent {
            check_positive("law_exponent", e)?;
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &BalanceTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let exponent = self.law_exponent.unwrap_or(self.q);
        let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: self.q, decay: WeightDecay::None };
        let route = "ODE in w (parameter flow)";
        let times = sample_times(self.t_end, 100);
        let tr = match run_to_stationarity(&flow, &s.w0, &times, None, &numerics.settings()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "balance drift", route, e.to_string())]),
        };
        let b0 = s.model.balances(&s.w0, exponent);
        let scale = scale(&b0, self.alpha, exponent);
        let drift = tr.y.iter().fold(0.0, |m, w| {
            let diff = s.model.balances(w, exponent) - &b0;
            diff.iter().fold(m, |m, v| worst(m, v.abs() / scale))
        });
        let quantity = format!("max drift of |w_i|^{exponent} − |w_L|^{exponent} (relative)");
        Ok(vec![Evidence::with_error(case, &quantity, 0.0, drift, drift, tol.balance, route).with_stats(tr.stats)])
    }
}
