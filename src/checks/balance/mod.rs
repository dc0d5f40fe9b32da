//! The `balance` family: the balance laws of THEORY §2 and their fate under weight decay, in
//! continuous time (flows) and exactly in discrete time (GD, SignGD), one claim per file:
//! - [`conservation::Conservation`]: `|w_i|^q − |w_L|^q` is constant along the steepest flow
//!   without weight decay;
//! - [`decoupled_decay::DecoupledDecay`]: under decoupled decay it equals `λ_0 e^{−qμt}`;
//! - [`scheduled_decay::ScheduledDecay`]: under a decay schedule α(t) it equals
//!   `λ_0 exp(−q∫_0^t α)`;
//! - [`coupled_sign::CoupledSign`]: under coupled SignGF it is constant while
//!   `sign(∂F/∂w_i + μ w_i)` agrees across layers (the gradient-dominated phase);
//! - [`discrete::Discrete`]: GD on u⊙v: `δ_{k+1} = δ_k((1 − ημ)² − η² g_k²)`, `δ = u² − v²`
//!   (coupled μ); SignGD: `|u| − |v|` scales by `1 − ημ` per step (decoupled μ).

pub mod conservation;
pub mod coupled_sign;
pub mod decoupled_decay;
pub mod discrete;
pub mod scheduled_decay;

use crate::error::{check_positive, InputError, InputResult};
use crate::problem::Problem;
use crate::reparam::DeepDiagonal;
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// The tolerances of the balance claims.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceTolerance {
    /// Relative error of the balance quantity (drift, identity residual) or of the fitted rate.
    pub balance: f64,
}

/// A random regression on a one-sided deep diagonal model with a λ-balanced initialisation:
/// every layer at α except layer 1 at `(α^q + λ)^{1/q}`.
pub struct Setup {
    /// The regression (seeded Gaussian design, n samples, d features).
    pub problem: Problem,
    /// The model.
    pub model: DeepDiagonal,
    /// The initial parameters.
    pub w0: DVector<f64>,
}

impl Setup {
    /// Validates `L ≥ 1`, `α > 0`, `α^q + λ > 0`, the problem size, and builds the setup.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        depth: usize,
        q: f64,
        alpha: f64,
        balance: f64,
        seed: u64,
        samples: usize,
        dim: usize,
    ) -> InputResult<Self> {
        let constants = super::regression::lambda_constants(depth, balance);
        let r = super::regression::build(
            super::regression::Model::OneSided,
            depth,
            q,
            alpha,
            constants,
            seed,
            samples,
            dim,
            0,
        )?;
        Ok(Self { problem: r.problem, model: r.model, w0: r.w0 })
    }
}

/// A weight `|w| ≤ REST·α` is at rest at 0.
pub(crate) const REST: f64 = 1e-9;

/// For each coordinate k, how many leading samples of `ys` (the states along a flow started at `w0`)
/// it stays free: none of its weights at rest at 0 (`|w| ≤ REST·α`) or of another sign than at the
/// previous sample. The balance laws divide by `w_i`; where a weight is at 0 (at L ≥ 3 layers 2…L of
/// the layer-1 init reach 0 together and every `g_i` of the coordinate vanishes) the continuation of a
/// sign flow is a Filippov selection, not the law (THEORY §2), so comparisons stop there.
pub(crate) fn free_samples(model: &DeepDiagonal, w0: &DVector<f64>, ys: &[DVector<f64>], alpha: f64) -> Vec<usize> {
    let (d, depth) = (model.dim, model.depth);
    (0..d)
        .map(|k| {
            let mut previous = w0;
            ys.iter()
                .take_while(|w| {
                    let free = (0..depth).all(|i| {
                        let (now, before) = (w[i * d + k], previous[i * d + k]);
                        now.abs() > REST * alpha && now.signum() == before.signum()
                    });
                    previous = w;
                    free
                })
                .count()
        })
        .collect()
}

/// The relative scale of the balance quantity: `max(‖b_0‖∞, α^e)`.
pub(crate) fn scale(b0: &DVector<f64>, alpha: f64, exponent: f64) -> f64 {
    b0.amax().max(alpha.powf(exponent))
}

pub(crate) fn one_u64() -> u64 {
    1
}
pub(crate) fn five() -> usize {
    5
}
pub(crate) fn ten() -> usize {
    10
}

/// Most integration samples × horizon the flows may take: `t_end ≤ MAX_T_END`.
pub const MAX_T_END: f64 = 1e4;

/// `t_end ∈ (0, MAX_T_END]`.
pub(crate) fn check_horizon(t_end: f64) -> InputResult<()> {
    check_positive("t_end", t_end)?;
    if t_end > MAX_T_END {
        return Err(InputError::new("t_end", format!("at most {MAX_T_END:e} (a budget), got {t_end}")));
    }
    Ok(())
}
