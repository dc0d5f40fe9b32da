//! `weight-decay/equilibria`: the long-time limit of the balanced steepest flow with weight decay μ
//! on `f = ½‖x − b‖²` is the stationary point of the regularised objective reached from the
//! initialisation (THEORY §6, §8): coupled (any q) and GF: `f + (μL/2)Σ|x|^{2/L}`; decoupled,
//! q ∈ (1, 2): `f + (μ^{p−1}L/p)Σ|x|^{p/L}`; decoupled SignGF: `min(b, μ^{−L})`.

use super::{horizon, one_u64, predicted_limit, stationary, Decay, Limit, Regression, WeightDecayTolerance};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Trajectory};
use crate::reparam::Reparameterization;
use crate::verdict::Evidence;
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// A flow counts as settled when x moved at most this much (relative to max(1, ‖x‖∞)) over the last
/// tenth of its horizon: the rtol 1e−11 noise floor of a stiff explicit integration is ≈ 1e−11‖x‖.
pub const SETTLED: f64 = 1e-9;

/// The limit of the weight-decayed flow is the stationary point reached from the initialisation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Equilibria {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Balanced initial scale α > 0 (every weight α, x_0 = α^L).
    pub alpha: f64,
    /// Weight decay μ > 0.
    pub weight_decay: f64,
    /// Coupled (Adam + L2) or decoupled (AdamW) decay.
    pub decay: Decay,
    /// Targets b > 0: one = scalar f = (x − b)²/2; several = regression with a dense orthonormal
    /// design (f = ½‖x − b‖² + const).
    pub targets: Vec<f64>,
    /// Seed of the design (several targets).
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Flow horizon (the flow must have settled by then).
    #[serde(default = "horizon")]
    pub t_end: f64,
    /// The claimed limit (theory: `stationary`).
    #[serde(default = "stationary")]
    pub prediction: Limit,
}

/// The flow's state at `t_end` (q > 1: possibly stopped earlier, see the stop rule below), its
/// trajectory, and how far x moved over the last tenth of the horizon (0 when the stop fired);
/// callers compare that with [`SETTLED`].
pub(crate) fn flow_limit(
    r: &Regression,
    decay: WeightDecay,
    t_end: f64,
    settings: &Settings,
) -> Result<(DVector<f64>, Trajectory, f64), String> {
    let q = r.q;
    let flow = SteepestFlow { problem: &r.problem, model: &r.model, q, decay };
    // q > 1: stop once ‖ẇ‖∞ ≤ 1e−10 (1 + ‖w‖∞) (distance to the equilibrium ≈ that over its
    // rate), or, under coupled decay, once the drive ∇F + μw, whose φ_q the velocity is, is at
    // rounding level (there the equilibrium is reached in finite time and any integrator
    // chatters on the non-Lipschitz |r|^(q−1))
    let still = |_t: f64, w: &DVector<f64>| {
        let scale = 1.0 + w.amax();
        if q == 1.0 {
            return false;
        }
        if flow.velocity(w).amax() <= 1e-10 * scale {
            return true;
        }
        let g = r.problem.gradient(&r.model.x(w));
        !matches!(decay, WeightDecay::Decoupled(_))
            && (r.model.pullback(w, &g) + w * r.mu).amax() <= 1e-11 * scale.powi(r.model.depth as i32)
    };
    let tr = flow.run(&r.w0, &[0.9 * t_end, t_end], Some(&still), settings).map_err(|e| e.to_string())?;
    let x = r.model.x(tr.last());
    let moved = if tr.stopped { 0.0 } else { (r.model.x(&tr.y[tr.y.len() - 2]) - &x).amax() };
    Ok((x, tr, moved))
}

/// The rows comparing the flow limit of `r` (at its q) under `decay` with the `limit` prediction, per target
/// (relative to max(1, |prediction|)); INCONCLUSIVE when the flow failed or did not settle.
pub(crate) fn limit_rows(
    r: &Regression,
    decay: Decay,
    limit: Limit,
    t_end: f64,
    case: &str,
    tol: f64,
    numerics: &Numerics,
) -> Vec<Evidence> {
    let route = "ODE in w (flow limit) vs root finding on the stationarity equation (decoupled SignGF: box projection)";
    let (x, tr, moved) = match flow_limit(r, decay.with(r.mu), t_end, &numerics.settings()) {
        Ok(v) => v,
        Err(e) => return vec![Evidence::inconclusive(case, "flow limit", route, e)],
    };
    if moved > SETTLED * x.amax().max(1.0) {
        let why = format!("not settled by t_end: x moved {moved:.2e} over the last tenth ({:?})", tr.stats);
        return vec![Evidence::inconclusive(case, "flow limit", route, why)];
    }
    let x0 = r.model.x(&r.w0);
    let mut rows = Vec::new();
    for (k, &b) in r.targets.iter().enumerate() {
        let quantity = format!("limit x[{k}] (target {b})");
        match predicted_limit(limit, decay, r.q, r.model.depth, r.mu, b, x0[k]) {
            Ok(pred) => {
                let err = (pred - x[k]).abs() / pred.abs().max(1.0);
                rows.push(Evidence::with_error(case, &quantity, pred, x[k], err, tol, route).with_stats(tr.stats));
            }
            Err(e) => rows.push(Evidence::inconclusive(case, &quantity, route, e)),
        }
    }
    rows
}

impl Claim for Equilibria {
    const ID: &'static str = "weight-decay/equilibria";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        check_q("q", self.q)?;
        check_positive("t_end", self.t_end)?;
        Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, self.q).map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let r = Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, self.q)?;
        Ok(limit_rows(&r, self.decay, self.prediction, self.t_end, case, tol.wd, numerics))
    }
}
