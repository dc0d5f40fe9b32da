//! `mirror-flow`: the steepest flow of the deep diagonal model is a steepest mirror flow
//! `d/dt R'(x) = −φ_q(∇f(x))` with the potential of THEORY §3.
//!
//! Routes, per grid point (random seeded regression):
//! 1. *trajectory*: the parameter flow in w and the mirror flow in x, integrated independently,
//!    agree at every sample time (max relative distance);
//! 2. *potential*: `R''(x(t))` equals `1/h(w(t))`, the gain computed from the parameters along the
//!    w-trajectory, and (closed forms) the num-dual derivative of the closed-form `R'`;
//! 3. *path independence*: two linear losses applied in either order give the same x (a mirror
//!    flow's dual variable just adds `−τφ_q(c)`), which a non-commuting map violates.

use super::{Check, Setup, Tolerances, MODEL_PARAMS};
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{InputError, InputResult};
use crate::flow::{run_to_stationarity, Flow, MirrorFlow, SteepestFlow, WeightDecay};
use crate::geometry::steepest_map;
use crate::ode::{integrate, sample_times, Settings};
use crate::potential::{self, ExponentShift, Potential};
use crate::reparam::{NonCommuting, Reparameterization};
use crate::rng::SplitMix64;
use crate::verdict::{round_sig, worst, Evidence};
use nalgebra::DVector;

/// The `mirror-flow` check kind.
pub struct MirrorFlowCheck;

const EXTRA: [ParamSpec; 4] = [
    ParamSpec { name: "t_end", kind: Kind::Real, valid: constraint::positive, doc: "integration horizon" },
    ParamSpec {
        name: "sample_times",
        kind: Kind::Int,
        valid: constraint::at_least_one,
        doc: "samples compared (≥ 50)",
    },
    ParamSpec {
        name: "exponent_shift",
        kind: Kind::Real,
        valid: constraint::any,
        doc: "negative control: R'' multiplied by |x|^(−δ) (e → e + δ)",
    },
    ParamSpec {
        name: "map",
        kind: Kind::Text,
        valid: constraint::any,
        doc: "\"deep-diagonal\" (default) or the negative control \"non-commuting\" G(w) = (w1w2, w2w3)",
    },
];

static PARAMS: std::sync::LazyLock<Vec<ParamSpec>> =
    std::sync::LazyLock::new(|| MODEL_PARAMS.iter().chain(EXTRA.iter()).copied().collect());

impl Check for MirrorFlowCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: PARAMS.as_slice(), tolerances: &["trajectory", "potential", "path"] }
    }

    fn run(&self, p: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let settings = Settings::default();
        let map = p.text_or("map", "deep-diagonal")?;
        let s = Setup::from_point(p)?;
        let mut rows = Vec::new();
        match map.as_str() {
            "deep-diagonal" => {}
            "non-commuting" => {
                let w0 = DVector::from_element(3, p.real("alpha")?);
                rows.push(path_independence(&NonCommuting, &w0, s.q, case, tol.get("path"), &settings));
                return Ok(rows);
            }
            other => return Err(InputError::new("parameters.map", format!("unknown map '{other}'"))),
        }
        let correct = potential::for_model(s.model.depth, s.q, &s.init.constants);
        let shift = p.real_or("exponent_shift", 0.0)?;
        let potential: Box<dyn Potential> =
            if shift != 0.0 { Box::new(ExponentShift { inner: correct, delta: shift }) } else { correct };
        let route_w = "ODE in w (parameter flow)";
        let route_x = format!("ODE in x (mirror flow, {})", potential.describe());
        let times = sample_times(p.real("t_end")?, p.int_or("sample_times", 60)? as usize);
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
            for k in 0..xw.len() {
                let r = potential.hess(xw[k]);
                gain_err = worst(gain_err, (r * h[k] - 1.0).abs());
            }
        }
        let mut stats = tw.stats;
        stats += tx.stats;
        let quantity = format!("trajectory distance w vs x over t ∈ [0, {}]", round_sig(tw.t[common - 1], 4));
        rows.push(
            Evidence::with_error(
                case,
                &quantity,
                0.0,
                dist,
                dist,
                tol.get("trajectory"),
                &format!("{route_w} vs {route_x}"),
            )
            .with_stats(stats),
        );
        rows.push(Evidence::with_error(
            case,
            "R''(x(t))·h(w(t)) − 1 along the flow",
            0.0,
            gain_err,
            gain_err,
            tol.get("potential"),
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
                tol.get("potential"),
                "automatic differentiation of the closed form",
            ));
        }
        // 3. path independence on the same model and initialisation
        rows.push(path_independence(&s.model, &s.w0, s.q, case, tol.get("path"), &settings));
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
