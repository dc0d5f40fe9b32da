//! Continuous dynamics: the parameter-space steepest flow (with optional weight decay) and the
//! mirror-space flow, each runnable to sample times or to a loss target.
//!
//! Sign flows (q = 1) run through [`crate::switching`] (events + Filippov sliding); q ∈ (1, 2]
//! runs through the plain wrapper [`crate::ode::integrate`]. For q close to 1 the field
//! `|g|^(q−1)` is continuous but not Lipschitz at `g = 0`: the adaptive step control handles it,
//! and a hit step limit is reported, never hidden.

use crate::geometry::{sign, steepest_map};
use crate::ode::{integrate, IntegrationFailure, Settings, Stop, Trajectory};
use crate::potential::Potential;
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use crate::switching::{integrate_switched, Switched};
use nalgebra::{DMatrix, DVector};

/// Weight decay in the sense of Adam + L2 (coupled) vs AdamW (decoupled), THEORY §1.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum WeightDecay {
    /// No weight decay.
    #[default]
    None,
    /// `ẇ = −φ_q(∇F + μw)`.
    Coupled(f64),
    /// `ẇ = −φ_q(∇F) − μw`.
    Decoupled(f64),
}

impl WeightDecay {
    fn coupled(&self) -> f64 {
        if let WeightDecay::Coupled(m) = self {
            *m
        } else {
            0.0
        }
    }

    fn decoupled(&self) -> f64 {
        if let WeightDecay::Decoupled(m) = self {
            *m
        } else {
            0.0
        }
    }
}

/// Something that can be integrated from an initial state: a flow.
pub trait Flow {
    /// Integrates from `(0, y0)` through the sample `times`, stopping early when `stop` holds.
    fn run(&self, y0: &DVector<f64>, times: &[f64], stop: Option<&Stop<'_>>, settings: &Settings)
        -> Result<Trajectory, IntegrationFailure>;

    /// The predictor x for a state.
    fn predictor(&self, y: &DVector<f64>) -> DVector<f64>;

    /// The loss at a state.
    fn loss(&self, y: &DVector<f64>) -> f64;
}

/// The steepest flow in parameter space, `ẇ = −φ_q(∇_w F(w) + μ_c w) − μ_d w`, `F = f ∘ G`.
pub struct SteepestFlow<'a> {
    /// The data and loss.
    pub problem: &'a Problem,
    /// The map `x = G(w)`.
    pub model: &'a dyn Reparameterization,
    /// The steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Weight decay.
    pub decay: WeightDecay,
}

impl SteepestFlow<'_> {
    /// `∇_w F(w) + μ_c w`.
    fn drive(&self, w: &DVector<f64>) -> DVector<f64> {
        let g = self.problem.gradient(&self.model.x(w));
        self.model.pullback(w, &g) + w * self.decay.coupled()
    }

    /// The velocity `ẇ` (q > 1, or away from switching surfaces).
    pub fn velocity(&self, w: &DVector<f64>) -> DVector<f64> {
        self.drive(w).map(|v| -steepest_map(self.q, v)) - w * self.decay.decoupled()
    }
}

impl Flow for SteepestFlow<'_> {
    fn run(&self, w0: &DVector<f64>, times: &[f64], stop: Option<&Stop<'_>>, settings: &Settings)
        -> Result<Trajectory, IntegrationFailure> {
        if self.q > 1.0 {
            let rhs = |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| *dw = self.velocity(w);
            return integrate(&rhs, w0, 0.0, times, stop, settings);
        }
        let diagonal = self.model.diagonal_jacobian(w0).is_some();
        if diagonal && self.decay.coupled() == 0.0 {
            integrate_switched(&CoordinateSigns(self), w0, 0.0, times, stop, settings)
        } else {
            integrate_switched(&ParameterSigns(self), w0, 0.0, times, stop, settings)
        }
    }

    fn predictor(&self, w: &DVector<f64>) -> DVector<f64> {
        self.model.x(w)
    }

    fn loss(&self, w: &DVector<f64>) -> f64 {
        self.problem.loss(&self.model.x(w))
    }
}

/// SignGF on a coordinate-wise model without coupled decay: one switch per coordinate,
/// `σ = ∇f(x)`, `ẇ_j = −s_k sign(∂x_k/∂w_j) − μ_d w_j`, so `ẋ = −D s + b` with
/// `D_k = Σ_j |∂x_k/∂w_j|`, `b_k = −μ_d Σ_j (∂x_k/∂w_j) w_j` and `σ̇ = ∇²f (−D s + b)`.
struct CoordinateSigns<'a, 'b>(&'b SteepestFlow<'a>);

impl CoordinateSigns<'_, '_> {
    fn gain_and_drift(&self, w: &DVector<f64>) -> (DVector<f64>, DVector<f64>, DVector<f64>, Vec<usize>) {
        let (jac, coord) = self.0.model.diagonal_jacobian(w).expect("coordinate-wise model");
        let d = self.0.model.dim();
        let (mut gain, mut drift) = (DVector::zeros(d), DVector::zeros(d));
        for j in 0..jac.len() {
            gain[coord[j]] += jac[j].abs();
            drift[coord[j]] -= self.0.decay.decoupled() * jac[j] * w[j];
        }
        (gain, drift, jac, coord)
    }
}

impl Switched for CoordinateSigns<'_, '_> {
    fn sigma(&self, w: &DVector<f64>) -> DVector<f64> {
        self.0.problem.gradient(&self.0.model.x(w))
    }

    fn rate(&self, w: &DVector<f64>, s: &DVector<f64>, dw: &mut DVector<f64>) {
        let (jac, coord) = self.0.model.diagonal_jacobian(w).expect("coordinate-wise model");
        let mu = self.0.decay.decoupled();
        *dw = DVector::from_fn(w.len(), |j, _| -s[coord[j]] * sign(jac[j]) - mu * w[j]);
    }

    fn sigma_rate(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let (gain, drift, _, _) = self.gain_and_drift(w);
        let h = self.0.problem.hessian(&self.0.model.x(w));
        let c = &h * drift;
        (c, -(h * DMatrix::from_diagonal(&gain)))
    }
}

/// SignGF with one switch per parameter, `σ = ∇_w F + μ_c w`, `ẇ = −s − μ_d w`; the Hessian of F
/// in w by central differences of the pulled-back gradient (step 1e−6: error ≈ 1e−12 relative).
struct ParameterSigns<'a, 'b>(&'b SteepestFlow<'a>);

impl Switched for ParameterSigns<'_, '_> {
    fn sigma(&self, w: &DVector<f64>) -> DVector<f64> {
        self.0.drive(w)
    }

    fn rate(&self, w: &DVector<f64>, s: &DVector<f64>, dw: &mut DVector<f64>) {
        *dw = -s - w * self.0.decay.decoupled();
    }

    fn sigma_rate(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let n = w.len();
        let eps = 1e-6;
        let mut hess = DMatrix::zeros(n, n);
        for j in 0..n {
            let mut e = DVector::zeros(n);
            e[j] = eps * (1.0 + w[j].abs());
            let col = (self.0.drive(&(w + &e)) - self.0.drive(&(w - &e))) / (2.0 * e[j]);
            hess.set_column(j, &col);
        }
        let c = -(&hess * w) * self.0.decay.decoupled();
        (c, -hess)
    }
}

/// The steepest mirror flow written in x: `ẋ = −φ_q(∇f(x)) / R''(x)`, i.e. `d/dt R'(x) = −φ_q(∇f)`.
pub struct MirrorFlow<'a> {
    /// The data and loss.
    pub problem: &'a Problem,
    /// The Legendre function R.
    pub potential: &'a dyn Potential,
    /// The steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
}

impl Switched for MirrorFlow<'_> {
    fn sigma(&self, x: &DVector<f64>) -> DVector<f64> {
        self.problem.gradient(x)
    }

    fn rate(&self, x: &DVector<f64>, s: &DVector<f64>, dx: &mut DVector<f64>) {
        *dx = DVector::from_fn(x.len(), |k, _| -s[k] / self.potential.hess(x[k]));
    }

    fn sigma_rate(&self, x: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let gain = x.map(|v| 1.0 / self.potential.hess(v));
        (DVector::zeros(x.len()), -(self.problem.hessian(x) * DMatrix::from_diagonal(&gain)))
    }
}

impl Flow for MirrorFlow<'_> {
    fn run(&self, x0: &DVector<f64>, times: &[f64], stop: Option<&Stop<'_>>, settings: &Settings)
        -> Result<Trajectory, IntegrationFailure> {
        if self.q == 1.0 {
            return integrate_switched(self, x0, 0.0, times, stop, settings);
        }
        let rhs = |_t: f64, x: &DVector<f64>, dx: &mut DVector<f64>| {
            let g = self.problem.gradient(x);
            *dx = DVector::from_fn(x.len(), |k, _| -steepest_map(self.q, g[k]) / self.potential.hess(x[k]));
        };
        integrate(&rhs, x0, 0.0, times, stop, settings)
    }

    fn predictor(&self, x: &DVector<f64>) -> DVector<f64> {
        x.clone()
    }

    fn loss(&self, x: &DVector<f64>) -> f64 {
        self.problem.loss(x)
    }
}

/// Runs a flow until `loss ≤ target` or time `t_end`, sampling `samples` equally spaced times.
pub fn run_until_loss(
    flow: &dyn Flow,
    y0: &DVector<f64>,
    t_end: f64,
    target: Option<f64>,
    samples: usize,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let stop = move |_t: f64, y: &DVector<f64>| target.is_some_and(|e| flow.loss(y) <= e);
    let times = crate::ode::sample_times(t_end, samples.max(1));
    flow.run(y0, &times, Some(&stop), settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::potential::Balanced;
    use crate::reparam::{DeepDiagonal, Initialization};

    #[test]
    fn scalar_sign_flow_matches_the_closed_form() {
        // f(x) = (x − y)²/2, L = 2 balanced, SignGF: |w| grows linearly, w(t) = α + t until x = y
        // (THEORY §4: T = y^{1/L} − α); then x stays at y (sliding).
        let problem = Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, 0.81), Default::default())
            .unwrap();
        let model = DeepDiagonal::new(2, 1);
        let flow = SteepestFlow { problem: &problem, model: &model, q: 1.0, decay: WeightDecay::None };
        let w0 = model.init(&Initialization::balanced(0.1, 2), 1.0).unwrap();
        let tr = flow.run(&w0, &[0.4, 0.8, 1.5], None, &Settings::default()).unwrap();
        let x = |t: f64| (0.1 + t).min(0.9).powi(2);
        for (t, w) in tr.t.iter().zip(&tr.y) {
            assert!((model.x(w)[0] - x(*t)).abs() < 1e-10, "t = {t}");
        }
        let potential = Balanced::new(2, 1.0);
        let mirror = MirrorFlow { problem: &problem, potential: &potential, q: 1.0 };
        let tr = mirror.run(&DVector::from_element(1, 0.01), &[0.4, 0.8, 1.5], None, &Settings::default()).unwrap();
        for (t, x1) in tr.t.iter().zip(&tr.y) {
            assert!((x1[0] - x(*t)).abs() < 1e-10, "mirror t = {t}");
        }
    }
}
