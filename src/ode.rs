//! The one integrator wrapper over `ode_solvers` (Dopri5 / Dop853) with explicit step limits.
//!
//! States are returned at exactly the requested sample times: the solver is restarted at each
//! sample, so every returned value is an accepted step end (ode_solvers' dense output is inaccurate
//! at `t_end`, see CRATES.md). The stiffness test of ode_solvers is disabled; the step limit is the
//! guard, and hitting it is a [`Failure`], which checks turn into INCONCLUSIVE.
//!
//! Fields must be autonomous (the time argument is for watches only): ode_solvers 0.6.2's Dop853
//! has the node c₁₂ = 0 instead of 1 (srenevey/ode-solvers#42) and the Rosenbrock fallback assumes
//! autonomy; a time-dependent field carries its time as a state component
//! ([`crate::flow::SteepestFlow::run_log_time`]).

use nalgebra::{DMatrix, DVector};
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dop853, Dopri5, OutputType, System};
use serde::Serialize;
use std::cell::Cell;
use std::fmt;

/// The Runge–Kutta pair (Rosenbrock23 is also the stiffness fallback of the explicit pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// Dormand–Prince 5(4).
    Dopri5,
    /// Dormand–Prince 8(5,3).
    Dop853,
    /// The L-stable Rosenbrock 2(3) pair of Shampine & Reichelt (MATLAB's ode23s) with a
    /// finite-difference Jacobian: for the stiff small-α gradient-flow tails (THEORY §7).
    Rosenbrock23,
    /// The L-stable, stiffly accurate Rosenbrock 4(3) method RODAS4 of Hairer & Wanner (six
    /// stages, one LU per step): for long stiff tails at tight tolerances, where a third-order
    /// method needs too many steps. Takes the system's Jacobian when it has one
    /// ([`integrate_with_jacobian`]), else forward differences.
    Rodas4,
}

/// Tolerances and limits of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    /// The Runge–Kutta pair.
    pub method: Method,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Maximum number of steps per call (all segments together).
    pub max_steps: u32,
    /// Maximum step size (0: unbounded).
    pub h_max: f64,
    /// Stiffness fallback: when the explicit pair needs more than this many steps in one segment,
    /// the rest of the segment is integrated with the L-stable Rosenbrock method (0: never).
    pub stiff_after: u32,
    /// The first step size attempted, in the first segment only (0: the method's own initial
    /// guess). A piece of an accepted step re-integrated with `h0` = its length is one step.
    pub h0: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            method: Method::Dop853,
            rtol: 1e-11,
            atol: 1e-13,
            max_steps: 400_000,
            h_max: 0.0,
            stiff_after: 40_000,
            h0: 0.0,
        }
    }
}

/// Integer solver statistics (stable across machines up to rounding-induced step changes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Right-hand-side evaluations.
    pub rhs_evals: u64,
    /// Accepted steps.
    pub steps: u64,
    /// Rejected steps.
    pub rejected: u64,
    /// Switching events located (sign flows).
    pub events: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Self) {
        self.rhs_evals += o.rhs_evals;
        self.steps += o.steps;
        self.rejected += o.rejected;
        self.events += o.events;
    }
}

/// Why an integration did not reach its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The step limit was hit at time t.
    StepLimit {
        /// Time reached.
        t: f64,
        /// The limit.
        steps: u32,
    },
    /// The step size underflowed at time t.
    StepSizeUnderflow {
        /// Time reached.
        t: f64,
    },
    /// The state became NaN or infinite at time t.
    NonFinite {
        /// Time reached.
        t: f64,
    },
    /// A sign flow met a switching configuration it cannot resolve.
    Switching {
        /// Time reached.
        t: f64,
        /// What happened.
        reason: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::StepLimit { t, steps } => write!(f, "step limit {steps} hit at t = {t:.6e}"),
            Failure::StepSizeUnderflow { t } => write!(f, "step size underflow at t = {t:.6e}"),
            Failure::NonFinite { t } => write!(f, "state became non-finite at t = {t:.6e}"),
            Failure::Switching { t, reason } => write!(f, "sign-flow switching failed at t = {t:.6e}: {reason}"),
        }
    }
}

/// A failure together with the work done before it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationFailure {
    /// What went wrong.
    pub failure: Failure,
    /// Statistics up to the failure.
    pub stats: Stats,
    /// The last accepted time and state, when the integrator that failed keeps it (the
    /// event-driven sign flow of [`crate::signflow`] does), so that a report can show where the
    /// run stopped with status "inconclusive".
    pub last: Option<(f64, DVector<f64>)>,
}

impl IntegrationFailure {
    /// A failure without a recorded last state.
    pub fn new(failure: Failure, stats: Stats) -> Self {
        Self { failure, stats, last: None }
    }
}

/// The outcome of a completed integration: `Ok`, or a stop for a reason that leaves the result
/// unverified (the engine then still returns its last state). Every flow result carries one, so
/// that a JSON report always has a `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum FlowStatus {
    /// The integration reached its end (or its stop condition, or a detected stationary point).
    #[default]
    Ok,
    /// The result is not trustworthy; `reason` says why.
    Inconclusive {
        /// Why.
        reason: String,
    },
}

impl FlowStatus {
    /// `"ok"` or `"inconclusive"`.
    pub fn label(&self) -> &'static str {
        match self {
            FlowStatus::Ok => "ok",
            FlowStatus::Inconclusive { .. } => "inconclusive",
        }
    }
}

impl fmt::Display for IntegrationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (after {} steps, {} rhs evaluations)", self.failure, self.stats.steps, self.stats.rhs_evals)
    }
}

/// States at sample times.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Sample times (the last may be an early stop).
    pub t: Vec<f64>,
    /// States at those times.
    pub y: Vec<DVector<f64>>,
    /// Solver statistics.
    pub stats: Stats,
    /// True when the stop condition ended the integration before the last sample time.
    pub stopped: bool,
    /// When a flow was found stationary (see `flow::run_to_stationarity`, and the finite-time
    /// arrival detection of the q < 2 flows and of [`crate::signflow`]), the time it was; the state
    /// is held there for the remaining samples.
    pub stationary_at: Option<f64>,
    /// `ok` unless the engine returned a result it could not certify.
    pub status: FlowStatus,
    /// The method that took the last accepted step (None: no step, or an engine that does not
    /// say): an explicit pair's stiffness fallback ends in Rosenbrock23, so a piece of the last
    /// step is re-integrated with the method that took it.
    pub final_method: Option<Method>,
}

impl Trajectory {
    /// A trajectory holding only its initial state.
    pub fn start(t0: f64, y0: &DVector<f64>) -> Self {
        Self {
            t: vec![t0],
            y: vec![y0.clone()],
            stats: Stats::default(),
            stopped: false,
            stationary_at: None,
            status: FlowStatus::Ok,
            final_method: None,
        }
    }

    /// Fills the sample `times` at or after `t_stop` with the final state (a flow held at a
    /// stationary point reached at `t_stop`), recording `stationary_at`.
    pub fn hold_from(&mut self, t_stop: f64, times: &[f64]) {
        let last = self.last().clone();
        if self.t_end() < t_stop {
            self.t.push(t_stop);
            self.y.push(last.clone());
        }
        self.stationary_at = Some(t_stop);
        let end = self.t_end();
        for &t in times.iter().filter(|&&t| t > end) {
            self.t.push(t);
            self.y.push(last.clone());
        }
    }

    /// The final state.
    pub fn last(&self) -> &DVector<f64> {
        self.y.last().expect("a trajectory has its initial state")
    }

    /// The final time.
    pub fn t_end(&self) -> f64 {
        *self.t.last().expect("a trajectory has its initial time")
    }
}

/// A right-hand side `dy = F(t, y)`.
pub type Rhs<'a> = dyn Fn(f64, &DVector<f64>, &mut DVector<f64>) + 'a;
/// The Jacobian `∂F/∂y` of a right-hand side at `(t, y)`.
pub type Jacobian<'a> = dyn Fn(f64, &DVector<f64>) -> DMatrix<f64> + 'a;
/// A stop condition checked at every accepted step.
pub type Stop<'a> = dyn Fn(f64, &DVector<f64>) -> bool + 'a;

struct Adapter<'a> {
    evals: &'a Cell<u64>,
    rhs: &'a Rhs<'a>,
    stop: Option<&'a Stop<'a>>,
    stopped: &'a Cell<bool>,
    nonfinite: &'a Cell<bool>,
}

impl System<f64, DVector<f64>> for Adapter<'_> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.evals.set(self.evals.get() + 1);
        (self.rhs)(t, y, dy);
    }

    fn solout(&mut self, t: f64, y: &DVector<f64>, _dy: &DVector<f64>) -> bool {
        if y.iter().any(|v| !v.is_finite()) {
            self.nonfinite.set(true);
            return true;
        }
        if let Some(stop) = self.stop {
            if stop(t, y) {
                self.stopped.set(true);
                return true;
            }
        }
        false
    }
}

/// One solver run from `(t0, y0)` to `t1` with a step budget.
struct Segment<'a> {
    rhs: &'a Rhs<'a>,
    /// The field's Jacobian (None: forward differences).
    jac: Option<&'a Jacobian<'a>>,
    stop: Option<&'a Stop<'a>>,
    t0: f64,
    y0: &'a DVector<f64>,
    t1: f64,
    settings: &'a Settings,
    steps: u32,
    /// The first step size (0: the solver's own initial guess).
    h0: f64,
}

/// The final time and state, whether `stop` fired, and the statistics.
type SegmentResult = (f64, DVector<f64>, bool, Stats);

/// A segment's result and the method that took its last step.
type SegmentOutcome = (SegmentResult, Method);

/// A failure and, when there is one, the last accepted state.
type SegmentError = (IntegrationFailure, Option<(f64, DVector<f64>)>);

macro_rules! explicit_pair {
    ($solver:ident, $seg:expr, $adapter:expr, $n_max:expr, $beta:expr, $fac_min:expr, $fac_max:expr) => {{
        let seg = $seg;
        let h_max = if seg.settings.h_max > 0.0 { seg.settings.h_max } else { seg.t1 - seg.t0 };
        let mut s = $solver::from_param(
            $adapter,
            seg.t0,
            seg.t1,
            seg.t1 - seg.t0,
            seg.y0.clone(),
            seg.settings.rtol,
            seg.settings.atol,
            0.9,
            $beta,
            $fac_min,
            $fac_max,
            h_max,
            seg.h0,
            $n_max,
            u32::MAX,
            OutputType::Sparse,
        );
        let r = s.integrate();
        let (t, y) = (s.x_out().last().copied(), s.y_out().last().cloned());
        (r.as_ref().err().map(clone_err), r.ok(), t, y)
    }};
}

impl Segment<'_> {
    /// Runs the segment; an explicit pair that exhausts `stiff_after` steps hands the rest of the
    /// segment to Rosenbrock23.
    fn run(&self) -> Result<SegmentOutcome, IntegrationFailure> {
        let method = self.settings.method;
        match method {
            Method::Rosenbrock23 => return self.rosenbrock().map(|r| (r, method)),
            Method::Rodas4 => return self.rodas4().map(|r| (r, method)),
            Method::Dopri5 | Method::Dop853 => {}
        }
        let fallback = self.settings.stiff_after > 0 && self.settings.stiff_after < self.steps;
        let budget = if fallback { self.settings.stiff_after } else { self.steps };
        match self.explicit(budget) {
            Err((IntegrationFailure { failure: Failure::StepLimit { .. }, stats, .. }, Some((t, y)))) if fallback => {
                let rest = Segment { t0: t, y0: &y, steps: self.steps - stats.steps as u32, h0: 0.0, ..*self };
                let (t_end, y_end, stopped, more) = rest.rosenbrock().map_err(|mut e| {
                    e.stats += stats;
                    e
                })?;
                let mut total = stats;
                total += more;
                Ok(((t_end, y_end, stopped, total), Method::Rosenbrock23))
            }
            Err((e, _)) => Err(e),
            Ok(v) => Ok((v, method)),
        }
    }

    /// A Dopri5/Dop853 run; on failure also the last accepted state.
    // the error carries the last accepted state for the Rosenbrock fallback; it is built once per
    // failed segment, so its size costs nothing measurable
    #[allow(clippy::result_large_err)]
    fn explicit(&self, n_max: u32) -> Result<SegmentResult, SegmentError> {
        let (stopped, nonfinite, evals) = (Cell::new(false), Cell::new(false), Cell::new(0));
        let adapter =
            Adapter { evals: &evals, rhs: self.rhs, stop: self.stop, stopped: &stopped, nonfinite: &nonfinite };
        let n_max = n_max.max(1);
        let (result, stats, t_out, y_out) = match self.settings.method {
            Method::Dopri5 => explicit_pair!(Dopri5, self, adapter, n_max, 0.04, 0.2, 10.0),
            _ => explicit_pair!(Dop853, self, adapter, n_max, 0.0, 0.333, 6.0),
        };
        let stats = stats
            .map(|s| Stats {
                rhs_evals: s.num_eval as u64,
                steps: s.accepted_steps as u64,
                rejected: s.rejected_steps as u64,
                events: 0,
            })
            // ode_solvers reports no statistics on failure: keep our own count of the work done
            .unwrap_or(Stats { rhs_evals: evals.get(), steps: n_max as u64, ..Stats::default() });
        let t_reached = t_out.unwrap_or(self.t0);
        let last = y_out.clone().map(|y| (t_reached, y));
        if let Some(e) = result {
            let failure = match e {
                IntegrationError::MaxNumStepReached { x, .. } => {
                    Failure::StepLimit { t: x, steps: self.settings.max_steps }
                }
                IntegrationError::StepSizeUnderflow { x } | IntegrationError::StiffnessDetected { x } => {
                    Failure::StepSizeUnderflow { t: x }
                }
            };
            return Err((IntegrationFailure { failure, stats, last: last.clone() }, last));
        }
        if nonfinite.get() {
            return Err((IntegrationFailure::new(Failure::NonFinite { t: t_reached }, stats), None));
        }
        let y = y_out.unwrap_or_else(|| self.y0.clone());
        Ok((t_reached, y, stopped.get(), stats))
    }

    /// `∂F/∂y` at `(t, y)`: the system's own Jacobian, else forward differences
    /// `(F(y + δ_j e_j) − F(y))/δ_j`, `δ_j = √ε·max(|y_j|, 1e-8)` (n right-hand sides).
    fn jacobian(&self, t: f64, y: &DVector<f64>, f0: &DVector<f64>, stats: &mut Stats) -> DMatrix<f64> {
        if let Some(jac) = self.jac {
            return jac(t, y);
        }
        let n = y.len();
        let mut jac = DMatrix::zeros(n, n);
        let mut dy = DVector::zeros(n);
        for j in 0..n {
            let delta = f64::EPSILON.sqrt() * y[j].abs().max(1e-8);
            let mut yj = y.clone();
            yj[j] += delta;
            (self.rhs)(t, &yj, &mut dy);
            stats.rhs_evals += 1;
            jac.set_column(j, &((&dy - f0) / delta));
        }
        jac
    }

    /// RODAS4 (Hairer & Wanner 1996, §IV.7) for autonomous fields, in the form without Jacobian
    /// products: `(I/(hγ) − J) k_i = F(y + Σ_{j<i} a_ij k_j) + Σ_{j<i} (c_ij/h) k_j`, γ = 1/4,
    /// `y⁺ = y + Σ m_i k_i`, local error estimate `k_6` (stiffly accurate: the embedded solution is
    /// the fifth stage). Step control `h ← h·clamp(0.9·err^{−1/4}, 0.2, 6)` with the RMS error
    /// scaled by `atol + rtol·max(|y|, |y⁺|)`; J and F(y) are kept across a rejected step.
    fn rodas4(&self) -> Result<SegmentResult, IntegrationFailure> {
        let Segment { rhs, stop, t0, y0, t1, settings, steps: steps_left, .. } = *self;
        let n = y0.len();
        let mut stats = Stats::default();
        let fail = |failure: Failure, stats: Stats| IntegrationFailure::new(failure, stats);
        let (mut t, mut y) = (t0, y0.clone());
        let h_max = if settings.h_max > 0.0 { settings.h_max } else { t1 - t0 };
        let mut h = if self.h0 > 0.0 { self.h0 } else { 1e-3 * (t1 - t0) }.min(h_max);
        let mut f0 = DVector::zeros(n);
        rhs(t, &y, &mut f0);
        stats.rhs_evals += 1;
        let mut jac = self.jacobian(t, &y, &f0, &mut stats);
        let mut fresh = true;
        let mut k: Vec<DVector<f64>> = vec![DVector::zeros(n); 6];
        let mut stage = DVector::zeros(n);
        let mut fi = DVector::zeros(n);
        while t < t1 {
            if stats.steps + stats.rejected >= steps_left as u64 {
                return Err(fail(Failure::StepLimit { t, steps: settings.max_steps }, stats));
            }
            if !fresh {
                jac = self.jacobian(t, &y, &f0, &mut stats);
                fresh = true;
            }
            h = h.min(t1 - t).min(h_max);
            if h <= 1e-14 * t.abs().max(1.0) {
                return Err(fail(Failure::StepSizeUnderflow { t }, stats));
            }
            let mut w = -jac.clone();
            for i in 0..n {
                w[(i, i)] += 1.0 / (h * RODAS4_GAMMA);
            }
            let Some(lu) = Some(w.lu()).filter(|lu| lu.is_invertible()) else {
                stats.rejected += 1;
                h *= 0.25;
                continue;
            };
            let mut ok = true;
            for i in 0..6 {
                if i == 0 {
                    fi.copy_from(&f0);
                } else {
                    stage.copy_from(&y);
                    for j in 0..i {
                        stage.axpy(RODAS4_A[i][j], &k[j], 1.0);
                    }
                    rhs(t + h, &stage, &mut fi);
                    stats.rhs_evals += 1;
                }
                for j in 0..i {
                    fi.axpy(RODAS4_C[i][j] / h, &k[j], 1.0);
                }
                match lu.solve(&fi) {
                    Some(v) => k[i] = v,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            let mut y_new = y.clone();
            if ok {
                for (m, ki) in RODAS4_M.iter().zip(&k) {
                    y_new.axpy(*m, ki, 1.0);
                }
            }
            let err = if ok {
                let sum: f64 = (0..n)
                    .map(|i| (k[5][i] / (settings.atol + settings.rtol * y[i].abs().max(y_new[i].abs()))).powi(2))
                    .sum();
                (sum / n.max(1) as f64).sqrt()
            } else {
                f64::NAN
            };
            if !err.is_finite() || y_new.iter().any(|v| !v.is_finite()) {
                stats.rejected += 1;
                h *= 0.1;
                continue;
            }
            let factor = (0.9 * err.max(1e-12).powf(-0.25)).clamp(0.2, 6.0);
            if err <= 1.0 {
                t += h;
                y = y_new;
                stats.steps += 1;
                rhs(t, &y, &mut f0);
                stats.rhs_evals += 1;
                fresh = false;
                if stop.is_some_and(|s| s(t, &y)) {
                    return Ok((t, y, true, stats));
                }
            } else {
                stats.rejected += 1;
            }
            h *= factor;
        }
        Ok((t1, y, false, stats))
    }

    /// Rosenbrock 2(3) (Shampine & Reichelt 1997) for autonomous fields (every flow here is): with `d = 1/(2+√2)`,
    /// `W = I − h d J`: `k1 = W⁻¹F0`, `k2 = W⁻¹(F1 − k1) + k1` (`F1 = f(y + h k1/2)`), `y⁺ = y + h k2`,
    /// `k3 = W⁻¹(F2 − (6+√2)(k2 − F1) − 2(k1 − F0))`, error `h(k1 − 2k2 + k3)/6`. J by forward
    /// differences (n evaluations per step).
    fn rosenbrock(&self) -> Result<SegmentResult, IntegrationFailure> {
        let Segment { rhs, stop, t0, y0, t1, settings, steps: steps_left, .. } = *self;
        let n = y0.len();
        let d = 1.0 / (2.0 + std::f64::consts::SQRT_2);
        let e32 = 6.0 + std::f64::consts::SQRT_2;
        let mut stats = Stats::default();
        let f = |t: f64, y: &DVector<f64>, stats: &mut Stats| {
            let mut dy = DVector::zeros(n);
            rhs(t, y, &mut dy);
            stats.rhs_evals += 1;
            dy
        };
        let (mut t, mut y) = (t0, y0.clone());
        let h_max = if settings.h_max > 0.0 { settings.h_max } else { t1 - t0 };
        let mut h = if self.h0 > 0.0 { self.h0 } else { 1e-3 * (t1 - t0) }.min(h_max);
        let fail = |failure: Failure, stats: Stats| IntegrationFailure::new(failure, stats);
        while t < t1 {
            if stats.steps + stats.rejected >= steps_left as u64 {
                return Err(fail(Failure::StepLimit { t, steps: settings.max_steps }, stats));
            }
            h = h.min(t1 - t).min(h_max);
            if h <= 1e-14 * t.abs().max(1.0) {
                return Err(fail(Failure::StepSizeUnderflow { t }, stats));
            }
            let f0 = f(t, &y, &mut stats);
            let jac = self.jacobian(t, &y, &f0, &mut stats);
            let w = (DMatrix::identity(n, n) - jac * (h * d)).lu();
            let solve = |b: &DVector<f64>| w.solve(b);
            let Some(k1) = solve(&f0) else {
                return Err(fail(Failure::StepSizeUnderflow { t }, stats));
            };
            let f1 = f(t + 0.5 * h, &(&y + &k1 * (0.5 * h)), &mut stats);
            let nan = || DVector::from_element(n, f64::NAN);
            let k2 = solve(&(&f1 - &k1)).map(|v| v + &k1).unwrap_or_else(nan);
            let y_new = &y + &k2 * h;
            let f2 = f(t + h, &y_new, &mut stats);
            let k3 = solve(&(&f2 - (&k2 - &f1) * e32 - (&k1 - &f0) * 2.0)).unwrap_or_else(nan);
            let err_vec = (&k1 - &k2 * 2.0 + &k3) * (h / 6.0);
            let err = (0..n)
                .map(|i| err_vec[i].abs() / (settings.atol + settings.rtol * y[i].abs().max(y_new[i].abs())))
                .fold(0.0, f64::max);
            if !err.is_finite() || y_new.iter().any(|v| !v.is_finite()) {
                stats.rejected += 1;
                h *= 0.1;
                continue;
            }
            let factor = (0.8 * err.max(1e-10).powf(-1.0 / 3.0)).clamp(0.1, 5.0);
            if err <= 1.0 {
                t += h;
                y = y_new;
                stats.steps += 1;
                if stop.is_some_and(|s| s(t, &y)) {
                    return Ok((t, y, true, stats));
                }
            } else {
                stats.rejected += 1;
            }
            h *= factor;
        }
        Ok((t1, y, false, stats))
    }
}

/// RODAS4's γ = γ_ii (Hairer & Wanner 1996, Table IV.7.?; KPP's ros_Gamma(1)).
const RODAS4_GAMMA: f64 = 0.25;
/// RODAS4's stage coefficients `a_ij` (strictly lower triangular; rows 5 and 6 coincide with the
/// weights `m`: stiffly accurate).
const RODAS4_A: [[f64; 5]; 6] = [
    [0.0; 5],
    [1.544, 0.0, 0.0, 0.0, 0.0],
    [0.946_678_528_081_582_6, 0.255_701_169_898_328_4, 0.0, 0.0, 0.0],
    [3.314_825_187_068_521, 2.896_124_015_972_201, 0.998_641_913_997_781_7, 0.0, 0.0],
    [1.221_224_509_226_641, 6.019_134_481_288_629, 12.537_083_329_320_87, -0.687_886_036_105_895, 0.0],
    [1.221_224_509_226_641, 6.019_134_481_288_629, 12.537_083_329_320_87, -0.687_886_036_105_895, 1.0],
];
/// RODAS4's `c_ij` of the form without Jacobian products (strictly lower triangular).
const RODAS4_C: [[f64; 5]; 6] = [
    [0.0; 5],
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [-2.430_093_356_833_875, -0.206_359_915_709_191_5, 0.0, 0.0, 0.0],
    [-0.107_352_905_815_137_5, -9.594_562_251_023_355, -20.470_286_148_096_16, 0.0, 0.0],
    [7.496_443_313_967_647, -10.246_804_314_643_52, -33.999_903_528_199_05, 11.708_908_932_061_6, 0.0],
    [
        8.083_246_795_921_522,
        -7.981_132_988_064_893,
        -31.521_594_328_743_71,
        16.319_305_431_231_36,
        -6.058_818_238_834_054,
    ],
];
/// RODAS4's solution weights `m_i`.
const RODAS4_M: [f64; 6] =
    [1.221_224_509_226_641, 6.019_134_481_288_629, 12.537_083_329_320_87, -0.687_886_036_105_895, 1.0, 1.0];

/// The cubic Hermite interpolant of a step of size h from `(y0, f0)` to `(y1, f1)` at the fraction
/// θ ∈ [0, 1]: `h00 y0 + h h10 f0 + h01 y1 + h h11 f1` with `h00 = 2θ³ − 3θ² + 1`,
/// `h10 = θ³ − 2θ² + θ`, `h01 = −2θ³ + 3θ²`, `h11 = θ³ − θ²` (the step's dense output from its end
/// states and derivatives, no extra right-hand sides; error O(h⁴)).
pub fn hermite(
    y0: &DVector<f64>,
    f0: &DVector<f64>,
    y1: &DVector<f64>,
    f1: &DVector<f64>,
    h: f64,
    th: f64,
) -> DVector<f64> {
    let (t2, t3) = (th * th, th * th * th);
    y0 * (2.0 * t3 - 3.0 * t2 + 1.0)
        + f0 * (h * (t3 - 2.0 * t2 + th))
        + y1 * (-2.0 * t3 + 3.0 * t2)
        + f1 * (h * (t3 - t2))
}

fn clone_err(e: &IntegrationError) -> IntegrationError {
    match e {
        IntegrationError::MaxNumStepReached { x, n_step } => {
            IntegrationError::MaxNumStepReached { x: *x, n_step: *n_step }
        }
        IntegrationError::StepSizeUnderflow { x } => IntegrationError::StepSizeUnderflow { x: *x },
        IntegrationError::StiffnessDetected { x } => IntegrationError::StiffnessDetected { x: *x },
    }
}

/// Integrates `y' = rhs(t, y)` from `(t0, y0)` through the increasing sample `times`, returning the
/// state at `t0` and at each sample; stops early at the first accepted step where `stop` holds.
pub fn integrate(
    rhs: &Rhs<'_>,
    y0: &DVector<f64>,
    t0: f64,
    times: &[f64],
    stop: Option<&Stop<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    integrate_with(rhs, None, y0, t0, times, stop, settings)
}

/// [`integrate`] for a field with a known Jacobian, used by the Rosenbrock methods instead of
/// forward differences (the explicit pairs ignore it).
pub fn integrate_with_jacobian(
    rhs: &Rhs<'_>,
    jac: &Jacobian<'_>,
    y0: &DVector<f64>,
    t0: f64,
    times: &[f64],
    stop: Option<&Stop<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    integrate_with(rhs, Some(jac), y0, t0, times, stop, settings)
}

/// The state at `t1` by re-integrating a piece `[t0, t1]` of an accepted step: the method first
/// attempts the whole piece as one step (`h0 = t1 − t0`, accepted when the step it is part of was:
/// one step, 12 right-hand sides for Dop853), instead of restarting from its own small initial guess.
pub fn restep(
    rhs: &Rhs<'_>,
    y0: &DVector<f64>,
    t0: f64,
    t1: f64,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    integrate_with(rhs, None, y0, t0, &[t1], None, &Settings { h0: t1 - t0, ..*settings })
}

/// The one driver behind the three entry points.
fn integrate_with(
    rhs: &Rhs<'_>,
    jac: Option<&Jacobian<'_>>,
    y0: &DVector<f64>,
    t0: f64,
    times: &[f64],
    stop: Option<&Stop<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let mut traj = Trajectory::start(t0, y0);
    for &t1 in times {
        let (t, y) = (traj.t_end(), traj.last().clone());
        if t1 <= t {
            continue;
        }
        let steps_left = settings.max_steps.saturating_sub(traj.stats.steps as u32);
        let h0 = if traj.t.len() == 1 { settings.h0 } else { 0.0 };
        let segment = Segment { rhs, jac, stop, t0: t, y0: &y, t1, settings, steps: steps_left, h0 };
        let ((t_reached, y1, stopped, stats), method) = segment.run().map_err(|mut e| {
            e.stats += traj.stats;
            e
        })?;
        traj.stats += stats;
        traj.final_method = Some(method);
        // a completed segment ends at t1: ode_solvers may report t1 − 1 ulp, and a later segment
        // starting there would underflow its step size
        traj.t.push(if stopped { t_reached } else { t1 });
        traj.y.push(y1);
        if stopped {
            traj.stopped = true;
            break;
        }
    }
    Ok(traj)
}

/// Log-spaced or linear sample times on `(0, t_end]`.
pub fn sample_times(t_end: f64, count: usize) -> Vec<f64> {
    (1..=count).map(|k| t_end * k as f64 / count as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_values_match_closed_forms() {
        // y' = −y, y(0) = 1: y(t) = e^{−t}; rtol 1e-11 gives ≈ 1e-11 relative error per unit time
        for method in [Method::Dopri5, Method::Dop853] {
            let settings = Settings { method, ..Settings::default() };
            let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| *dy = -y;
            let times = sample_times(5.0, 7);
            let tr = integrate(&rhs, &DVector::from_element(1, 1.0), 0.0, &times, None, &settings).unwrap();
            for (t, y) in tr.t.iter().zip(&tr.y) {
                assert!((y[0] - (-t).exp()).abs() < 1e-9 * (-t).exp(), "{method:?} at {t}");
            }
            assert_eq!(tr.t.len(), 8);
            assert!((tr.t_end() - 5.0).abs() < 1e-12);
        }
    }

    #[test]
    fn rosenbrock_handles_a_stiff_problem() {
        // y1' = −1e4 (y1 − y2), y2' = −y2 (stiff, autonomous like every flow here):
        // y2 = e^{−t}, y1 = c e^{−t} + (1 − c) e^{−1e4 t}, c = 1e4/(1e4 − 1)
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            dy[0] = -1e4 * (y[0] - y[1]);
            dy[1] = -y[1];
        };
        let c = 1e4 / (1e4 - 1.0);
        let exact = c * (-10f64).exp();
        let y0 = DVector::from_vec(vec![1.0, 1.0]);
        let settings = Settings { method: Method::Rosenbrock23, rtol: 1e-8, atol: 1e-12, ..Settings::default() };
        let tr = integrate(&rhs, &y0, 0.0, &[10.0], None, &settings).unwrap();
        // local errors of rtol·|y| ≤ 1e-8 (|y| ≤ 1) accumulate, damped by the decay, to ≲ 1e-8 absolute
        assert!((tr.last()[0] - exact).abs() < 1e-8, "{} vs {exact}", tr.last()[0]);
        assert!((tr.last()[1] - (-10f64).exp()).abs() < 1e-8);
        // an explicit pair is stability-bound to h ≈ 3.3e-4 (≈ 30 000 steps); Rosenbrock is not
        assert!(tr.stats.steps < 3_000, "{:?}", tr.stats);
        assert_eq!(tr.final_method, Some(Method::Rosenbrock23));
        let explicit = Settings { stiff_after: 2_000, ..Settings::default() };
        let tr = integrate(&rhs, &y0, 0.0, &[10.0], None, &explicit).unwrap();
        assert!((tr.last()[0] - exact).abs() < 1e-8, "fallback: {}", tr.last()[0]);
        // the last step was the fallback's, and says so (a loss-level stop's probes use it)
        assert_eq!(tr.final_method, Some(Method::Rosenbrock23));
        let short = integrate(&rhs, &y0, 0.0, &[1e-3], None, &explicit).unwrap();
        assert_eq!(short.final_method, Some(Method::Dop853), "{:?}", short.stats);
        // 2 000 explicit steps, then third order at the default rtol 1e-11: h ≈ 1e-3, ≈ 10 000 steps
        assert!(tr.stats.steps < 20_000, "fallback: {:?}", tr.stats);
    }

    #[test]
    fn rodas4_is_fourth_order() {
        // logistic y' = y(1 − y), y(0) = 0.1: y(t) = 1/(1 + 9e^{−t}), on [0, 2] with the step capped at
        // h (rtol so loose that every step is accepted): an order-4 method's global error is C·h⁴, so
        // halving h divides it by 16 up to the O(h⁵) term (measured 18.9, 18.8, 17.5); a ratio below
        // 2³ = 8 would be order 3, above 2⁵ = 32 order 5
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| dy[0] = y[0] * (1.0 - y[0]);
        let exact = 1.0 / (1.0 + 9.0 * (-2f64).exp());
        let global = |h: f64| {
            let settings = Settings { method: Method::Rodas4, rtol: 1.0, atol: 1.0, h_max: h, ..Settings::default() };
            let tr = integrate(&rhs, &DVector::from_element(1, 0.1), 0.0, &[2.0], None, &settings).unwrap();
            assert_eq!(tr.stats.rejected, 0);
            (tr.last()[0] - exact).abs()
        };
        let errors: Vec<f64> = [0.2, 0.1, 0.05, 0.025].iter().map(|&h| global(h)).collect();
        for pair in errors.windows(2) {
            let ratio = pair[0] / pair[1];
            assert!((12.0..22.0).contains(&ratio), "{errors:?}");
        }
    }

    #[test]
    fn rodas4_with_and_without_a_jacobian_solves_a_stiff_problem() {
        // the stiff pair of `rosenbrock_handles_a_stiff_problem` at rtol 1e-10: fourth order needs
        // ≈ rtol^{−1/5} steps per unit of the slow decay, third order rtol^{−1/4} (≈ 10× more), and the analytic Jacobian saves the n = 2
        // difference quotients per step without changing the solution beyond the tolerance
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            dy[0] = -1e4 * (y[0] - y[1]);
            dy[1] = -y[1];
        };
        let jac = |_t: f64, _y: &DVector<f64>| DMatrix::from_row_slice(2, 2, &[-1e4, 1e4, 0.0, -1.0]);
        let c = 1e4 / (1e4 - 1.0);
        let y0 = DVector::from_vec(vec![1.0, 1.0]);
        let settings = Settings { method: Method::Rodas4, rtol: 1e-10, atol: 1e-14, ..Settings::default() };
        let fd = integrate(&rhs, &y0, 0.0, &[10.0], None, &settings).unwrap();
        let exact = integrate_with_jacobian(&rhs, &jac, &y0, 0.0, &[10.0], None, &settings).unwrap();
        let rosenbrock =
            integrate(&rhs, &y0, 0.0, &[10.0], None, &Settings { method: Method::Rosenbrock23, ..settings }).unwrap();
        for tr in [&fd, &exact] {
            // local errors ≤ 1e-10·|y| (|y| ≤ 1), damped by the decay: ≲ 1e-9 absolute at t = 10
            assert!((tr.last()[0] - c * (-10f64).exp()).abs() < 1e-9, "{:?}", tr.last());
            assert!((tr.last()[1] - (-10f64).exp()).abs() < 1e-9, "{:?}", tr.last());
            assert!(tr.stats.steps * 5 < rosenbrock.stats.steps, "{:?} vs {:?}", tr.stats, rosenbrock.stats);
        }
        assert!(exact.stats.rhs_evals < fd.stats.rhs_evals);
        insta::assert_snapshot!(format!("{:?} / {:?} / {:?}", fd.stats, exact.stats, rosenbrock.stats), @"Stats { rhs_evals: 7450, steps: 928, rejected: 5, events: 0 } / Stats { rhs_evals: 5594, steps: 928, rejected: 5, events: 0 } / Stats { rhs_evals: 45080, steps: 9012, rejected: 4, events: 0 }");
    }

    #[test]
    fn first_step_size_applies_to_the_first_segment_only() {
        // y' = −y at rtol 1e-6: Dop853's local error at h = 0.5 is ≈ h⁹/9! ≈ 5e-9 relative, so the
        // first attempt h0 = 0.5 is accepted (one step); without h0 the solver's own guess starts
        // smaller; the second segment [0.5, 1] starts from the solver's own guess either way
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| *dy = -y;
        let one = DVector::from_element(1, 1.0);
        let base = Settings { rtol: 1e-6, atol: 1e-9, ..Settings::default() };
        let first = Settings { h0: 0.5, ..base };
        let single = integrate(&rhs, &one, 0.0, &[0.5], None, &first).unwrap();
        let own = integrate(&rhs, &one, 0.0, &[0.5], None, &base).unwrap();
        assert_eq!((single.stats.steps, single.stats.rejected), (1, 0));
        assert!(own.stats.steps > 1, "{:?}", own.stats);
        let both = integrate(&rhs, &one, 0.0, &[0.5, 1.0], None, &first).unwrap();
        let second = integrate(&rhs, single.last(), 0.5, &[1.0], None, &base).unwrap();
        assert_eq!(both.stats.steps, 1 + second.stats.steps);
        assert_eq!(both.last(), second.last());
    }

    #[test]
    fn step_limits_and_stops_are_reported() {
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| *dy = -y;
        let tight = Settings { max_steps: 3, stiff_after: 0, ..Settings::default() };
        let err = integrate(&rhs, &DVector::from_element(1, 1.0), 0.0, &[100.0], None, &tight).unwrap_err();
        assert!(matches!(err.failure, Failure::StepLimit { .. }), "{err}");
        let stop = |_t: f64, y: &DVector<f64>| y[0] < 0.5;
        let tr =
            integrate(&rhs, &DVector::from_element(1, 1.0), 0.0, &[10.0], Some(&stop), &Settings::default()).unwrap();
        assert!(tr.stopped && tr.last()[0] < 0.5 && tr.t_end() < 10.0);
        let blow = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| *dy = y.map(|v| v * v);
        let err = integrate(&blow, &DVector::from_element(1, 1.0), 0.0, &[2.0], None, &Settings::default());
        assert!(err.is_err());
    }
}
