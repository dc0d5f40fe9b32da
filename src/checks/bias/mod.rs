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

use crate::bias::{self, MirrorMap, Oracle, PotentialMap, Projection, SolveSettings, TwoSidedMap};
use crate::error::InputResult;
use crate::flow::{run_to_stationarity, run_until_loss, Flow, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stats};
use crate::potential::{self, Potential};
use crate::reparam::{DeepDiagonal, Reparameterization};
use nalgebra::{DMatrix, DVector};

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

/// The potential of one side of the model: [`potential::for_model`].
pub fn side_potential(model: &DeepDiagonal, q: f64, constants: &[f64]) -> Box<dyn Potential> {
    potential::for_model(model.depth, q, constants)
}

/// The dual centre `c = R_s'(u0)` of a two-sided model: `u0 = ∏_i w_i(0)` of one side.
fn center(model: &DeepDiagonal, w0: &DVector<f64>, side: &dyn Potential) -> f64 {
    let u0: f64 = (0..model.depth).map(|i| w0[i * model.dim]).product();
    side.grad(u0)
}

/// The generalised projection through the model's mirror map (THEORY §5): the x with `Ax = y` and
/// `R'(x) − R'(x0) ∈ range(Bᵀ)` (B = A: the Bregman projection `argmin D_R(x, x0) s.t. Ax = y`).
/// One-sided: the map of [`potential::for_model`] from `θ0 = R'(x0)`; two-sided: [`TwoSidedMap`]
/// from z = 0.
pub fn predicted_limit(
    model: &DeepDiagonal,
    w0: &DVector<f64>,
    q: f64,
    constants: &[f64],
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Projection {
    let side = side_potential(model, q, constants);
    let settings = SolveSettings::default();
    if model.two_sided {
        let map = TwoSidedMap { side: side.as_ref(), center: center(model, w0, side.as_ref()) };
        bias::generalized_projection(&map, a, b, y, &DVector::zeros(model.dim), &settings)
    } else {
        let map = PotentialMap(side.as_ref());
        let theta0 = model.x(w0).map(|v| map.dual_of(v));
        bias::generalized_projection(&map, a, b, y, &theta0, &settings)
    }
}

/// `D_R(x, x0) = Σ_k (θ_k − θ0_k) x_k − R*(θ_k) + R*(θ0_k)` with `θ = R'(x)`, `θ0 = R'(x0)` (the
/// same formula as the dual solver's primal objective, so the two are comparable). One-sided:
/// `θ = R'(x)` of the potential; two-sided: θ = z solves `ψ(c + z) − ψ(c − z) = x` (odd and
/// increasing in z; [`inverse_increasing`]). NaN where x leaves the map's range.
pub fn divergence(model: &DeepDiagonal, w0: &DVector<f64>, q: f64, constants: &[f64], x: &DVector<f64>) -> f64 {
    let side = side_potential(model, q, constants);
    if model.two_sided {
        let map = TwoSidedMap { side: side.as_ref(), center: center(model, w0, side.as_ref()) };
        let z_of = |v: f64| -> f64 {
            if v == 0.0 {
                return 0.0;
            }
            inverse_increasing(|z| map.primal(z), v.abs()).copysign(v)
        };
        x.iter().map(|&v| z_of(v) * v - map.conjugate(z_of(v)) + map.conjugate(0.0)).sum()
    } else {
        let map = PotentialMap(side.as_ref());
        let x0 = model.x(w0);
        x.iter()
            .zip(x0.iter())
            .map(|(&v, &v0)| {
                let (t, t0) = (map.dual_of(v), map.dual_of(v0));
                (t - t0) * v - map.conjugate(t) + map.conjugate(t0)
            })
            .sum()
    }
}

/// The z ≥ 0 with `f(z) = target` for an increasing `f` with `f(0) ≤ target` whose domain may end
/// (a side potential with bounded `R'` range: `f` is NaN or +∞ beyond the end, where it tends to
/// +∞): bisection, with a non-finite value counted as above the target, on a bracket doubled from
/// [0, 1] (at most 2000 doublings and 200 halvings). NaN if no bracket is found.
pub fn inverse_increasing(f: impl Fn(f64) -> f64, target: f64) -> f64 {
    let above = |z: f64| {
        let v = f(z);
        !v.is_finite() || v >= target
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    let mut doublings = 0;
    while !above(hi) {
        lo = hi;
        hi *= 2.0;
        doublings += 1;
        if doublings > 2000 || !hi.is_finite() {
            return f64::NAN;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if above(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // the end with a finite value closer to the target
    if f(hi).is_finite() && (f(hi) - target).abs() < (f(lo) - target).abs() {
        hi
    } else {
        lo
    }
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
