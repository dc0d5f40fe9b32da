//! The `mirror-flow` family: the steepest flow of a reparameterised model is a steepest mirror flow
//! `d/dt R'(x) = −φ_q(∇f(x))` (THEORY §3). Two claims:
//! - [`deep_diagonal::DeepDiagonalMirror`]: for `x = w_1 ⊙ … ⊙ w_L` with per-layer constants
//!   `|w_i|^q − |w_j|^q = λ_i − λ_j`, the parameter flow and the mirror flow of the potential of
//!   THEORY §3 agree, `R''(x) = 1/h(w)`, and the flow is path independent (a non-commuting map is
//!   not);
//! - [`perturbed_init::PerturbedInit`]: under a random per-coordinate imbalance the flow is the
//!   mirror flow of the separable potential with each coordinate's own constants; the balanced
//!   escape formula's error is reported per ε.
//!
//! Shared here: the seeded random regression on a deep diagonal model ([`Regression`]).

pub mod deep_diagonal;
pub mod perturbed_init;

use crate::error::{finite, InputError, InputResult};
use crate::reparam::Initialization;

pub use super::regression::Regression;

/// The per-layer constants: `constants` (one per layer) if given, else λ-balanced with `balance`
/// (layer 1 at `(α^q + λ)^{1/q}`, the others at α).
fn constants(depth: usize, balance: f64, constants: Option<&[f64]>) -> InputResult<Vec<f64>> {
    finite("balance", balance)?;
    match constants {
        Some(c) => {
            if balance != 0.0 {
                return Err(InputError::new("constants", "give either constants or balance, not both"));
            }
            if c.len() != depth {
                return Err(InputError::new("constants", format!("{} values for depth {depth}", c.len())));
            }
            for &v in c {
                finite("constants", v)?;
            }
            Ok(c.to_vec())
        }
        None => Ok(Initialization::lambda(1.0, depth, balance).constants),
    }
}

/// Validates the shared fields (`L` by [`check_depth`], `q ∈ [1, 2]`, `α > 0`, `n·d` within the
/// budget, `α^q + λ_i > 0`) and builds the regression.
#[allow(clippy::too_many_arguments)]
pub fn regression(
    depth: usize,
    q: f64,
    alpha: f64,
    balance: f64,
    layer_constants: Option<&[f64]>,
    seed: u64,
    samples: usize,
    dim: usize,
) -> InputResult<Regression> {
    let constants = constants(depth, balance, layer_constants)?;
    super::regression::build(super::regression::Model::OneSided, depth, q, alpha, constants, seed, samples, dim, 0)
        .map_err(|e| {
            let key =
                if layer_constants.is_some() && e.location == "balance" { "constants".into() } else { e.location };
            InputError::new(key, e.message)
        })
}
