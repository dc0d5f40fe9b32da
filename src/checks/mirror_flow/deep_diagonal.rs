//! `mirror-flow/deep-diagonal`: the steepest flow of the deep diagonal model `x = w_1 ⊙ … ⊙ w_L`
//! (per-layer constants fixed by the initialisation) is the steepest mirror flow
//! `d/dt R'(x) = −φ_q(∇f(x))` with the potential of THEORY §3 ([`potential::for_model`]).
//!
//! Routes, per grid point (random seeded regression):
//! 1. *trajectory*: the parameter flow in w and the mirror flow in x, integrated independently,
//!    agree at every sample time (max relative distance);
//! 2. *potential*: `R''(x(t))` equals `1/h(w(t))`, the gain computed from the parameters along the
//!    w-trajectory, and (closed forms) the num-dual derivative of the closed-form `R'`;
//! 3. *path independence*: two linear losses applied in either order give the same x (a mirror
//!    flow's dual variable just adds `−τφ_q(c)`), which a non-commuting map violates.
//!
//! Knobs that change the prediction: `exponent_shift` (the claimed potential's `R''` times
//! `|x|^(−δ)`) and `map` (the map claimed path independent).

use super::{regression, Regression};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, finite, InputError, InputResult};
use crate::flow::{run_to_stationarity, Flow, MirrorFlow, SteepestFlow, WeightDecay};
use crate::geometry::steepest_map;
use crate::ode::{integrate, sample_times, Settings};
use crate::potential::{self, ExponentShift, Potential};
use crate::reparam::{NonCommuting, Reparameterization};
use crate::rng::SplitMix64;
use crate::verdict::{round_sig, worst, Evidence};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// The map whose steepest flow is claimed path independent (route 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PathMap {
    /// The deep diagonal model of the card, from its initialisation (the theory).
    DeepDiagonal,
    /// `G(w) = (w1 w2, w2 w3)` from `w = (α, α, α)`: its Jacobian columns do not commute, so it is
    /// not a mirror flow (a wrong claim).
    NonCommuting,
}

fn deep() -> PathMap {
    PathMap::DeepDiagonal
}

fn zero() -> f64 {
    0.0
}

fn one() -> u64 {
    1
}

fn five() -> usize {
    5
}

fn ten() -> usize {
    10
}

fn sixty() -> usize {
    60
}

/// Most sample times a point may compare (a budget).
pub const MAX_SAMPLES: usize = 10_000;

/// The steepest flow of the deep diagonal model is the steepest mirror flow of THEORY §3.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeepDiagonalMirror {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Imbalance λ: layer 1 at (α^q + λ)^{1/q}, the others at α (0: balanced; not with `constants`).
    #[serde(default = "zero")]
    pub balance: f64,
    /// Per-layer constants λ_i (layer i at (α^q + λ_i)^{1/q}), one per layer.
    pub constants: Option<Vec<f64>>,
    /// Seed of the random regression.
    #[serde(default = "one")]
    pub seed: u64,
    /// Number of samples n.
    #[serde(default = "five")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "ten")]
    pub dim: usize,
    /// Integration horizon.
    pub t_end: f64,
    /// Number of sample times compared (10 … 10 000).
    #[serde(default = "sixty")]
    pub sample_times: usize,
    /// The claimed potential's exponent shift δ: `R''(x)·|x|^(−δ)` (default 0: THEORY §3).
    pub exponent_shift: Option<f64>,
    /// The map claimed path independent: `deep-diagonal` (the theory) or `non-commuting`.
    #[serde(default = "deep")]
    pub map: PathMap,
}

/// The tolerances of `mirror-flow/deep-diagonal`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorTolerance {
    /// Relative trajectory distance between the parameter and the mirror flow.
    pub trajectory: f64,
    /// Relative error of R''·h − 1 and of the num-dual derivative of R'.
    pub potential: f64,
    /// Relative path dependence ‖x(c1→c2) − x(c2→c1)‖/‖Δx‖.
    pub path: f64,
}

impl DeepDiagonalMirror {
    fn setup(&self) -> InputResult<Regression> {
        regression(
            self.depth,
            self.q,
            self.alpha,
            self.balance,
            self.constants.as_deref(),
            self.seed,
            self.samples,
            self.dim,
        )
    }
}

impl Claim for DeepDiagonalMirror {
    const ID: &'static str = "mirror-flow/deep-diagonal";
    type Tolerance = MirrorTolerance;

    fn validate(&self) -> InputResult<()> {
        self.setup()?;
        check_positive("t_end", self.t_end)?;
        if !(10..=MAX_SAMPLES).contains(&self.sample_times) {
            return Err(InputError::new(
                "sample_times",
                format!("must lie in [10, {MAX_SAMPLES}], got {}", self.sample_times),
            ));
        }
        if let Some(d) = self.exponent_shift {
            finite("exponent_shift", d)?;
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &MirrorTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let settings = numerics.settings();
        let s = self.setup()?;
        let mut rows = Vec::new();
        let correct = potential::for_model(s.model.depth, s.q, &s.init.constants);
        let shift = self.exponent_shift.unwrap_or(0.0);
        let potential: Box<dyn Potential> =
            if shift != 0.0 { Box::new(ExponentShift { inner: correct, delta: shift }) } else { correct };
        let route_w = "ODE in w (parameter flow)";
        let route_x = format!("ODE in x (mirror flow, {})", potential.describe());
        let times = sample_times(self.t_end, self.sample_times);
        let param_flow = SteepestFlow { problem: &s.problem, model: &s.model, q: s.q, decay: WeightDecay::None };
        let mirror = MirrorFlow { problem: &s.problem, potential: potential.as_ref(), q: s.q };
        let x0 = s.model.x(&s.w0);
        // For even L the one-sided product keeps x ≥ 0 while the potential (odd extension) would
        // carry x through 0: the equivalence is claimed on the interior of dom R = (0, ∞), so both
        // runs stop when a weight (w-route) or a coordinate (x-route) reaches 0, and the
        // trajectories are compared on the common samples before that.
        let even = s.model.depth % 2 == 0;
        let stop_w = |_t: f64, w: &DVector<f64>| even && w.iter().any(|v| *v <= 0.0);
        let stop_x = |_t: f64, y: &DVector<f64>| even && mirror.predictor(y).iter().any(|v| *v <= 0.0);
        let (tw, tx) = match (
            run_to_stationarity(&param_flow, &s.w0, &times, Some(&stop_w), &settings),
            run_to_stationarity(&mirror, &x0, &times, Some(&stop_x), &settings),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) => return Ok(vec![Evidence::inconclusive(case, "trajectory", route_w, e.to_string())]),
            (_, Err(e)) => return Ok(vec![Evidence::inconclusive(case, "trajectory", &route_x, e.to_string())]),
        };
        let common = (tw.t.len() - tw.stopped as usize).min(tx.t.len() - tx.stopped as usize);
        if common < 10 {
            let reason = format!(
                "only {common} samples before x reached the boundary 0 of dom R (t = {:.3})",
                tw.t_end().min(tx.t_end())
            );
            return Ok(vec![Evidence::inconclusive(case, "trajectory", route_w, reason)]);
        }
        let (tw_y, tx_y) = (&tw.y[..common], &tx.y[..common]);
        // 1. trajectories: relative distance max_t ‖x_w(t) − x_m(t)‖ / max(‖x_w(t)‖, ‖x0‖)
        let mut dist: f64 = 0.0;
        let mut gain_err: f64 = 0.0;
        let xs: Vec<DVector<f64>> = tx_y.iter().map(|y| mirror.predictor(y)).collect();
        for (w, x) in tw_y.iter().zip(&xs) {
            let xw = s.model.x(w);
            dist = worst(dist, (&xw - x).norm() / xw.norm().max(x0.norm()));
            let h = s.model.gain(w, s.q);
            // at x_k = 0 exactly (a group resting at the saddle) R'' = ∞ and h = 0: the identity
            // R''·h = 1 holds on the open set x ≠ 0 only
            for k in (0..xw.len()).filter(|&k| xw[k] != 0.0) {
                let r = potential.hess(xw[k]);
                gain_err = worst(gain_err, (r * h[k] - 1.0).abs());
            }
        }
        let mut stats = tw.stats;
        stats += tx.stats;
        let quantity = format!("trajectory distance w vs x over t ∈ [0, {}]", round_sig(tw.t[common - 1], 4));
        rows.push(
            Evidence::with_error(case, &quantity, 0.0, dist, dist, tol.trajectory, &format!("{route_w} vs {route_x}"))
                .with_stats(stats),
        );
        rows.push(Evidence::with_error(
            case,
            "R''(x(t))·h(w(t)) − 1 along the flow",
            0.0,
            gain_err,
            gain_err,
            tol.potential,
            "potential R'' vs balance-law gain from w",
        ));
        // 2b. num-dual derivative of the closed-form R' against R'' at the sampled |x|
        if potential.grad_dual(num_dual::Dual64::from_re(1.0)).is_some() {
            let mut ad_err: f64 = 0.0;
            for x in xs.iter().flat_map(|x| x.iter().copied()).filter(|v| v.abs() > 1e-12) {
                let ad = potential.hess_autodiff(x.abs()).unwrap_or(f64::NAN);
                ad_err = worst(ad_err, (ad / potential.hess(x) - 1.0).abs());
            }
            rows.push(Evidence::with_error(
                case,
                "d/dx R'(x) (num-dual) vs R''(x)",
                0.0,
                ad_err,
                ad_err,
                tol.potential,
                "automatic differentiation of the closed form",
            ));
        }
        // 3. path independence of the claimed map
        rows.push(match self.map {
            PathMap::DeepDiagonal => path_independence(&s.model, &s.w0, s.q, case, tol.path, &settings),
            PathMap::NonCommuting => {
                let w0 = DVector::from_element(3, self.alpha);
                path_independence(&NonCommuting, &w0, s.q, case, tol.path, &settings)
            }
        });
        Ok(rows)
    }
}

/// Applies the linear losses `⟨c1, x⟩` then `⟨c2, x⟩` (time τ each) and the reverse order to the
/// steepest flow of `model` from `w0`; returns the distance of the two end points relative to the
/// displacement. τ is a quarter of the smallest |w0| so that no weight reaches zero.
fn path_independence(
    model: &dyn Reparameterization,
    w0: &DVector<f64>,
    q: f64,
    case: &str,
    tolerance: f64,
    settings: &Settings,
) -> Evidence {
    let route = "steepest flow under two linear losses, both orders";
    let mut rng = SplitMix64::new(99);
    let d = model.dim();
    let c1 = DVector::from_fn(d, |_, _| rng.normal());
    let c2 = DVector::from_fn(d, |_, _| rng.normal());
    let tau = 0.25 * w0.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let phase = |w: &DVector<f64>, c: &DVector<f64>| {
        let rhs = |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| {
            *dw = model.pullback(w, c).map(|v| -steepest_map(q, v));
        };
        integrate(&rhs, w, 0.0, &[tau], None, settings)
    };
    let run = |a: &DVector<f64>, b: &DVector<f64>| -> Result<(DVector<f64>, crate::ode::Stats), String> {
        let first = phase(w0, a).map_err(|e| e.to_string())?;
        let second = phase(first.last(), b).map_err(|e| e.to_string())?;
        let mut stats = first.stats;
        stats += second.stats;
        Ok((model.x(second.last()), stats))
    };
    match (run(&c1, &c2), run(&c2, &c1)) {
        (Ok((x12, s1)), Ok((x21, s2))) => {
            let moved = (&x12 - model.x(w0)).norm();
            let gap = (&x12 - &x21).norm() / moved;
            let mut stats = s1;
            stats += s2;
            Evidence::with_error(case, "path dependence ‖x(c1→c2) − x(c2→c1)‖/‖Δx‖", 0.0, gap, gap, tolerance, route)
                .with_stats(stats)
        }
        (Err(e), _) | (_, Err(e)) => Evidence::inconclusive(case, "path dependence", route, e),
    }
}
