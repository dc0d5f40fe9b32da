//! The seeded random regression on a deep diagonal model that the balance, bias and mirror-flow
//! claims share: one builder, validated once (`L` by [`check_depth`], `q ∈ [1, 2]`, `α > 0`, finite
//! per-layer constants with `α^q + λ_i > 0`, `n·d` within the problem budget, sparsity `k ≤ d`).

use crate::error::{check_depth, check_positive, check_q, finite, InputError, InputResult};
use crate::problem::{check_size, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// Which deep diagonal model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// `x = w_1 ⊙ … ⊙ w_L` (x keeps the sign of its start).
    OneSided,
    /// `x = ∏w⁺ − ∏w⁻`, both sides started equal (x0 = 0).
    TwoSided,
}

/// A seeded random regression `y = A x*` (or Gaussian y) on a deep diagonal model, with its
/// initialisation.
pub struct Regression {
    /// The data (A_ij ~ N(0, 1)).
    pub problem: Problem,
    /// The model.
    pub model: DeepDiagonal,
    /// The initialisation: layer i at `(α^q + λ_i)^{1/q}`.
    pub init: Initialization,
    /// The steepest-descent exponent q.
    pub q: f64,
    /// The initial parameters.
    pub w0: DVector<f64>,
}

/// Validates the shape of an under-determined seeded regression: the size budget, `samples < dim`
/// (so the interpolators form a family and the implicit bias has something to choose) and a
/// `sparsity`-sparse teacher that fits in `dim`.
pub fn check_underdetermined(samples: usize, dim: usize, sparsity: usize) -> InputResult<()> {
    check_size(samples, dim)?;
    if samples >= dim {
        return Err(InputError::new("samples", "an under-determined regression needs samples < dim"));
    }
    if sparsity > dim {
        return Err(InputError::new("sparsity", format!("a {sparsity}-sparse teacher needs dim ≥ it")));
    }
    Ok(())
}

/// Builds and validates the regression: `Problem::random_regression(seed, samples, dim, sparsity)`
/// on `model` of depth L with per-layer constants `constants` (one per layer).
#[allow(clippy::too_many_arguments)]
pub fn build(
    model: Model,
    depth: usize,
    q: f64,
    alpha: f64,
    constants: Vec<f64>,
    seed: u64,
    samples: usize,
    dim: usize,
    sparsity: usize,
) -> InputResult<Regression> {
    let depth = check_depth("depth", depth as i64)?;
    let q = check_q("q", q)?;
    check_positive("alpha", alpha)?;
    for &c in &constants {
        finite("balance", c)?;
    }
    check_size(samples, dim)?;
    if sparsity > dim {
        return Err(InputError::new("sparsity", format!("a {sparsity}-sparse teacher needs dim ≥ {sparsity}")));
    }
    let problem = Problem::random_regression(seed, samples, dim, sparsity);
    let net = match model {
        Model::OneSided => DeepDiagonal::new(depth, dim),
        Model::TwoSided => DeepDiagonal::two_sided(depth, dim),
    };
    let init = Initialization { alpha, constants };
    let w0 = net.init(&init, q)?;
    Ok(Regression { problem, model: net, init, q, w0 })
}

/// λ-balanced constants: layer 1 at `(α^q + λ)^{1/q}`, the others at α.
pub fn lambda_constants(depth: usize, balance: f64) -> Vec<f64> {
    Initialization::lambda(1.0, depth, balance).constants
}
