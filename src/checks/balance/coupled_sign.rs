//! `balance/coupled-sign`: under coupled SignGF `ẇ_i = −sign(∂F/∂w_i + μ w_i)` with positive
//! weights, `d|w_i|/dt = −sign(gx + μ w_i²)` is the same for every layer while these signs agree
//! across layers (the gradient-dominated phase): `|w_i| − |w_L|` stays constant there (THEORY §2).
//! Under decoupled decay (`decay = "decoupled"`) it decays as `e^{−μt}` instead: a control.

use super::{check_horizon, five, one_u64, scale, ten, BalanceTolerance, Setup};
use crate::checks::weight_decay::Decay;
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, InputResult};
use crate::flow::{Flow, SteepestFlow};
use crate::geometry::sign;
use crate::ode::sample_times;
use crate::reparam::Reparameterization;
use crate::verdict::{worst, Evidence};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Coupled SignGF keeps `|w_i| − |w_L|` while the sign condition holds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoupledSign {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Weight decay μ > 0.
    pub weight_decay: f64,
    /// How weight decay enters the flow (the claim: coupled; decoupled decays the imbalance as
    /// e^{−μt}, a control).
    #[serde(default = "coupled")]
    pub decay: Decay,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ: layer 1 at α + λ.
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
    /// Horizon (100 samples in (0, t_end]).
    pub t_end: f64,
}

fn coupled() -> Decay {
    Decay::Coupled
}

impl CoupledSign {
    fn setup(&self) -> InputResult<Setup> {
        Setup::new(self.depth, 1.0, self.alpha, self.balance, self.seed, self.samples, self.dim)
    }
}

impl Claim for CoupledSign {
    const ID: &'static str = "balance/coupled-sign";
    type Tolerance = BalanceTolerance;

    fn validate(&self) -> InputResult<()> {
        check_horizon(self.t_end)?;
        check_positive("weight_decay", self.weight_decay)?;
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &BalanceTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let mu = self.weight_decay;
        let decay = self.decay.with(mu);
        let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: 1.0, decay };
        let (layers, d) = (s.model.depth, s.model.dim);
        // coordinate k is in its gradient-dominated phase until the first accepted step where
        // sign(∂F/∂w_ik + μ w_ik) differs across layers i
        let phase_end = std::cell::RefCell::new(vec![f64::INFINITY; d]);
        let watch = |t: f64, w: &DVector<f64>| {
            let drive = s.model.pullback(w, &s.problem.gradient(&s.model.x(w))) + w * mu;
            let mut end = phase_end.borrow_mut();
            for (k, e) in end.iter_mut().enumerate() {
                if e.is_infinite() && (1..layers).any(|i| sign(drive[i * d + k]) != sign(drive[k])) {
                    *e = t;
                }
            }
            false
        };
        watch(0.0, &s.w0);
        let route = "ODE in w (parameter flow)";
        let tr = match flow.run(&s.w0, &sample_times(self.t_end, 100), Some(&watch), &numerics.settings()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "balance drift", route, e.to_string())]),
        };
        let b0 = s.model.balances(&s.w0, 1.0);
        let scale = scale(&b0, self.alpha, 1.0);
        let end = phase_end.into_inner();
        // drift over the samples where each coordinate is still in its phase
        let mut drift: f64 = 0.0;
        for (t, w) in tr.t.iter().zip(&tr.y) {
            let diff = s.model.balances(w, 1.0) - &b0;
            for (j, v) in diff.iter().enumerate() {
                if *t < end[j % d] {
                    drift = worst(drift, v.abs() / scale);
                }
            }
        }
        // each coordinate counts to its last sample inside the phase: the end itself is known only
        // to the accepted step that crosses it, which moves with any change of step grid, while
        // the samples are fixed times where the integrator stops (the crossing step ends at or
        // before the next sample)
        let in_phase: f64 = end.iter().map(|&e| tr.t.iter().copied().filter(|&t| t < e).fold(0.0, f64::max)).sum();
        if in_phase <= 0.0 {
            let why = "vacuous: no coordinate stays in the gradient-dominated phase to the first sample";
            return Ok(vec![Evidence::inconclusive(case, "gradient-dominated phase", route, why)]);
        }
        Ok(vec![
            Evidence::with_error(
                case,
                "max drift of |w_i| − |w_L| in the phase (relative)",
                0.0,
                drift,
                drift,
                tol.balance,
                route,
            )
            .with_stats(tr.stats),
            Evidence::observe(
                case,
                "coordinate-time in the gradient-dominated phase (to the last sample in it)",
                in_phase,
                route,
            ),
        ])
    }
}
