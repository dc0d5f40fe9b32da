//! `balance/decoupled-decay`: with `ẇ_i = −φ_q(∂F/∂w_i) − μ w_i`,
//! `d|w_i|^q/dt = −q sign(gx)|gx|^{q−1} − qμ|w_i|^q`, hence `|w_i|^q − |w_L|^q = λ_0 e^{−qμt}` for
//! every loss (THEORY §2, §9): the imbalance decays at rate qμ. The rate is fitted to ln|λ(t)|.

use super::{check_horizon, five, one_u64, ten, BalanceTolerance, Setup};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, finite, InputError, InputResult};
use crate::fit::fit_line;
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::sample_times;
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// Under decoupled decay the imbalance decays as `λ_0 e^{−qμt}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecoupledDecay {
    /// Depth L ≥ 2 (an imbalance needs two layers).
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Decoupled weight decay μ > 0.
    pub weight_decay: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ_0 ≠ 0: layer 1 at (α^q + λ_0)^{1/q}.
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
    /// Horizon (the rate is fitted over 50 samples in (0, t_end]).
    pub t_end: f64,
    /// The claimed decay rate as a multiple of μ (theory: q; e.g. 2 claims GF's rate 2μ for
    /// every q).
    pub rate_factor: Option<f64>,
}

impl DecoupledDecay {
    fn setup(&self) -> InputResult<Setup> {
        check_q("q", self.q)?;
        Setup::new(self.depth, self.q, self.alpha, self.balance, self.seed, self.samples, self.dim)
    }
}

impl Claim for DecoupledDecay {
    const ID: &'static str = "balance/decoupled-decay";
    type Tolerance = BalanceTolerance;

    fn validate(&self) -> InputResult<()> {
        check_horizon(self.t_end)?;
        check_positive("weight_decay", self.weight_decay)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "an imbalance needs depth L ≥ 2"));
        }
        if finite("balance", self.balance)? == 0.0 {
            return Err(InputError::new("balance", "a decay rate needs an initial imbalance λ_0 ≠ 0"));
        }
        if let Some(r) = self.rate_factor {
            finite("rate_factor", r)?;
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &BalanceTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let (q, mu) = (self.q, self.weight_decay);
        let flow = SteepestFlow { problem: &s.problem, model: &s.model, q, decay: WeightDecay::Decoupled(mu) };
        let route = "ODE in w, least-squares fit of ln|λ(t)|";
        let tr = match flow.run(&s.w0, &sample_times(self.t_end, 50), None, &numerics.settings()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "decay rate", route, e.to_string())]),
        };
        let predicted = self.rate_factor.unwrap_or(q) * mu;
        let b0 = s.model.balances(&s.w0, q);
        let d = s.model.dim;
        // a coordinate's fit stops once one of its weights rests at 0 or changes sign (the law
        // divides by w_i; see [`super::free_samples`]); fewer than 10 free samples: left out
        let free = super::free_samples(&s.model, &s.w0, &tr.y, self.alpha);
        // the coordinate whose fitted rate is farthest from the prediction
        let mut far = (-1.0, predicted);
        for j in (0..b0.len()).filter(|&j| b0[j] != 0.0 && free[j % d] >= 10) {
            let pts: Vec<(f64, f64)> =
                tr.t.iter()
                    .zip(&tr.y)
                    .take(free[j % d])
                    .map(|(t, w)| (*t, s.model.balances(w, q)[j].abs().ln()))
                    .collect();
            let rate = -fit_line(&pts).slope;
            let err = (rate - predicted).abs();
            if err.is_nan() || err > far.0 {
                far = (err, rate);
            }
        }
        let quantity = "decay rate of the imbalance";
        if far.0 < 0.0 {
            let why = "every coordinate had a weight at rest at 0 within 10 samples: nothing to fit";
            return Ok(vec![Evidence::inconclusive(case, quantity, route, why.to_string())]);
        }
        let cut = free.iter().filter(|&&n| n < tr.y.len()).count();
        Ok(vec![
            Evidence::compare(case, quantity, predicted, far.1, tol.balance, Metric::Relative, route)
                .with_stats(tr.stats),
            Evidence::observe(
                case,
                "coordinates with a weight at rest at 0 or through 0 by T (fit stopped there)",
                cut as f64,
                route,
            ),
        ])
    }
}
