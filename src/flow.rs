//! Continuous dynamics: the parameter-space steepest flow (with optional weight decay) and the
//! mirror-space flow, each runnable to sample times or to a loss target.
//!
//! Sign flows (q = 1) run through [`crate::switching`] (events + Filippov sliding); q ∈ (1, 2]
//! runs through the plain wrapper [`crate::ode::integrate`]. For q close to 1 the field
//! `|g|^(q−1)` is continuous but not Lipschitz at `g = 0`: the adaptive step control handles it,
//! and a hit step limit is reported, never hidden.

use crate::geometry::{sign, steepest_map};
use crate::kernels;
use crate::ode::{integrate, integrate_with_jacobian, IntegrationFailure, Method, Settings, Stats, Stop, Trajectory};
use crate::potential::Potential;
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Reparameterization};
use crate::switching::{integrate_switched, Switched};
use nalgebra::{DMatrix, DVector};

/// The Rosenbrock stiffness fallback of [`crate::ode`] needs a Lipschitz field: for q < 2 the
/// Jacobian of `|g|^(q−1)` blows up at `g = 0` (measured: q = 1.2 went from 240 000 explicit steps
/// to a step-limit failure with the fallback), so it is switched off there.
fn smooth_only(q: f64, settings: &Settings) -> Settings {
    if q < 2.0 {
        Settings { stiff_after: 0, ..*settings }
    } else {
        *settings
    }
}

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
    fn run(
        &self,
        y0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure>;

    /// Integrates from a state `y0` of this flow's own trajectories (`run`'s input unless the flow
    /// changes variables, as the dual mirror flow does).
    fn resume(
        &self,
        y0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        self.run(y0, times, stop, settings)
    }

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
        let mut v = self.drive(w).map(|v| -steepest_map(self.q, v)) - w * self.decay.decoupled();
        freeze_saddle(self.model, w, &mut v);
        v
    }
}

impl SteepestFlow<'_> {
    /// The velocity in logarithmic time `s = ln t` (q > 1): `dw/ds = t ẇ`, using
    /// `t φ_q(d) = φ_q(t^{1/(q−1)} d)` with the factor `e^{s/(q−1)}` taken inside the loss
    /// ([`Problem::scaled_gradient`]), so an exponential loss's vanishing gradient never underflows.
    pub fn log_time_velocity(&self, s: f64, w: &DVector<f64>) -> DVector<f64> {
        let c = s / (self.q - 1.0);
        let g = self.problem.scaled_gradient(&self.model.x(w), c);
        let drive = self.model.pullback(w, &g) + w * (self.decay.coupled() * c.exp());
        let mut v = drive.map(|v| -steepest_map(self.q, v)) - w * (self.decay.decoupled() * s.exp());
        freeze_saddle(self.model, w, &mut v);
        v
    }

    /// Integrates from `w1 = w(t = 1)` through sample times `t ≥ 1` in `s = ln t` (q > 1); the
    /// returned trajectory's `t` holds `s`. The same path as [`Flow::run`] (a time change), but an
    /// exponential-loss flow, whose margins grow like ln t, can be followed to t = e^{700}.
    ///
    /// The field depends on s, so s rides along as the last state component and the integrated
    /// system is autonomous: ode_solvers 0.6.2's Dop853 evaluates its 12th stage at the step start
    /// (node c₁₂ = 0 instead of 1, srenevey/ode-solvers#42), which is invisible for autonomous fields
    /// but cost 2.5 M evaluations instead of 2 700 here, and the Rosenbrock fallback assumes autonomy.
    pub fn run_log_time(
        &self,
        w1: &DVector<f64>,
        times: &[f64],
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        let n = w1.len();
        let s: Vec<f64> = times.iter().map(|t| t.ln()).collect();
        let rhs = |_: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            let v = self.log_time_velocity(y[n], &y.rows(0, n).into_owned());
            dy.rows_mut(0, n).copy_from(&v);
            dy[n] = 1.0;
        };
        let y0 = DVector::from_fn(n + 1, |i, _| if i < n { w1[i] } else { 0.0 });
        let mut traj = integrate(&rhs, &y0, 0.0, &s, None, &smooth_only(self.q, settings))?;
        traj.y = traj.y.iter().map(|y| y.rows(0, n).into_owned()).collect();
        Ok(traj)
    }
}

impl SteepestFlow<'_> {
    /// Integrates `ẇ = v(w) − α(t)w` from `(0, w0)` through the sample `times`: this flow's velocity
    /// `v` ([`SteepestFlow::velocity`], its own decay included) plus a decoupled weight decay with a
    /// schedule `α(t) ≥ 0` (cosine, step, …). q > 1 only: the sign flow's engine takes a constant
    /// decay. Time rides along as the last state component, so the integrated system is
    /// autonomous (see [`SteepestFlow::run_log_time`] on Dop853's last stage).
    pub fn run_with_decay_schedule(
        &self,
        w0: &DVector<f64>,
        times: &[f64],
        schedule: &dyn Fn(f64) -> f64,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        assert!(self.q > 1.0, "run_with_decay_schedule needs q > 1 (the sign flow takes a constant decay)");
        let n = w0.len();
        let rhs = |_: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            let w = y.rows(0, n).into_owned();
            let v = self.velocity(&w) - &w * schedule(y[n]);
            dy.rows_mut(0, n).copy_from(&v);
            dy[n] = 1.0;
        };
        let y0 = DVector::from_fn(n + 1, |i, _| if i < n { w0[i] } else { 0.0 });
        let mut traj = integrate(&rhs, &y0, 0.0, times, None, &smooth_only(self.q, settings))?;
        traj.y = traj.y.iter().map(|y| y.rows(0, n).into_owned()).collect();
        Ok(traj)
    }
}

impl Flow for SteepestFlow<'_> {
    fn run(
        &self,
        w0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        if self.q > 1.0 {
            let rhs = |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| *dw = self.velocity(w);
            if self.q == 2.0 || self.decay != WeightDecay::None {
                return integrate(&rhs, w0, 0.0, times, stop, &smooth_only(self.q, settings));
            }
            // 1 < q < 2 without decay: d/dt ½‖r‖² ≤ −c‖r‖^q, so an interpolating flow reaches ∇f = 0
            // in finite time, where φ_q is non-Lipschitz and the explicit steps shrink without end.
            // Detect the arrival (f ≤ (10·rtol)²(1 + f₀), the integrator's own error level) and hold
            // the state there (`stationary_at`), unless the caller's own condition stops first.
            let floor = (10.0 * settings.rtol).powi(2) * (1.0 + self.loss(w0));
            let arrived = |w: &DVector<f64>| self.loss(w) <= floor;
            let watch = |t: f64, w: &DVector<f64>| stop.is_some_and(|s| s(t, w)) || arrived(w);
            let mut tr = integrate(&rhs, w0, 0.0, times, Some(&watch), &smooth_only(self.q, settings))?;
            if tr.stopped && !stop.is_some_and(|s| s(tr.t_end(), tr.last())) {
                tr.stopped = false;
                let t = tr.t_end();
                tr.hold_from(t, times);
            }
            return Ok(tr);
        }
        if let (Some(model), 0.0) = (self.model.as_deep_diagonal(), self.decay.coupled()) {
            return crate::signflow::run_sign_flow(
                self.problem,
                model,
                self.decay.decoupled(),
                w0,
                times,
                stop,
                settings,
            );
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

/// Zeroes the velocity of parameters caught at a saddle (see [`Reparameterization::at_saddle`]).
fn freeze_saddle(model: &dyn Reparameterization, w: &DVector<f64>, dw: &mut DVector<f64>) {
    for (j, stuck) in model.at_saddle(w).into_iter().enumerate() {
        if stuck {
            dw[j] = 0.0;
        }
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
        freeze_saddle(self.0.model, w, dw);
    }

    fn sigma_rate(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let (gain, drift, _, _) = self.gain_and_drift(w);
        let h = self.0.problem.hessian(&self.0.model.x(w));
        let c = &h * drift;
        (c, -(h * DMatrix::from_diagonal(&gain)))
    }
}

/// SignGF with one switch per parameter, `σ = ∇_w F + μ_c w`, `ẇ = −s − μ_d w`; the Hessian of F
/// in w exact on a deep diagonal model ([`deep_diagonal_hessian`]), by central differences of the
/// pulled-back gradient otherwise (step 1e−6: error ≈ 1e−12 relative).
struct ParameterSigns<'a, 'b>(&'b SteepestFlow<'a>);

/// The exact Hessian of `F(w) + ½μ_c‖w‖²`, `F = f ∘ x`, on a deep diagonal model:
/// `∇²F = Jᵀ ∇²f(x) J + Σ_k g_k ∇²x_k + μ_c I`, with `J_j = ∂x_{k(j)}/∂w_j = ε ∏_{l≠j} w_l` over the
/// factor group of j (side sign ε) and `∂²x_k/∂w_j∂w_l = ε ∏_{m≠j,l} w_m` for `j ≠ l` in the same
/// group (0 on the diagonal: x is multilinear in its factors). O(p²) per call, no differencing
/// (checked against num-dual's second-order dual numbers in the tests).
pub fn deep_diagonal_hessian(problem: &Problem, model: &DeepDiagonal, w: &DVector<f64>, mu_c: f64) -> DMatrix<f64> {
    let (d, depth) = (model.dim, model.depth);
    let n = w.len();
    let x = model.x(w);
    let g = problem.gradient(&x);
    let hf = problem.hessian(&x);
    let jac = model.pullback(w, &DVector::from_element(d, 1.0));
    let coord = |j: usize| j % d;
    let mut h = DMatrix::from_fn(n, n, |j, l| jac[j] * jac[l] * hf[(coord(j), coord(l))]);
    let sides = n / (depth * d);
    for side in 0..sides {
        let eps = if side == 0 { 1.0 } else { -1.0 };
        for k in 0..d {
            let member = |i: usize| (side * depth + i) * d + k;
            for a in 0..depth {
                for b in (a + 1)..depth {
                    let rest: f64 = (0..depth).filter(|&m| m != a && m != b).map(|m| w[member(m)]).product();
                    let v = eps * g[k] * rest;
                    h[(member(a), member(b))] += v;
                    h[(member(b), member(a))] += v;
                }
            }
        }
    }
    for j in 0..n {
        h[(j, j)] += mu_c;
    }
    h
}

impl Switched for ParameterSigns<'_, '_> {
    fn sigma(&self, w: &DVector<f64>) -> DVector<f64> {
        self.0.drive(w)
    }

    fn rate(&self, w: &DVector<f64>, s: &DVector<f64>, dw: &mut DVector<f64>) {
        // no saddle freezing here: σ = ∇F + μw is continuous in w, so weights reaching 0 are
        // ordinary switching surfaces of this system and slide through the Filippov machinery
        *dw = -s - w * self.0.decay.decoupled();
    }

    fn sigma_rate(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let hess = match self.0.model.as_deep_diagonal() {
            Some(model) => deep_diagonal_hessian(self.0.problem, model, w, self.0.decay.coupled()),
            None => {
                let n = w.len();
                let eps = 1e-6;
                let mut hess = DMatrix::zeros(n, n);
                for j in 0..n {
                    let mut e = DVector::zeros(n);
                    e[j] = eps * (1.0 + w[j].abs());
                    let col = (self.0.drive(&(w + &e)) - self.0.drive(&(w - &e))) / (2.0 * e[j]);
                    hess.set_column(j, &col);
                }
                hess
            }
        };
        let c = -(&hess * w) * self.0.decay.decoupled();
        (c, -hess)
    }
}

/// The steepest mirror flow `d/dt R'(x) = −φ_q(∇f(x))`. With a closed-form `(R')^{-1}` the state
/// is the dual variable `z = R'(x)` (`ż = −φ_q(∇f(x(z)))`, smooth through `x = 0`); otherwise the
/// state is x itself, `ẋ = −φ_q(∇f(x)) / R''(x)`.
pub struct MirrorFlow<'a> {
    /// The data and loss.
    pub problem: &'a Problem,
    /// The Legendre function R.
    pub potential: &'a dyn Potential,
    /// The steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
}

impl MirrorFlow<'_> {
    fn dual(&self) -> bool {
        self.potential.closed_form_inverse()
    }

    /// The state for a predictor x: `R'(x)` in dual mode, else x.
    pub fn state(&self, x: &DVector<f64>) -> DVector<f64> {
        if self.dual() {
            x.map(|v| self.potential.grad(v))
        } else {
            x.clone()
        }
    }

    /// `dx/d(state)`: `1/R''(x)` in dual mode, 1 otherwise; the state velocity is `−φ_q(g)·` this
    /// in x mode and `−φ_q(g)` in dual mode, so `ẋ = −φ_q(g)/R''(x)` in both.
    fn state_gain(&self, x: &DVector<f64>) -> DVector<f64> {
        x.map(|v| if self.dual() { 1.0 } else { 1.0 / self.potential.hess(v) })
    }
}

impl MirrorFlow<'_> {
    /// Gradient mirror flow (q = 2, dual state) in the coordinates of its range: `ż = −Aᵀℓ'(Ax)` keeps
    /// `z = z₀ − Aᵀλ`, and `λ̇ = ℓ'(Ax(z₀ − Aᵀλ))` has n states instead of d and the Jacobian
    /// `∂λ̇/∂λ = −H A diag(dx/dz) Aᵀ` (H the outer Hessian, `dx/dz = 1/R''(x)`), formed in O(n²d):
    /// what a Rosenbrock method's linear solves need. The trajectory is returned in z.
    fn run_in_range(
        &self,
        t0: f64,
        z0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        let a = &self.problem.a;
        let z_of = |lambda: &DVector<f64>| z0 - kernels::tr_mul(a, lambda);
        let phi = |z: f64| self.potential.grad_inverse(z);
        let rhs = |_t: f64, lambda: &DVector<f64>, dl: &mut DVector<f64>| {
            *dl = self.problem.outer_gradient(&kernels::range_product(a, z0, lambda, &phi));
        };
        let jac = |_t: f64, lambda: &DVector<f64>| {
            let x = self.predictor(&z_of(lambda));
            let mut scaled = a.clone();
            for (k, mut column) in scaled.column_iter_mut().enumerate() {
                column /= self.potential.hess(x[k]);
            }
            -self.problem.outer_hessian_mul(&kernels::mul(a, &x), scaled * a.transpose())
        };
        let stop_in_range = stop.map(|s| move |t: f64, lambda: &DVector<f64>| s(t, &z_of(lambda)));
        let stop_ref = stop_in_range.as_ref().map(|s| s as &Stop<'_>);
        let lambda0 = DVector::zeros(a.nrows());
        let mut tr =
            integrate_with_jacobian(&rhs, &jac, &lambda0, t0, times, stop_ref, settings).map_err(|mut e| {
                e.last = e.last.map(|(t, lambda)| (t, z_of(&lambda)));
                e
            })?;
        tr.y = tr.y.iter().map(z_of).collect();
        Ok(tr)
    }

    /// [`MirrorFlow::run_in_range`] with the explicit pair while it is efficient, then with RODAS4:
    /// after `stiff_after` accepted explicit steps (0: never) the rest of the run is taken as stiff
    /// (the replacement, for this flow, of [`crate::ode`]'s Rosenbrock23 fallback in d variables).
    /// Both phases run in the n range coordinates, whose right-hand side is one pass over A
    /// ([`kernels::range_product`]) where the dual state z needs two.
    fn run_explicit_then_range(
        &self,
        z0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        let budget = settings.stiff_after as u64;
        let (steps, user_stop) = (std::cell::Cell::new(0u64), std::cell::Cell::new(false));
        let watch = |t: f64, z: &DVector<f64>| {
            if stop.is_some_and(|s| s(t, z)) {
                user_stop.set(true);
                return true;
            }
            steps.set(steps.get() + 1);
            budget > 0 && steps.get() >= budget
        };
        let explicit = Settings { stiff_after: 0, ..*settings };
        let mut head = self.run_in_range(0.0, z0, times, Some(&watch), &explicit)?;
        if !head.stopped || user_stop.get() {
            return Ok(head);
        }
        // the budget ran out: the state there starts the stiff phase; it stays in the trajectory
        // only when it is a sample time (the budget can run out on a segment's last step)
        let (t, z) = (head.t_end(), head.last().clone());
        if !times.contains(&t) {
            head.t.pop();
            head.y.pop();
        }
        let rest = Settings {
            method: Method::Rodas4,
            max_steps: settings.max_steps.saturating_sub(head.stats.steps as u32),
            h0: 0.0,
            ..*settings
        };
        let tail = self.run_in_range(t, &z, times, stop, &rest).map_err(|mut e| {
            e.stats += head.stats;
            e
        })?;
        head.t.extend(tail.t.into_iter().skip(1));
        head.y.extend(tail.y.into_iter().skip(1));
        head.stats += tail.stats;
        head.stopped = tail.stopped;
        head.final_method = tail.final_method;
        Ok(head)
    }
}

impl Switched for MirrorFlow<'_> {
    fn sigma(&self, y: &DVector<f64>) -> DVector<f64> {
        self.problem.gradient(&self.predictor(y))
    }

    fn rate(&self, y: &DVector<f64>, s: &DVector<f64>, dy: &mut DVector<f64>) {
        let gain = self.state_gain(&self.predictor(y));
        *dy = DVector::from_fn(y.len(), |k, _| -s[k] * gain[k]);
    }

    fn sigma_rate(&self, y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let x = self.predictor(y);
        let gain = x.map(|v| 1.0 / self.potential.hess(v));
        (DVector::zeros(x.len()), -(self.problem.hessian(&x) * DMatrix::from_diagonal(&gain)))
    }
}

impl Flow for MirrorFlow<'_> {
    fn run(
        &self,
        x0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        self.resume(&self.state(x0), times, stop, settings)
    }

    /// Integrates from the state `y0` (z in dual mode, else x).
    fn resume(
        &self,
        y0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        let y0 = y0.clone();
        if self.q == 1.0 {
            return integrate_switched(self, &y0, 0.0, times, stop, settings);
        }
        if self.q == 2.0 && self.dual() {
            return match settings.method {
                Method::Rodas4 | Method::Rosenbrock23 => self.run_in_range(0.0, &y0, times, stop, settings),
                Method::Dop853 | Method::Dopri5 => self.run_explicit_then_range(&y0, times, stop, settings),
            };
        }
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            let x = self.predictor(y);
            let g = self.problem.gradient(&x);
            let gain = self.state_gain(&x);
            *dy = DVector::from_fn(y.len(), |k, _| -steepest_map(self.q, g[k]) * gain[k]);
        };
        integrate(&rhs, &y0, 0.0, times, stop, &smooth_only(self.q, settings))
    }

    fn predictor(&self, y: &DVector<f64>) -> DVector<f64> {
        if self.dual() {
            y.map(|z| self.potential.grad_inverse(z))
        } else {
            y.clone()
        }
    }

    fn loss(&self, y: &DVector<f64>) -> f64 {
        self.problem.loss(&self.predictor(y))
    }
}

/// Runs a flow through the sample `times`, treating `f ≤ (10·rtol)²·(1 + f(0))` as having reached
/// an interpolating minimum: for q < 2 the flow gets there in finite time, after which the
/// non-Lipschitz field `|g|^(q−1)` makes any integrator chatter at the level of its own local
/// error (measured: loss stuck near 1e−22 at rtol 1e−11, 9 000 steps per 0.02 time units).
/// Integration stops there and the remaining samples repeat the final state (valid for flows whose
/// minima are stationary: no weight decay). `stop` ends the run early.
pub fn run_to_stationarity(
    flow: &dyn Flow,
    y0: &DVector<f64>,
    times: &[f64],
    stop: Option<&Stop<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let floor = (10.0 * settings.rtol).powi(2) * (1.0 + flow.loss(y0));
    let at_floor = |t: f64, y: &DVector<f64>| flow.loss(y) <= floor || stop.is_some_and(|f| f(t, y));
    let mut tr = flow.run(y0, times, Some(&at_floor), settings)?;
    if tr.stopped && flow.loss(tr.last()) <= floor && !stop.is_some_and(|f| f(tr.t_end(), tr.last())) {
        tr.stopped = false;
        let last = tr.last().clone();
        let t_stop = tr.t_end();
        tr.t.pop();
        tr.y.pop();
        tr.stationary_at = Some(t_stop);
        for &t in times.iter().filter(|&&t| t >= t_stop) {
            tr.t.push(t);
            tr.y.push(last.clone());
        }
    }
    Ok(tr)
}

/// A callback told `(t, state)` after every accepted step.
pub type Observer<'a> = dyn Fn(f64, &DVector<f64>) + 'a;

/// Runs a flow until `loss ≤ target` or time `t_end`, sampling `samples` equally spaced times
/// ([`run_to_loss`] with no observer).
pub fn run_until_loss(
    flow: &dyn Flow,
    y0: &DVector<f64>,
    t_end: f64,
    target: Option<f64>,
    samples: usize,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let times = crate::ode::sample_times(t_end, samples.max(1));
    run_to_loss(flow, y0, &times, target, None, settings)
}

/// Runs a flow through the sample `times` until `loss ≤ target`, telling `observe` (if any) every
/// accepted step. The target's crossing inside the step that passed it is located by
/// [`crate::escape::locate_crossing`] (Brent's method on re-integrations of that step: flows are
/// autonomous), not left at the step's end; when the re-integrations put the crossing at the step's
/// end itself (no sign change within round-off), the step's end stands. Each re-integration takes
/// its piece of the step as one step of the method that took the step ([`Trajectory::final_method`]):
/// on a stiff tail that is RODAS4 or Rosenbrock23, not the explicit pair restarted from scratch.
pub fn run_to_loss(
    flow: &dyn Flow,
    y0: &DVector<f64>,
    times: &[f64],
    target: Option<f64>,
    observe: Option<&Observer<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let Some(target) = target else {
        let watch = |t: f64, y: &DVector<f64>| {
            observe.inspect(|f| f(t, y));
            false
        };
        return flow.run(y0, times, observe.map(|_| &watch as &Stop<'_>), settings);
    };
    let before = std::cell::RefCell::new((0.0, y0.clone()));
    let watch = |t: f64, y: &DVector<f64>| {
        observe.inspect(|f| f(t, y));
        if flow.loss(y) <= target {
            return true;
        }
        *before.borrow_mut() = (t, y.clone());
        false
    };
    let mut tr = flow.run(y0, times, Some(&watch), settings)?;
    if !tr.stopped || flow.loss(y0) <= target {
        return Ok(tr);
    }
    let (ta, ya) = before.into_inner();
    // each probe re-integrates a piece of the step that crossed, with the method that took it
    // (a stiff tail's Rosenbrock step, not the explicit pair restarted on a stiff field) and that
    // piece as its first step: one step per probe where the crossing step was accepted
    let method = tr.final_method.unwrap_or(settings.method);
    let advance = |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| {
        flow.resume(y, &[dt], stop, &Settings { method, h0: dt, ..*s })
    };
    let level = |y: &DVector<f64>| target - flow.loss(y);
    match crate::escape::locate_crossing(&advance, ta, &ya, tr.t_end(), &level, settings, Stats::default()) {
        Ok(p) => {
            *tr.t.last_mut().expect("a stopped run has its stop point") = p.time;
            *tr.y.last_mut().expect("and its state") = p.state;
            tr.stats += p.stats;
            Ok(tr)
        }
        Err(crate::escape::PassageError::Integration(e)) => Err(e),
        Err(_) => Ok(tr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::potential::Balanced;
    use crate::reparam::{DeepDiagonal, Initialization};

    #[test]
    fn gradient_mirror_flow_switches_to_rodas4_in_range_coordinates() {
        // L = 3 GF on a 6 × 15 regression: Dop853 alone against Dop853 for 5 steps then RODAS4 on
        // the 6 range coordinates, and RODAS4 from the start; the same samples (none lost at the
        // switch) and the same states to the tolerance (rtol 1e-10 over a smooth run: ≲ 1e-8)
        let problem = Problem::random_regression(5, 6, 15, 2);
        let potential = Balanced::new(3, 2.0);
        let mirror = MirrorFlow { problem: &problem, potential: &potential, q: 2.0 };
        let x0 = DVector::from_element(15, 1e-3);
        let times = [0.5, 1.0, 2.0, 4.0];
        let base = Settings { rtol: 1e-10, atol: 1e-12, stiff_after: 0, ..Settings::default() };
        let explicit = mirror.run(&x0, &times, None, &base).unwrap();
        for settings in [Settings { stiff_after: 5, ..base }, Settings { method: Method::Rodas4, ..base }] {
            let tr = mirror.run(&x0, &times, None, &settings).unwrap();
            assert_eq!(tr.t, explicit.t, "{:?}", settings.method);
            // RODAS4 took part (on this non-stiff run it needs more steps than Dop853, not fewer)
            assert_ne!(tr.stats, explicit.stats, "{settings:?} took the explicit path only");
            for (a, b) in tr.y.iter().zip(&explicit.y) {
                let (xa, xb) = (mirror.predictor(a), mirror.predictor(b));
                assert!((&xa - &xb).norm() <= 1e-8 * (1.0 + xb.norm()), "{:?}: {}", settings.method, (xa - xb).norm());
            }
        }
    }

    #[test]
    fn loss_crossing_is_located_by_one_step_probes_of_the_crossing_method() {
        // L = 3 GF on a 6 × 15 regression, RODAS4 after 5 Dop853 steps, to f ≤ 1e-8 f(x0): the
        // crossing step is RODAS4's, and so are the probes
        let problem = Problem::random_regression(5, 6, 15, 2);
        let potential = Balanced::new(3, 2.0);
        let mirror = MirrorFlow { problem: &problem, potential: &potential, q: 2.0 };
        let x0 = DVector::from_element(15, 1e-3);
        let settings = Settings { rtol: 1e-10, atol: 1e-12, stiff_after: 5, ..Settings::default() };
        let target = 1e-8 * mirror.loss(&mirror.state(&x0));
        let located = run_to_loss(&mirror, &x0, &[1e6], Some(target), None, &settings).unwrap();
        assert_eq!(located.final_method, Some(Method::Rodas4));
        // the same run stopped at the end of the step that crossed: the location's own work
        let below = |_t: f64, z: &DVector<f64>| mirror.loss(z) <= target;
        let at_step = mirror.run(&x0, &[1e6], Some(&below), &settings).unwrap();
        assert!(at_step.stopped && located.t_end() < at_step.t_end());
        let extra = located.stats.rhs_evals - at_step.stats.rhs_evals;
        // Brent to 1e-14 relative takes ≲ 40 probes; one RODAS4 step is 6 right-hand sides (its
        // Jacobian is analytic here), so a few hundred at most (measured: 72); Dop853 restarted
        // from its own initial step on this stiff tail took 1 257
        assert!(extra <= 40 * 6 + 6, "location took {extra} right-hand sides");
        // an independent route: RODAS4 from the start brackets the located time to 1e-6 (the two
        // routes agree on f(t)/target to 1.1e-11, while a 1e-6 relative shift of t ≈ 691 moves it
        // by 3.4e-6: measured)
        let rodas = Settings { method: Method::Rodas4, ..settings };
        let t = located.t_end();
        let loss_at = |tau: f64| mirror.loss(mirror.run(&x0, &[tau], None, &rodas).unwrap().last());
        assert!(loss_at(t * (1.0 - 1e-6)) > target && loss_at(t * (1.0 + 1e-6)) < target, "t = {t}");
    }

    #[test]
    fn scalar_sign_flow_matches_the_closed_form() {
        // f(x) = (x − y)²/2, L = 2 balanced, SignGF: |w| grows linearly, w(t) = α + t until x = y
        // (THEORY §4: T = y^{1/L} − α); then x stays at y (sliding).
        let problem =
            Problem::new(DMatrix::from_element(1, 1, 1.0), DVector::from_element(1, 0.81), Default::default()).unwrap();
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
        for (t, z) in tr.t.iter().zip(&tr.y) {
            assert!((mirror.predictor(z)[0] - x(*t)).abs() < 1e-10, "mirror t = {t}");
        }
    }

    #[test]
    fn log_time_flow_follows_the_same_path() {
        // the plain exponential-loss flow vs its log-time version from w(1), compared at t = 1e3:
        // a time change leaves the path unchanged; both runs at rtol 1e-11 (measured agreement
        // 2e-13 to 2e-12 over ~100–200 steps each; 1e-9 leaves room for the accumulated error)
        let problem = Problem::separable(2, 6, 4, &[1.0, -1.0]);
        for (depth, q) in [(2, 2.0), (3, 2.0), (2, 1.5)] {
            let model = DeepDiagonal::two_sided(depth, 4);
            let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
            let w0 = model.init(&Initialization::balanced(0.3, depth), q).unwrap();
            let plain = flow.run(&w0, &[1.0, 1e3], None, &Settings::default()).unwrap();
            let w1 = &plain.y[1];
            let logged = flow.run_log_time(w1, &[1e3], &Settings::default()).unwrap();
            assert!((logged.t.last().unwrap() - 1e3f64.ln()).abs() < 1e-12);
            let (a, b) = (plain.last(), logged.last());
            assert!((a - b).norm() < 1e-9 * a.norm(), "L = {depth}, q = {q}: {:e}", (a - b).norm() / a.norm());
        }
    }

    #[test]
    fn deep_diagonal_hessian_is_exact() {
        // against num-dual's second-order dual numbers on F(w) + ½μ‖w‖², F = ½‖A x(w) − y‖²
        use num_dual::{hessian, Dual2DVec64};
        let problem = Problem::random_regression(2, 3, 4, 2);
        for model in [DeepDiagonal::new(3, 4), DeepDiagonal::two_sided(2, 4), DeepDiagonal::new(1, 4)] {
            let n = model.n_params();
            let w = DVector::from_fn(n, |j, _| 0.3 + 0.17 * ((j * 7) % 5) as f64 - 0.4 * ((j % 3) == 1) as u8 as f64);
            let mu = 0.05;
            let (d, depth) = (model.dim, model.depth);
            let f = |v: DVector<Dual2DVec64>| {
                let mut total = Dual2DVec64::from_re(0.0);
                let x: Vec<Dual2DVec64> = (0..d)
                    .map(|k| {
                        let side = |s: usize| {
                            (0..depth)
                                .fold(Dual2DVec64::from_re(1.0), |acc, i| acc * v[(s * depth + i) * d + k].clone())
                        };
                        if model.two_sided {
                            side(0) - side(1)
                        } else {
                            side(0)
                        }
                    })
                    .collect();
                for r in 0..problem.a.nrows() {
                    let ax = (0..d)
                        .fold(Dual2DVec64::from_re(-problem.y[r]), |acc, k| acc + x[k].clone() * problem.a[(r, k)]);
                    total += ax.clone() * ax * 0.5;
                }
                for vj in v.iter() {
                    total += vj.clone() * vj.clone() * (0.5 * mu);
                }
                total
            };
            let (_, _, reference) = hessian(f, &w);
            let exact = deep_diagonal_hessian(&problem, &model, &w, mu);
            let err = (&exact - &reference).amax();
            assert!(err <= 1e-12 * (1.0 + reference.amax()), "{model:?}: {err:e}");
        }
    }
}
