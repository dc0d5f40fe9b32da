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
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{check_depth, check_q, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::dual_exponent;
use crate::margin::{margin_exponent, max_margin, max_margin_on, norm, normalised_margin};
use crate::ode::{IntegrationFailure, Settings, Trajectory};
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
    head.t.extend(tail.t.iter().skip(1).map(|s| s.exp()));
    head.y.extend(tail.y.into_iter().skip(1));
    head.stats += tail.stats;
    Ok(head)
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
        let mut problem = Problem::separable(point.int_or("seed", 1)? as u64, n, d, &[1.0, -1.0]);
        if q == 1.0 {
            problem.loss = Loss::LogExponential;
        }
        let times = point.reals("times")?;
        if times.windows(2).any(|p| p[1] <= p[0]) {
            return Err(InputError::new("parameters.times", "must increase"));
        }
        if q > 1.0 && times.iter().any(|&t| t <= 1.0) {
            // the rate envelope of q > 1 flows is in ln t
            return Err(InputError::new("parameters.times", "for q > 1 the sweep must lie above t = 1"));
        }
        let r = point.real_or("exponent", margin_exponent(q, depth))?;
        let global = match point.text_or("prediction", "kkt")?.as_str() {
            "kkt" => false,
            "global" => true,
            other => {
                return Err(InputError::new("parameters.prediction", format!("expected kkt or global, got {other}")))
            }
        };
        let floor = point.real_or("support", 1e-2)?;
        let settings = Settings::default();
        let g = DMatrix::from_fn(n, d, |k, j| problem.y[k] * problem.a[(k, j)]);

        let model = DeepDiagonal::two_sided(depth, d);
        let w0 = model.init(&Initialization::balanced(point.real_or("alpha", 0.1)?, depth), q)?;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
        let route =
            format!("two-sided L = {depth}, q = {q} flow (ode, ln t time) vs max ℓ_{} margin", display_number(r));
        let traj = match trajectory(&flow, &w0, &times, &settings) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "margin", &route, e.to_string())]),
        };
        let states: Vec<&DVector<f64>> =
            traj.y.iter().zip(&traj.t).filter(|(_, t)| **t > 0.0).map(|(w, _)| w).collect();
        let xs: Vec<DVector<f64>> = states.iter().map(|w| flow.predictor(w)).collect();
        let Some(last) = xs.last() else {
            return Err(InputError::new("parameters.times", "no positive flow time"));
        };
        let top = norm(last, f64::INFINITY);
        let alive: Vec<usize> = (0..d).filter(|&i| last[i].abs() >= floor * top).collect();
        let (reference, what) = if global {
            (max_margin(&g, r)?, "global optimum".to_string())
        } else {
            (max_margin_on(&g, r, &alive)?, format!("KKT point on {} alive coordinates", alive.len()))
        };
        let optimum = 1.0 / reference.objective;
        let margins: Vec<f64> = xs.iter().map(|x| normalised_margin(&g, x, r)).collect();
        // smoothed margin −ln F(w)/‖w‖_p^L in the flow's own parameter norm, p = q/(q−1)
        let log_loss = Problem { loss: Loss::LogExponential, ..problem.clone() };
        let p = dual_exponent(q);
        let smoothed: Vec<f64> =
            states.iter().zip(&xs).map(|(w, x)| -log_loss.loss(x) / norm(w, p).powi(depth as i32)).collect();
        // the rate envelope: the relative gap at t may be margin·τ(t_max)/τ(t), τ = ln t for q > 1
        // (the O(1/ln t) approach of exponential-loss flows) and τ = t for sign flows (‖w‖ = t + O(1))
        let tau = |t: f64| if q > 1.0 { t.ln() } else { t };
        let sample_times: Vec<f64> = traj.t.iter().copied().filter(|t| *t > 0.0).collect();
        let t_max = *sample_times.last().unwrap_or(&f64::NAN);
        let mut rows: Vec<Evidence> = sample_times
            .iter()
            .zip(&margins)
            .map(|(&t, &m)| {
                let quantity = format!("ℓ_{} margin at t = {} vs {what}", display_number(r), time_label(t));
                let tolerance = tol.get("margin") * tau(t_max) / tau(t);
                Evidence::compare(case, &quantity, optimum, m, tolerance, Metric::Relative, &route)
            })
            .collect();
        if let Some(last) = rows.last_mut() {
            last.stats = Some(traj.stats);
        }
        rows.push(decrease_row(
            case,
            &format!("largest decrease of the ℓ_{} margin (relative)", display_number(r)),
            &margins,
            tol.get("shrink"),
            &route,
        ));
        rows.push(decrease_row(
            case,
            &format!("largest decrease of −ln F/‖w‖_{}^L (relative)", display_number(p)),
            &smoothed,
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
