//! The one integrator wrapper over `ode_solvers` (Dopri5 / Dop853) with explicit step limits.
//!
//! States are returned at exactly the requested sample times: the solver is restarted at each
//! sample, so every returned value is an accepted step end (ode_solvers' dense output is inaccurate
//! at `t_end`, see CRATES.md). The stiffness test of ode_solvers is disabled; the step limit is the
//! guard, and hitting it is a [`Failure`], which checks turn into INCONCLUSIVE.

use nalgebra::DVector;
use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{Dop853, Dopri5, OutputType, System};
use serde::Serialize;
use std::cell::Cell;
use std::fmt;

/// The Runge–Kutta pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    /// Dormand–Prince 5(4).
    Dopri5,
    /// Dormand–Prince 8(5,3).
    Dop853,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self { method: Method::Dop853, rtol: 1e-11, atol: 1e-13, max_steps: 400_000, h_max: 0.0 }
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
    /// When a flow was found stationary (see `flow::run_to_stationarity`), the time it was.
    pub stationary_at: Option<f64>,
}

impl Trajectory {
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

/// One solver run from `(t0, y0)` to `t1`: the final state, whether `stop` fired, and statistics.
fn run_segment(
    rhs: &Rhs<'_>,
    stop: Option<&Stop<'_>>,
    t0: f64,
    y0: &DVector<f64>,
    t1: f64,
    settings: &Settings,
    steps_left: u32,
) -> Result<(f64, DVector<f64>, bool, Stats), IntegrationFailure> {
    let (stopped, nonfinite, evals) = (Cell::new(false), Cell::new(false), Cell::new(0));
    let adapter = Adapter { evals: &evals, rhs, stop, stopped: &stopped, nonfinite: &nonfinite };
    let h_max = if settings.h_max > 0.0 { settings.h_max } else { t1 - t0 };
    let n_max = steps_left.max(1);
    let (result, stats, t_out, y_out) = match settings.method {
        Method::Dopri5 => {
            let mut s = Dopri5::from_param(
                adapter,
                t0,
                t1,
                t1 - t0,
                y0.clone(),
                settings.rtol,
                settings.atol,
                0.9,
                0.04,
                0.2,
                10.0,
                h_max,
                0.0,
                n_max,
                u32::MAX,
                OutputType::Sparse,
            );
            let r = s.integrate();
            let (t, y) = (s.x_out().last().copied(), s.y_out().last().cloned());
            (r.as_ref().err().map(clone_err), r.ok(), t, y)
        }
        Method::Dop853 => {
            let mut s = Dop853::from_param(
                adapter,
                t0,
                t1,
                t1 - t0,
                y0.clone(),
                settings.rtol,
                settings.atol,
                0.9,
                0.0,
                0.333,
                6.0,
                h_max,
                0.0,
                n_max,
                u32::MAX,
                OutputType::Sparse,
            );
            let r = s.integrate();
            let (t, y) = (s.x_out().last().copied(), s.y_out().last().cloned());
            (r.as_ref().err().map(clone_err), r.ok(), t, y)
        }
    };
    let stats = stats
        .map(|s| Stats {
            rhs_evals: s.num_eval as u64,
            steps: s.accepted_steps as u64,
            rejected: s.rejected_steps as u64,
            events: 0,
        })
        // ode_solvers reports no statistics on failure: keep our own count of the work done
        .unwrap_or(Stats { rhs_evals: evals.get(), ..Stats::default() });
    let t_reached = t_out.unwrap_or(t0);
    if let Some(e) = result {
        let failure = match e {
            IntegrationError::MaxNumStepReached { x, .. } => Failure::StepLimit { t: x, steps: settings.max_steps },
            IntegrationError::StepSizeUnderflow { x } => Failure::StepSizeUnderflow { t: x },
            IntegrationError::StiffnessDetected { x } => Failure::StepSizeUnderflow { t: x },
        };
        return Err(IntegrationFailure { failure, stats });
    }
    if nonfinite.get() {
        return Err(IntegrationFailure { failure: Failure::NonFinite { t: t_reached }, stats });
    }
    let y = y_out.unwrap_or_else(|| y0.clone());
    Ok((t_reached, y, stopped.get(), stats))
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
    let mut traj =
        Trajectory { t: vec![t0], y: vec![y0.clone()], stats: Stats::default(), stopped: false, stationary_at: None };
    for &t1 in times {
        let (t, y) = (traj.t_end(), traj.last().clone());
        if t1 <= t {
            continue;
        }
        let steps_left = settings.max_steps.saturating_sub(traj.stats.steps as u32);
        let (t_reached, y1, stopped, stats) =
            run_segment(rhs, stop, t, &y, t1, settings, steps_left).map_err(|mut e| {
                e.stats += traj.stats;
                e
            })?;
        traj.stats += stats;
        traj.t.push(t_reached);
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
    fn step_limits_and_stops_are_reported() {
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| *dy = -y;
        let tight = Settings { max_steps: 3, ..Settings::default() };
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
