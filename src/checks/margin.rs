//! `margin`: separable classification with the exponential loss (THEORY §5): the GF of the
//! two-sided depth-2 diagonal model (q = 2) converges in direction to the ℓ1 max-margin solution.
//! The normalised margin `γ(t) = min_k y_k a_kᵀx / ‖x‖₁` is measured at growing times and compared
//! with the optimum `1/‖x̂‖₁`, `x̂ = argmin ‖x‖₁ s.t. y_k a_kᵀx ≥ 1` (clarabel LP); the gap must
//! shrink along the sweep. `prediction = "l2"` (negative control) claims the ℓ1 margin of the ℓ2
//! max-margin direction (clarabel QP) as the limit.

use super::{Check, Tolerances};
use crate::bias::max_margin;
use crate::claims::{constraint, CheckSpec, Kind, ParamSpec, Point};
use crate::error::{InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::ode::Settings;
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::{Evidence, Metric};
use nalgebra::DMatrix;

/// The `margin` check kind.
pub struct MarginCheck;

const PARAMS: [ParamSpec; 6] = [
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "dimension d" },
    ParamSpec { name: "samples", kind: Kind::Int, valid: constraint::at_least_one, doc: "samples n" },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the data" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "times", kind: Kind::Reals, valid: constraint::positive, doc: "increasing flow times" },
    ParamSpec { name: "prediction", kind: Kind::Text, valid: constraint::any, doc: "l1 (default) | l2 (control)" },
];

impl Check for MarginCheck {
    fn spec(&self) -> CheckSpec {
        CheckSpec { params: &PARAMS, tolerances: &["margin", "shrink"] }
    }

    fn run(&self, point: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>> {
        let d = point.int_or("dim", 5)? as usize;
        let n = point.int_or("samples", 8)? as usize;
        let problem = Problem::separable(point.int_or("seed", 1)? as u64, n, d, &[1.0, -1.0]);
        let times = point.reals("times")?;
        let route = "two-sided L = 2 GF (ode) vs clarabel max-margin";
        let g = DMatrix::from_fn(n, d, |k, j| problem.y[k] * problem.a[(k, j)]);
        let l1 = match point.text_or("prediction", "l1")?.as_str() {
            "l1" => true,
            "l2" => false,
            other => return Err(InputError::new("prediction", format!("expected l1 or l2, got {other}"))),
        };
        let reference = max_margin(&g, l1)?;
        let optimum = 1.0 / reference.x.iter().map(|v| v.abs()).sum::<f64>();
        let model = DeepDiagonal::two_sided(2, d);
        let w0 = model.init(&Initialization::balanced(point.real_or("alpha", 0.1)?, 2), 2.0)?;
        let flow = SteepestFlow { problem: &problem, model: &model, q: 2.0, decay: WeightDecay::None };
        let traj = match flow.run(&w0, &times, None, &Settings::default()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "margin", route, format!("{e:?}"))]),
        };
        let gaps: Vec<f64> = traj
            .y
            .iter()
            .zip(&traj.t)
            .filter(|(_, t)| **t > 0.0) // x(0) = 0 for the two-sided balanced init: no direction yet
            .map(|(w, _)| {
                let x = flow.predictor(w);
                let m = (&g * &x).min() / x.iter().map(|v| v.abs()).sum::<f64>();
                (optimum - m) / optimum
            })
            .collect();
        let last = *gaps.last().unwrap_or(&f64::NAN);
        let measured = optimum * (1.0 - last);
        let growth = gaps.windows(2).map(|p| p[1] - p[0]).fold(f64::NEG_INFINITY, f64::max);
        Ok(vec![
            Evidence::compare(
                case,
                "ℓ1 margin at t_max",
                optimum,
                measured,
                tol.get("margin"),
                Metric::Relative,
                route,
            )
            .with_stats(traj.stats),
            Evidence::with_error(
                case,
                "largest gap increase over the sweep",
                0.0,
                growth,
                growth.max(0.0),
                tol.get("shrink"),
                route,
            ),
        ])
    }
}
