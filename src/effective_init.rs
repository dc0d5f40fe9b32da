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
        // (cargo-mutants: `>=` is equivalent: on a tie it keeps the later of two equally large
        // errors instead of the earlier; either is a worst point)
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
    // (cargo-mutants: `>=` is equivalent up to a loss exactly at the target, a tie of measure zero)
    if run.loss.is_nan() || run.loss > target {
        return Err(format!("GD did not reach loss {target:e} in {} steps (loss {:.3e})", run.steps, run.loss));
    }
    let x0 = u0.component_mul(&v0);
    let shift = (&run.atanh_sum - &run.linear_sum) * -2.0;
    let theta0 = DVector::from_fn(d, |i, _| (2.0 * x0[i] / delta0[i]).asinh() + shift[i]);
    let (x, converged, residual) = effective_limit(&problem.a, &problem.y, &run.delta, &theta0);
    Ok(GdPrediction { x, converged, residual, run, shift })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Loss;

    /// `A = [1, 2]`, `y = 1` (one sample, two coordinates): the smallest problem with a family of
    /// interpolators, so the limit depends on the initialisation.
    fn problem() -> Problem {
        Problem::new(DMatrix::from_row_slice(1, 2, &[1.0, 2.0]), DVector::from_vec(vec![1.0]), Loss::Squared).unwrap()
    }

    /// GD on u ⊙ v written out by hand on scalars: `r = u1v1 + 2u2v2 − 1`, `g = (r, 2r)`,
    /// `u ← u − γ g ⊙ v`, `v ← v − γ g ⊙ u` (simultaneous), with the sums of the identity.
    #[allow(clippy::type_complexity)]
    fn by_hand(w0: [f64; 4], lr: f64, steps: usize) -> ([f64; 2], [f64; 2], [f64; 2], [f64; 2], f64) {
        let [mut u1, mut u2, mut v1, mut v2] = w0;
        let (mut atanh, mut lin, mut delta) = ([0.0; 2], [0.0; 2], [u1 * u1 - v1 * v1, u2 * u2 - v2 * v2]);
        let mut max_g = 0.0f64;
        for _ in 0..steps {
            let r = u1 * v1 + 2.0 * u2 * v2 - 1.0;
            let g = [r, 2.0 * r];
            (u1, v1) = (u1 - lr * g[0] * v1, v1 - lr * g[0] * u1);
            (u2, v2) = (u2 - lr * g[1] * v2, v2 - lr * g[1] * u2);
            for i in 0..2 {
                atanh[i] += (lr * g[i]).atanh();
                lin[i] += lr * g[i];
                delta[i] *= 1.0 - (lr * g[i]).powi(2);
                max_g = max_g.max((lr * g[i]).abs());
            }
        }
        ([u1 * v1, u2 * v2], delta, atanh, lin, max_g)
    }

    #[test]
    fn worst_keeps_the_largest_error_and_a_nan_for_good() {
        let mut w = Worst::default();
        w.update(0.5, 1.0, 2.0);
        w.update(0.25, 3.0, 4.0);
        assert_eq!((w.error, w.predicted, w.measured), (0.5, 1.0, 2.0));
        w.update(0.75, 5.0, 6.0);
        assert_eq!((w.error, w.predicted, w.measured), (0.75, 5.0, 6.0));
        w.update(f64::NAN, 7.0, 8.0);
        assert!(w.error.is_nan() && w.predicted == 7.0);
        w.update(1e9, 9.0, 10.0);
        assert!(w.error.is_nan() && w.predicted == 7.0);
    }

    #[test]
    fn run_gd_records_the_sums_of_gd_written_out_by_hand() {
        // a fixed number of steps (target below reach): every record against the hand iteration;
        // the same floating-point operations in another order, so 1e-12 relative bounds rounding
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]);
        let (lr, steps) = (0.05, 40);
        let r = run_gd(&problem(), &w0, lr, 0.0, steps);
        let (x, delta, atanh, lin, max_g) = by_hand([0.3, 0.2, 0.1, 0.05], lr, steps);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-3);
        assert_eq!(r.steps, steps);
        for i in 0..2 {
            assert!(close(r.x[i], x[i]), "x {} vs {:?}", r.x, x);
            assert!(close(r.delta[i], delta[i]), "delta {} vs {:?}", r.delta, delta);
            assert!(close(r.atanh_sum[i], atanh[i]), "atanh {} vs {:?}", r.atanh_sum, atanh);
            assert!(close(r.linear_sum[i], lin[i]), "linear {} vs {:?}", r.linear_sum, lin);
        }
        assert!(close(r.max_step_gradient, max_g));
        let res = x[0] + 2.0 * x[1] - 1.0;
        assert!(close(r.loss, 0.5 * res * res));
        // the identity itself holds along GD (rounding only), and the sums moved
        assert!(r.delta_error.error < 1e-12 && r.angle_error.error < 1e-10, "{:?} {:?}", r.delta_error, r.angle_error);
        assert!(r.atanh_sum[1].abs() > 0.1 && r.delta[1] < 0.2 * 0.2 - 0.05 * 0.05);
        // a target reached stops the run at once; max_steps = 0 takes no step
        assert_eq!(run_gd(&problem(), &w0, lr, 1.0, steps).steps, 0);
        assert_eq!(run_gd(&problem(), &w0, lr, 0.0, 0).steps, 0);
        // "until loss ≤ target": a target equal to the start's loss is already reached
        let start = problem().loss(&DeepDiagonal::new(2, 2).x(&w0));
        assert_eq!(run_gd(&problem(), &w0, lr, start, steps).steps, 0);
    }

    #[test]
    fn the_delta_error_is_relative_to_the_initial_imbalance() {
        // one coordinate (A = [1], y = 1), δ_0 = 0.3² − 0.1² = 0.08: the recorded worst error is
        // |δ_k(iterates) − δ_k(product)|/δ_0 at its own predicted and measured values (rounding makes
        // it non-zero along 200 steps; the division is exact to an ulp)
        let p = Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, 1.0), Loss::Squared).unwrap();
        let r = run_gd(&p, &DVector::from_vec(vec![0.3, 0.1]), 0.05, 0.0, 200);
        let w = r.delta_error;
        let delta0 = 0.3f64 * 0.3 - 0.1 * 0.1;
        assert!(w.error > 0.0, "{w:?}");
        assert!((w.error - (w.measured - w.predicted).abs() / delta0).abs() <= 1e-15 * w.error, "{w:?}");
    }

    #[test]
    fn sgd_records_its_own_minibatch_gradients() {
        // two samples, batches of one: the identity's product and sums hold along SGD's own
        // mini-batch gradients (rounding only), not along the full gradient at the same iterates
        let p = Problem::new(
            DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 0.5, -1.0]),
            DVector::from_vec(vec![1.0, 0.3]),
            Loss::Squared,
        )
        .unwrap();
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]);
        let r = run_recorded(&p, &w0, Method::Sgd { batch: 1 }, 7, 0.05, 0.0, 60);
        assert_eq!(r.steps, 60);
        assert!(r.delta_error.error < 1e-12 && r.angle_error.error < 1e-10, "{:?} {:?}", r.delta_error, r.angle_error);
    }

    #[test]
    fn run_gd_stops_at_the_first_step_below_the_target() {
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]);
        let r = run_gd(&problem(), &w0, 0.05, 1e-6, 100_000);
        // by hand: the first k with loss ≤ 1e-6
        let k = (1..100_000)
            .find(|&k| {
                let (x, ..) = by_hand([0.3, 0.2, 0.1, 0.05], 0.05, k);
                0.5 * (x[0] + 2.0 * x[1] - 1.0).powi(2) <= 1e-6
            })
            .unwrap();
        assert_eq!(r.steps, k);
        assert!(r.loss <= 1e-6 && r.loss > 0.0);
    }

    #[test]
    fn effective_limit_solves_the_scalar_dual_by_bisection() {
        // A = [1, 2], y = 1: x_i = (δ_i/2) sinh(φ_i + a_i ν) with x_1 + 2x_2 = 1; ν by bisection on
        // the increasing scalar map (to 1e-15), the engine by its dual Newton solve: 1e-9
        let (a, y) = (DMatrix::from_row_slice(1, 2, &[1.0, 2.0]), DVector::from_vec(vec![1.0]));
        let (delta, phi) = (DVector::from_vec(vec![0.3, 0.02]), DVector::from_vec(vec![0.1, -0.4]));
        let x_of = |nu: f64| [0.5 * delta[0] * (phi[0] + nu).sinh(), 0.5 * delta[1] * (phi[1] + 2.0 * nu).sinh()];
        let want = crate::bias::tests::scalar_dual(x_of);
        let (x, converged, residual) = effective_limit(&a, &y, &delta, &phi);
        assert!(converged && residual < 1e-10);
        for i in 0..2 {
            assert!((x[i] - want[i]).abs() < 1e-9, "{x} vs {want:?}");
        }
    }

    #[test]
    fn gd_prediction_is_the_limit_of_gd() {
        // the theorem (THEORY §5.6) on the 1×2 problem: the predicted limit against GD's final
        // iterate at loss ≤ 1e-20 (|Ax − y| ≤ 1.5e-10, and the iterate moves ≤ that much more)
        let w0 = DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]);
        let p = gd_prediction(&problem(), &w0, 0.2, 1e-20, 100_000).unwrap();
        assert!(p.converged && p.residual < 1e-12);
        for i in 0..2 {
            assert!((p.x[i] - p.run.x[i]).abs() < 1e-8, "{} vs {}", p.x, p.run.x);
            assert!((p.shift[i] + 2.0 * (p.run.atanh_sum[i] - p.run.linear_sum[i])).abs() < 1e-15);
        }
        // GF's prediction (no shift, δ_0) is measurably elsewhere at this step size
        let gf = effective_limit(&problem().a, &problem().y, &DVector::from_vec(vec![0.08, 0.0375]), &{
            let x0 = [0.03, 0.01];
            DVector::from_vec(vec![(2.0 * x0[0] / 0.08f64).asinh(), (2.0 * x0[1] / 0.0375f64).asinh()])
        });
        assert!((&gf.0 - &p.x).amax() > 1e-6, "{} vs {}", gf.0, p.x);
    }

    #[test]
    fn gd_prediction_refuses_what_the_identity_does_not_cover() {
        let p = problem();
        // δ_0 = 0 in coordinate 2
        assert!(gd_prediction(&p, &DVector::from_vec(vec![0.3, 0.2, 0.1, 0.2]), 0.1, 1e-10, 1000).is_err());
        // γ|g| ≥ 1: a huge step
        let e = gd_prediction(&p, &DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]), 2.0, 1e-10, 1000).unwrap_err();
        assert!(e.contains("γ|g|"), "{e}");
        // too few steps
        let e = gd_prediction(&p, &DVector::from_vec(vec![0.3, 0.2, 0.1, 0.05]), 0.05, 1e-20, 3).unwrap_err();
        assert!(e.contains("did not reach"), "{e}");
    }
}
