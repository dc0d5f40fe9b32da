//! The effective initialisation of gradient descent on u ⊙ v (Even, Pesme, Gunasekar, Flammarion
//! 2023; THEORY §5.6): GD with step γ, `u ← u − γ g ⊙ v`, `v ← v − γ g ⊙ u`, multiplies `u + v` and
//! `u − v` by `1 − γg` and `1 + γg`, so per coordinate `δ_{k+1} = δ_k(1 − γ²g_k²)` (δ = u² − v²) and
//! `asinh(2x_k/δ_k) = asinh(2x_0/δ_0) − 2 Σ_{j<k} atanh(γ g_j)` while `γ|g_j| < 1`; the GD limit is
//! the Bregman projection of the hyperbolic entropy with the effective scale δ_∞ from the shifted
//! reference `φ = −2 Σ_j (atanh(γg_j) − γg_j)`.

use crate::bias::{generalized_projection, Oracle, SolveSettings};
use crate::discrete::{minibatch_gradient, Method, OptState, Optimizer};
use crate::flow::WeightDecay;
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Reparameterization};
use nalgebra::{DMatrix, DVector};

/// The most GD steps a point may take.
pub const MAX_STEPS: usize = 1_000_000;

/// A GD run with the per-coordinate records of the identity.
#[derive(Debug, Clone)]
pub struct GdRecord {
    /// The final iterate x.
    pub x: DVector<f64>,
    /// `δ_0 ∏_j (1 − γ²g_j²)` per coordinate.
    pub delta: DVector<f64>,
    /// `Σ_j atanh(γ g_j)` per coordinate.
    pub atanh_sum: DVector<f64>,
    /// `Σ_j γ g_j` per coordinate.
    pub linear_sum: DVector<f64>,
    /// Largest `|δ_k(iterates) − δ_k(product)|/δ_0` over steps and coordinates, with the product
    /// and the iterates' value there.
    pub delta_error: Worst,
    /// Largest `|asinh(2x_k/δ_k) − (asinh(2x_0/δ_0) − 2Σatanh)|` over steps and coordinates, with
    /// the sum formula and the iterates' value there.
    pub angle_error: Worst,
    /// Largest `γ|g|` seen (the identity needs < 1).
    pub max_step_gradient: f64,
    /// Steps taken.
    pub steps: usize,
    /// The final loss.
    pub loss: f64,
}

/// The largest error seen, with the predicted and measured values where it occurred (NaN wins).
#[derive(Debug, Clone, Copy, Default)]
pub struct Worst {
    /// The error.
    pub error: f64,
    /// The formula's value there.
    pub predicted: f64,
    /// The iterates' value there.
    pub measured: f64,
}

impl Worst {
    fn update(&mut self, error: f64, predicted: f64, measured: f64) {
        if (error.is_nan() || error > self.error) && !self.error.is_nan() {
            *self = Worst { error, predicted, measured };
        }
    }
}

/// Runs GD (the engine's optimizer) from `w0 = (u0, v0)` until `loss ≤ target` or `max_steps`,
/// recording the identity's products and sums and its largest deviations.
pub fn run_gd(problem: &Problem, w0: &DVector<f64>, lr: f64, target: f64, max_steps: usize) -> GdRecord {
    run_recorded(problem, w0, Method::Gd, 0, lr, target, max_steps)
}

/// [`run_gd`] for GD or SGD (`Method::Sgd`, batches from `seed`): the identity holds along any
/// sequence of x-space gradients g_j, here the full gradient (GD) or the step's mini-batch
/// gradient [`minibatch_gradient`] at the pre-step x (SGD).
pub fn run_recorded(
    problem: &Problem,
    w0: &DVector<f64>,
    method: Method,
    seed: u64,
    lr: f64,
    target: f64,
    max_steps: usize,
) -> GdRecord {
    let d = problem.dim();
    let model = DeepDiagonal::new(2, d);
    let gd = Optimizer { method, lr, decay: WeightDecay::None };
    let mut s = OptState::seeded(w0, seed);
    let split = |w: &DVector<f64>| -> (DVector<f64>, DVector<f64>) {
        let (u, v) = (w.rows(0, d).into_owned(), w.rows(d, d).into_owned());
        (u.component_mul(&v), u.component_mul(&u) - v.component_mul(&v))
    };
    let (x0, delta0) = split(w0);
    let angle0 = DVector::from_fn(d, |i, _| (2.0 * x0[i] / delta0[i]).asinh());
    let mut delta = delta0.clone();
    let mut atanh_sum: DVector<f64> = DVector::zeros(d);
    let mut linear_sum: DVector<f64> = DVector::zeros(d);
    let (mut delta_error, mut angle_error, mut max_step_gradient) = (Worst::default(), Worst::default(), 0.0f64);
    let mut loss = problem.loss(&model.x(&s.w));
    let mut steps = 0;
    while loss > target && loss.is_finite() && steps < max_steps {
        let x_before = model.x(&s.w);
        gd.step(problem, &model, &mut s);
        let g = match method {
            Method::Sgd { .. } => minibatch_gradient(problem, &x_before, &s.drawn),
            _ => problem.gradient(&x_before),
        };
        steps += 1;
        for i in 0..d {
            let gg = lr * g[i];
            max_step_gradient = max_step_gradient.max(gg.abs());
            delta[i] *= 1.0 - gg * gg;
            atanh_sum[i] += gg.atanh();
            linear_sum[i] += gg;
        }
        let (x, delta_it) = split(&s.w);
        for i in 0..d {
            delta_error.update((delta_it[i] - delta[i]).abs() / delta0[i], delta[i], delta_it[i]);
            let (angle, formula) = ((2.0 * x[i] / delta[i]).asinh(), angle0[i] - 2.0 * atanh_sum[i]);
            angle_error.update((angle - formula).abs(), formula, angle);
        }
        loss = problem.loss(&model.x(&s.w));
    }
    GdRecord {
        x: model.x(&s.w),
        delta,
        atanh_sum,
        linear_sum,
        delta_error,
        angle_error,
        max_step_gradient,
        steps,
        loss,
    }
}

/// The predicted GD limit: the x with `x = (δ/2) sinh(θ0 + Aᵀν)` and `Ax = y` (θ0 = φ from x_0 = 0),
/// solved as the generalised projection of the unit map `½ sinh` with constraint `A diag(δ)` and
/// dual directions A.
pub fn effective_limit(
    a: &DMatrix<f64>,
    y: &DVector<f64>,
    delta: &DVector<f64>,
    phi: &DVector<f64>,
) -> (DVector<f64>, bool, f64) {
    let unit = Oracle::Azulay { delta: 1.0, c: 0.0 };
    let scaled = a * DMatrix::from_diagonal(delta);
    let p = generalized_projection(&unit, &scaled, a, y, phi, &SolveSettings::default());
    (p.x.component_mul(delta), p.converged, p.residual)
}

/// The GD-limit prediction of `mirrorflow bias --optimizer gd` for a user's problem.
#[derive(Debug, Clone)]
pub struct GdPrediction {
    /// The predicted limit: the x with `asinh(2x/δ_∞) = asinh(2x_0/δ_0) + φ + Aᵀν` and `Ax = y`.
    pub x: DVector<f64>,
    /// Whether the dual solve converged.
    pub converged: bool,
    /// Its residual ‖Ax − y‖.
    pub residual: f64,
    /// The GD run that supplied δ_∞ and φ (its final iterate is the measured limit).
    pub run: GdRecord,
    /// φ = −2Σ(atanh(γg) − γg).
    pub shift: DVector<f64>,
}

/// Runs GD on u ⊙ v from `w0 = (u0, v0)` (every `u0² − v0² > 0`) to loss ≤ `target` and predicts its
/// limit from the effective scale δ_∞ and the shifted reference `asinh(2x_0/δ_0) + φ`. The effective
/// quantities are products and sums over the run, so the prediction needs the run's gradients; the
/// limit itself then follows from (A, y) by the dual solve. `Err`: a start with δ_0 ≤ 0, γ|g| ≥ 1, or
/// GD not reaching the target.
pub fn gd_prediction(
    problem: &Problem,
    w0: &DVector<f64>,
    lr: f64,
    target: f64,
    max_steps: usize,
) -> Result<GdPrediction, String> {
    let d = problem.dim();
    let (u0, v0) = (w0.rows(0, d), w0.rows(d, d));
    let delta0 = u0.component_mul(&u0) - v0.component_mul(&v0);
    if delta0.iter().any(|&v| v.is_nan() || v <= 0.0) {
        return Err("the identity is written for u0² − v0² > 0 in every coordinate (give --balance > 0)".into());
    }
    let run = run_gd(problem, w0, lr, target, max_steps);
    if run.max_step_gradient >= 1.0 {
        return Err(format!(
            "γ|g| reached {:.3e} ≥ 1: the identity needs γ|g| < 1 (smaller --lr)",
            run.max_step_gradient
        ));
    }
    if run.loss.is_nan() || run.loss > target {
        return Err(format!("GD did not reach loss {target:e} in {} steps (loss {:.3e})", run.steps, run.loss));
    }
    let x0 = u0.component_mul(&v0);
    let shift = (&run.atanh_sum - &run.linear_sum) * -2.0;
    let theta0 = DVector::from_fn(d, |i, _| (2.0 * x0[i] / delta0[i]).asinh() + shift[i]);
    let (x, converged, residual) = effective_limit(&problem.a, &problem.y, &run.delta, &theta0);
    Ok(GdPrediction { x, converged, residual, run, shift })
}
