//! Discrete optimizers on a reparameterized model, with the same `Problem` and
//! `Reparameterization` types as the flows.

use crate::flow::WeightDecay;
use crate::geometry::steepest_map;
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use nalgebra::DVector;

/// One steepest step `w ← w − η φ_q(∇F(w) + μ_c w) − η μ_d w`: GD for q = 2, SignGD for q = 1.
pub fn steepest_step(
    problem: &Problem,
    model: &dyn Reparameterization,
    w: &DVector<f64>,
    q: f64,
    eta: f64,
    decay: WeightDecay,
) -> DVector<f64> {
    let (mu_c, mu_d) = match decay {
        WeightDecay::None => (0.0, 0.0),
        WeightDecay::Coupled(m) => (m, 0.0),
        WeightDecay::Decoupled(m) => (0.0, m),
    };
    let g = problem.gradient(&model.x(w));
    let drive = model.pullback(w, &g) + w * mu_c;
    w - drive.map(|v| steepest_map(q, v)) * eta - w * (eta * mu_d)
}
