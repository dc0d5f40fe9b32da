//! `margin`: separable classification with the exponential loss (THEORY §5). The ℓ_q steepest
//! flow on the two-sided depth-L diagonal model converges in direction to a KKT point of
//! `min ‖x‖_r s.t. y_k a_kᵀx ≥ 1`, `r = p/L`, `p = q/(q−1)` (q = 1: r = ∞). The normalised margin
//! `γ(t) = min_k y_k a_kᵀx / ‖x‖_r` is measured along a sweep of times and compared with the margin
//! `1/‖x̂‖_r` of the predicted point, inside the rate envelope `margin·τ(t_max)/τ(t)` (τ = ln t for
//! q > 1, t for sign flows), and γ and the smoothed margin `−ln F/‖w‖_p^L` must never decrease:
//!
//! - `prediction = "kkt"` (default): the max-margin solution on the coordinates the flow keeps alive
//!   (|x_i| ≥ `support` · ‖x‖∞ at t_max) — a w-space KKT point, as a coordinate whose weights vanish
//!   is a saddle of the product map; with every coordinate alive it is the global optimum;
//! - `prediction = "global"`: the global optimum over all coordinates (clarabel for r ≥ 1, vertex
//!   enumeration for the nonconvex r < 1);
//! - `exponent = r'` overrides r (negative controls: the law of another depth or q).
//!
//! q > 1 flows run to t = 1, then in logarithmic time s = ln t ([`SteepestFlow::run_log_time`]),
//! since their margins grow like ln t. Sign flows (q = 1) run on the log-exponential loss
//! `ln Σ exp(−y_k a_kᵀx)`, whose gradient has the signs of the exponential loss's (the same
//! Filippov flow) but never underflows at large margins.

use super::{Check, Tolerances};
use crate::bias::Reference;
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{check_depth, check_q, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::dual_exponent;
use crate::margin::{margin_exponent, max_margin, max_margin_on, norm, normalised_margin};
use crate::ode::{IntegrationFailure, Settings, Stats, Trajectory};
use crate::problem::{Loss, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::{display_number, worst, Evidence, Metric};
use nalgebra::{DMatrix, DVector};

/// The `margin` check kind.
pub struct MarginCheck;

const PARAMS: [ParamSpec; 10] = [
    ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "depth L (default 2)" },
    ParamSpec { name: "q", kind: Kind::Real, valid: constraint::q, doc: "steepest-descent exponent q (default 2)" },
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "dimension d" },
    ParamSpec { name: "samples", kind: Kind::Int, valid: constraint::at_least_one, doc: "samples n" },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the data" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "times", kind: Kind::Reals, valid: constraint::positive, doc: "increasing flow times" },
    ParamSpec { name: "prediction", kind: Kind::Text, valid: constraint::any, doc: "kkt (default) | global" },
    ParamSpec { name: "exponent", kind: Kind::Real, valid: constraint::positive, doc: "r, overriding p/L" },
    ParamSpec {
        name: "support", kind: Kind::Real, valid: constraint::positive, doc: "alive: |x_i| ≥ this·‖x‖∞"
    },
];

/// Integrates the flow through `times`: plainly up to t = 1, in s = ln t beyond (q > 1).
fn trajectory(
    flow: &SteepestFlow,
    w0: &DVector<f64>,
    times: &[f64],
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let early: Vec<f64> = times.iter().copied().filter(|&t| flow.q == 1.0 || t <= 1.0).collect();
    let late: Vec<f64> = times.iter().copied().filter(|&t| flow.q > 1.0 && t > 1.0).collect();
    if late.is_empty() {
        return flow.run(w0, &early, None, settings);
    }
    let mut head = flow.run(w0, &[early.as_slice(), &[1.0]].concat(), None, settings)?;
    let tail = flow.run_log_time(head.last(), &late, settings)?;
    head.t.pop();
    head.y.pop();
    // the wrapper stops exactly at the requested times: keep them rather than exp(ln t)
    head.t.extend(late.iter().take(tail.t.len() - 1));
    head.y.extend(tail.y.into_iter().skip(1));
    head.stats += tail.stats;
    Ok(head)
}

/// The margins of a flow along a sweep of times.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The sample times t > 0.
    pub times: Vec<f64>,
    /// x(t).
    pub x: Vec<DVector<f64>>,
    /// Normalised margins `min_k y_k a_kᵀx / ‖x‖_r`.
    pub margins: Vec<f64>,
    /// Smoothed margins `−ln F(w)/‖w‖_p^L` in the flow's parameter norm, `p = q/(q−1)`.
    pub smoothed: Vec<f64>,
    /// Solver statistics.
    pub stats: Stats,
}

/// Runs the ℓ_q steepest flow of the two-sided balanced depth-L model (scale α) on
/// exponential-loss data through increasing `times` (q > 1: all above t = 1) and measures the
/// ℓ_r margins. The outer error is bad input, the inner one an integration failure.
pub fn sweep(
    problem: &Problem,
    depth: usize,
    q: f64,
    alpha: f64,
    times: &[f64],
    r: f64,
) -> InputResult<Result<Sweep, IntegrationFailure>> {
    if problem.loss != Loss::Exponential {
        return Err(InputError::new("loss", "margins are measured for the exponential loss"));
    }
    if times.is_empty() || times.windows(2).any(|p| p[1] <= p[0]) || times.iter().any(|t| t.is_nan() || *t <= 0.0) {
        return Err(InputError::new("times", "must be positive and increasing"));
    }
    if q > 1.0 && times[0] <= 1.0 {
        // log time from t = 1, and the rate envelope of q > 1 flows is in ln t
        return Err(InputError::new("times", "for q > 1 the sweep must lie above t = 1"));
    }
    let log_loss = Problem { loss: Loss::LogExponential, ..problem.clone() };
    // sign flows: ln F has the signs of ∇F and never underflows
    let driven = if q == 1.0 { &log_loss } else { problem };
    let model = DeepDiagonal::two_sided(depth, problem.dim());
    let w0 = model.init(&Initialization::balanced(alpha, depth), q)?;
    let flow = SteepestFlow { problem: driven, model: &model, q, decay: WeightDecay::None };
    let traj = match trajectory(&flow, &w0, times, &Settings::default()) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let g = signed_data(problem);
    let p = dual_exponent(q);
    let mut out = Sweep { times: vec![], x: vec![], margins: vec![], smoothed: vec![], stats: traj.stats };
    for (t, w) in traj.t.iter().zip(&traj.y).filter(|(t, _)| **t > 0.0) {
        let x = flow.predictor(w);
        out.times.push(*t);
        out.margins.push(normalised_margin(&g, &x, r));
        out.smoothed.push(-log_loss.loss(&x) / norm(w, p).powi(depth as i32));
        out.x.push(x);
    }
    Ok(Ok(out))
}

/// `G = diag(y) A`.
pub fn signed_data(problem: &Problem) -> DMatrix<f64> {
    DMatrix::from_fn(problem.samples(), problem.dim(), |k, j| problem.y[k] * problem.a[(k, j)])
}

/// The predicted max-margin point for a flow ending at `x`: the global optimum, or (a w-space
/// KKT point) the optimum on the coordinates alive at x, `|x_i| ≥ floor·‖x‖∞`; with those
/// coordinates.
pub fn prediction(
    g: &DMatrix<f64>,
    r: f64,
    x: &DVector<f64>,
    floor: f64,
    global: bool,
) -> InputResult<(Reference, Vec<usize>)> {
    let top = norm(x, f64::INFINITY);
    let alive: Vec<usize> = (0..x.len()).filter(|&i| x[i].abs() >= floor * top).collect();
    let reference = if global { max_margin(g, r)? } else { max_margin_on(g, r, &alive)? };
    Ok((reference, alive))
}

impl Check for MarginCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: &PARAMS, tolerances: &["margin", "shrink"] }
    }

    fn run(&self, point: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let depth = check_depth("parameters.depth", point.int_or("depth", 2)?)?;
        let q = check_q("parameters.q", point.real_or("q", 2.0)?)?;
        let d = point.int_or("dim", 5)? as usize;
        let n = point.int_or("samples", 8)? as usize;
        let problem = Problem::separable(point.int_or("seed", 1)? as u64, n, d, &[1.0, -1.0]);
        let times = point.reals("times")?;
        let r = point.real_or("exponent", margin_exponent(q, depth))?;
        let global = match point.text_or("prediction", "kkt")?.as_str() {
            "kkt" => false,
            "global" => true,
            other => {
                return Err(InputError::new("parameters.prediction", format!("expected kkt or global, got {other}")))
            }
        };
        let floor = point.real_or("support", 1e-2)?;
        let alpha = point.real_or("alpha", 0.1)?;
        let route =
            format!("two-sided L = {depth}, q = {q} flow (ode, ln t time) vs max ℓ_{} margin", display_number(r));
        let sweep = match sweep(&problem, depth, q, alpha, &times, r)
            .map_err(|e| InputError::new(format!("parameters.{}", e.location), e.message))?
        {
            Ok(s) => s,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "margin", &route, e.to_string())]),
        };
        let g = signed_data(&problem);
        let last = sweep.x.last().expect("at least one time");
        let top = norm(last, f64::INFINITY);
        if !(top.is_finite() && top > 0.0) {
            // a numerical failure, not bad input: no direction to compare
            return Ok(vec![Evidence::inconclusive(case, "margin", &route, format!("‖x(t_max)‖∞ = {top}"))]);
        }
        let (reference, alive) = prediction(&g, r, last, floor, global)?;
        let what = if global {
            "global optimum".to_string()
        } else {
            format!("KKT point on {} alive coordinates", alive.len())
        };
        let optimum = 1.0 / reference.objective;
        let p = dual_exponent(q);
        // the rate envelope: the relative gap at t may be margin·τ(t_max)/τ(t), τ = ln t for q > 1
        // (the O(1/ln t) approach of exponential-loss flows) and τ = t for sign flows (‖w‖ = t + O(1))
        let tau = |t: f64| if q > 1.0 { t.ln() } else { t };
        let t_max = *sweep.times.last().unwrap_or(&f64::NAN);
        let mut rows: Vec<Evidence> = sweep
            .times
            .iter()
            .zip(&sweep.margins)
            .map(|(&t, &m)| {
                let quantity = format!("ℓ_{} margin at t = {} vs {what}", display_number(r), time_label(t));
                let tolerance = tol.get("margin") * tau(t_max) / tau(t);
                Evidence::compare(case, &quantity, optimum, m, tolerance, Metric::Relative, &route)
            })
            .collect();
        if let Some(last) = rows.last_mut() {
            last.stats = Some(sweep.stats);
        }
        rows.push(decrease_row(
            case,
            &format!("largest decrease of the ℓ_{} margin (relative)", display_number(r)),
            &sweep.margins,
            tol.get("shrink"),
            &route,
        ));
        rows.push(decrease_row(
            case,
            &format!("largest decrease of −ln F/‖w‖_{}^L (relative)", display_number(p)),
            &sweep.smoothed,
            tol.get("shrink"),
            &route,
        ));
        Ok(rows)
    }
}

/// The largest relative decrease between consecutive values (NaN propagates): 0 for a
/// non-decreasing sweep.
fn decrease_row(case: &str, quantity: &str, values: &[f64], tolerance: f64, route: &str) -> Evidence {
    let scale = values.last().map_or(f64::NAN, |v| v.abs());
    let drop = values.windows(2).map(|p| (p[0] - p[1]) / scale).fold(f64::NEG_INFINITY, worst);
    Evidence::with_error(case, quantity, 0.0, drop, worst(drop, 0.0), tolerance, route)
}

/// `1e14` for large times, `2560` for small ones.
fn time_label(t: f64) -> String {
    if t >= 1e6 {
        format!("{t:.0e}")
    } else {
        display_number(t)
    }
}
