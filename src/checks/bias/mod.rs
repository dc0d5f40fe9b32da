//! The `bias` family: the implicit bias of steepest flows of deep diagonal models on an
//! under-determined regression (THEORY §5, §8), one claim per file:
//! - [`bregman::Bregman`]: the flow limit is the Bregman projection `argmin D_R(x, x0) s.t. Ax = y`
//!   of the model's potential (GF; a refuted card runs it at q < 2);
//! - [`generalised::Generalised`]: for one sample and q < 2 the limit is the x with `aᵀx = y` and
//!   `R'(x) − R'(x0) ∈ span(φ_q(a))`;
//! - [`rich_kernel::RichKernel`]: for the two-sided depth-2 model under GF, the projection tends to
//!   min-ℓ1 at the rate `α^{2c}` as α → 0 and to min-ℓ2 as α grows.
//!
//! Shared here: the seeded regression on a deep diagonal model ([`Regression`]), the predicted
//! limit through the model's mirror map ([`predicted_limit`]), the Bregman divergence of any point
//! ([`divergence`]) and the flow run to its limit ([`flow_limit`]).

pub mod bregman;
pub mod generalised;
pub mod rich_kernel;

pub use crate::bias::{divergence, inverse_increasing, predicted_limit, side_potential};
use crate::bias::{Oracle, Projection};
use crate::error::InputResult;
use crate::flow::{run_to_stationarity, run_until_loss, Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stats};

use crate::reparam::Reparameterization;
use nalgebra::DVector;

pub use super::regression::{Model, Regression};

/// The regression of a bias claim, λ-balanced with `balance` ([`super::regression::build`]).
#[allow(clippy::too_many_arguments)]
pub fn regression(
    model: Model,
    depth: usize,
    q: f64,
    alpha: f64,
    balance: f64,
    seed: u64,
    samples: usize,
    dim: usize,
    sparsity: usize,
) -> InputResult<Regression> {
    let constants = super::regression::lambda_constants(depth, balance);
    super::regression::build(model, depth, q, alpha, constants, seed, samples, dim, sparsity)
}

/// The literature oracle of a model at q = 2, if one applies: Woodworth (two-sided balanced
/// L = 2), depth-D `h_D` (two-sided balanced L ≥ 3), Azulay (one-sided λ-balanced L = 2).
pub fn oracle(s: &Regression) -> Option<Oracle> {
    let balanced = s.init.constants.iter().all(|&c| c == 0.0);
    match (s.model.two_sided, balanced, s.model.depth) {
        (true, true, 2) => Some(Oracle::Woodworth { alpha: s.init.alpha }),
        (true, true, d) if d >= 3 => Some(Oracle::DeepTwoSided { alpha: s.init.alpha, depth: d }),
        (false, false, 2) => {
            let (u0, v0) = (s.w0[0], s.w0[s.model.dim]);
            let delta = (u0 * u0 - v0 * v0).abs();
            Some(Oracle::Azulay { delta, c: (2.0 * u0 * v0 / delta).asinh() })
        }
        _ => None,
    }
}

/// The solver's statistics as a label.
pub fn solve_label(p: &Projection) -> String {
    format!(
        "{}: {} it, {} grad, {} hess, {} cost",
        p.stats.method, p.stats.iterations, p.stats.gradient_evals, p.stats.hessian_evals, p.stats.cost_evals
    )
}

/// The flow's limit: q = 2 runs to `loss ≤ loss_target` (`loss_target` required), q < 2 to its
/// interpolation floor (finite-time arrival, detected as stationarity). `Err` is the INCONCLUSIVE
/// reason: an integrator error or a flow that did not get there by `t_end`.
pub fn flow_limit(
    s: &Regression,
    t_end: f64,
    loss_target: Option<f64>,
    settings: &Settings,
) -> Result<(DVector<f64>, Stats), String> {
    let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: s.q, decay: WeightDecay::None };
    let tr = match loss_target {
        Some(target) => run_until_loss(&flow, &s.w0, t_end, Some(target), 1, settings),
        None => run_to_stationarity(&flow, &s.w0, &[t_end], None, settings),
    }
    .map_err(|e| e.to_string())?;
    let loss = flow.loss(tr.last());
    let reached = match loss_target {
        Some(target) => loss <= target,
        None => tr.stationary_at.is_some(),
    };
    if !reached {
        return Err(format!("flow did not reach its limit by t = {t_end} (loss {loss:.3e})"));
    }
    Ok((s.model.x(tr.last()), tr.stats))
}

/// The default flow horizon.
pub(crate) fn default_t_end() -> f64 {
    1e5
}

/// The default seed.
pub(crate) fn one_seed() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_matches_the_solver_objective_at_the_projection() {
        for model in [Model::OneSided, Model::TwoSided] {
            let s = regression(model, 2, 2.0, 0.5, 0.0, 3, 4, 8, 2).unwrap();
            let (a, y) = (&s.problem.a, &s.problem.y);
            let p = predicted_limit(&s.model, &s.w0, s.q, &s.init.constants, a, a, y);
            assert!(p.converged);
            let d = divergence(&s.model, &s.w0, s.q, &s.init.constants, &p.x);
            assert!((d - p.objective).abs() <= 1e-10 * p.objective.abs(), "{model:?}: {d} vs {}", p.objective);
            // a nearby interpolator (x* moved along the null space of A) has a larger divergence
            let v = DVector::from_fn(8, |k, _| (k as f64 * 0.7).sin());
            let null = &v - a.transpose() * (a * a.transpose()).lu().solve(&(a * &v)).unwrap();
            let eps = 1e-3 * p.x.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
            let moved = &p.x + &null * (eps / null.norm());
            assert!((a * &moved - y).norm() < 1e-10);
            assert!(divergence(&s.model, &s.w0, s.q, &s.init.constants, &moved) > d, "{model:?}");
        }
    }
}
