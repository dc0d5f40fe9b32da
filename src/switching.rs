//! Sign flows as switched systems with Filippov sliding (THEORY §7): the deliberate treatment of
//! the discontinuous right-hand side `sign(·)`.
//!
//! A [`Switched`] system moves by `ẏ = F(y, s)` for a sign vector `s ∈ [−1, 1]^m` attached to m
//! switching functions `σ(y)`, with `σ̇ = c(y) + G(y) s` affine in s. Between events s is frozen
//! (`s_k = sign σ_k`) and the smooth field is integrated by the one wrapper [`crate::ode`]. An event
//! is a switching function crossing zero (detected at accepted steps, located by bisection on re-
//! integration to 1e−13 in time) or a sliding sign leaving `[−1, 1]`. At an event the component is
//! classified from `σ̇_k(s_k = ±1)`: it crosses, or — when both sides push towards `σ_k = 0` — it
//! slides, and the sliding signs solve `(G s)_S = −c_S` (minimum-norm least squares, so that
//! coinciding surfaces are handled). No chattering, no smoothing parameter.

use crate::geometry::sign;
use crate::ode::{integrate, Failure, IntegrationFailure, Settings, Stats, Stop, Trajectory};
use nalgebra::{DMatrix, DVector};
use std::cell::RefCell;

/// A system driven by the signs of m switching functions.
pub trait Switched {
    /// The switching functions `σ(y)`.
    fn sigma(&self, y: &DVector<f64>) -> DVector<f64>;
    /// The velocity `ẏ = F(y, s)`.
    fn rate(&self, y: &DVector<f64>, s: &DVector<f64>, dy: &mut DVector<f64>);
    /// `(c, G)` with `σ̇ = c + G s`.
    fn sigma_rate(&self, y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>);
}

/// The discrete part of the state: frozen signs and the sliding set.
#[derive(Debug, Clone)]
struct Mode {
    s: DVector<f64>,
    sliding: Vec<bool>,
}

/// Limit on located events; more means a Zeno-like accumulation we do not resolve.
const MAX_EVENTS: u64 = 20_000;

impl Mode {
    /// The effective sign vector: frozen signs, with the sliding ones solved from `(G s)_S = −c_S`.
    fn effective(&self, sys: &dyn Switched, y: &DVector<f64>) -> DVector<f64> {
        let idx: Vec<usize> = (0..self.s.len()).filter(|&k| self.sliding[k]).collect();
        if idx.is_empty() {
            return self.s.clone();
        }
        let (c, g) = sys.sigma_rate(y);
        let mut s = self.s.clone();
        for &k in &idx {
            s[k] = 0.0;
        }
        let rhs_full = &c + &g * &s;
        let gss = DMatrix::from_fn(idx.len(), idx.len(), |a, b| g[(idx[a], idx[b])]);
        let rhs = DVector::from_fn(idx.len(), |a, _| -rhs_full[idx[a]]);
        let scale = gss.amax().max(f64::MIN_POSITIVE);
        // a symmetric negative definite G_SS (a parameter sign flow, G = −∇²F) is solved by
        // Cholesky when safely conditioned (pivot ratio² > 1e−10, so the solution equals the
        // minimum-norm one to ~1e−6 of the round-off the SVD leaves anyway); otherwise, and for
        // non-symmetric or singular blocks (coinciding surfaces), the minimum-norm least-squares
        // solution by SVD. A failed solve yields NaN signs, which end the integration as
        // non-finite (INCONCLUSIVE).
        let cholesky = (gss == gss.transpose())
            .then(|| (-&gss).cholesky())
            .flatten()
            .filter(|c| {
                let diag = c.l_dirty().diagonal();
                let (lo, hi) = (diag.min(), diag.max());
                lo > 0.0 && (lo / hi).powi(2) > 1e-10
            })
            .map(|c| -c.solve(&rhs))
            .filter(|v| v.iter().all(|x| x.is_finite()));
        let solved = cholesky.unwrap_or_else(|| {
            gss.svd(true, true)
                .solve(&rhs, 1e-12 * scale)
                .unwrap_or_else(|_| DVector::from_element(idx.len(), f64::NAN))
        });
        for (a, &k) in idx.iter().enumerate() {
            s[k] = solved[a];
        }
        s
    }

    /// Sets component k from the one-sided rates `σ̇_k(s_k = ±1)`: crossing or sliding.
    fn classify(&mut self, sys: &dyn Switched, y: &DVector<f64>, k: usize) {
        self.sliding[k] = false;
        let mut rates = [0.0; 2];
        for (r, trial) in rates.iter_mut().zip([1.0, -1.0]) {
            self.s[k] = trial;
            let s = self.effective(sys, y);
            let (c, g) = sys.sigma_rate(y);
            *r = c[k] + (g.row(k) * &s)[0];
        }
        let (up, down) = (rates[0], rates[1]);
        if up < 0.0 && down > 0.0 {
            self.sliding[k] = true;
            self.s[k] = 0.0;
        } else if up >= 0.0 && down >= 0.0 && (up > 0.0 || down > 0.0) {
            self.s[k] = 1.0;
        } else if up <= 0.0 && down <= 0.0 && (up < 0.0 || down < 0.0) {
            self.s[k] = -1.0;
        } else {
            // repelling surface or stationary: keep the side the state is on
            let sg = sign(sys.sigma(y)[k]);
            self.s[k] = if sg == 0.0 { 1.0 } else { sg };
        }
    }

    /// Components whose event condition holds at y: a frozen sign contradicted by σ beyond
    /// `tol`, or a sliding sign outside [−1, 1].
    fn events(&self, sys: &dyn Switched, y: &DVector<f64>, tol: f64) -> Vec<usize> {
        let sigma = sys.sigma(y);
        let s = self.effective(sys, y);
        (0..sigma.len())
            .filter(|&k| if self.sliding[k] { s[k].abs() > 1.0 + 1e-9 } else { sigma[k] * self.s[k] < -tol })
            .collect()
    }
}

/// Integrates a switched system from `(t0, y0)` through the sample `times` (see the module docs).
pub fn integrate_switched(
    sys: &dyn Switched,
    y0: &DVector<f64>,
    t0: f64,
    times: &[f64],
    stop: Option<&Stop<'_>>,
    settings: &Settings,
) -> Result<Trajectory, IntegrationFailure> {
    let sigma0 = sys.sigma(y0);
    let tol = 1e-12 * (1.0 + sigma0.amax());
    let m = sigma0.len();
    let mut mode = Mode { s: sigma0.map(sign), sliding: vec![false; m] };
    for k in 0..m {
        if sigma0[k] == 0.0 {
            mode.classify(sys, y0, k);
        }
    }
    let mut traj = Trajectory::start(t0, y0);
    let (mut t, mut y) = (t0, y0.clone());
    let fail = |failure: Failure, stats: Stats| IntegrationFailure::new(failure, stats);
    for &t1 in times {
        while t < t1 {
            let frozen = mode.clone();
            let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| sys.rate(y, &frozen.effective(sys, y), dy);
            let last = RefCell::new((t, y.clone()));
            let hit = RefCell::new(false);
            let watch = |tt: f64, yy: &DVector<f64>| {
                if !frozen.events(sys, yy, tol).is_empty() {
                    *hit.borrow_mut() = true;
                    return true;
                }
                *last.borrow_mut() = (tt, yy.clone());
                stop.is_some_and(|f| f(tt, yy))
            };
            let left = settings.max_steps.saturating_sub(traj.stats.steps as u32);
            let seg_settings = Settings { max_steps: left, ..*settings };
            let seg = integrate(&rhs, &y, t, &[t1], Some(&watch), &seg_settings).map_err(|mut e| {
                e.stats += traj.stats;
                e
            })?;
            traj.stats += seg.stats;
            if !*hit.borrow() {
                t = seg.t_end();
                y = seg.last().clone();
                if seg.stopped {
                    traj.t.push(t);
                    traj.y.push(y);
                    traj.stopped = true;
                    return Ok(traj);
                }
                continue;
            }
            // bisection between the last quiet step and the step that showed the event
            let (mut ta, mut ya) = last.borrow().clone();
            let (mut tb, mut yb) = (seg.t_end(), seg.last().clone());
            let no_stop: Option<&Stop<'_>> = None;
            for _ in 0..80 {
                if tb - ta <= 1e-13 * (1.0 + tb.abs()) {
                    break;
                }
                let tm = 0.5 * (ta + tb);
                let probe =
                    integrate(&rhs, &ya, ta, &[tm], no_stop, settings).map_err(|e| fail(e.failure, traj.stats))?;
                traj.stats += probe.stats;
                if frozen.events(sys, probe.last(), tol).is_empty() {
                    (ta, ya) = (tm, probe.last().clone());
                } else {
                    (tb, yb) = (tm, probe.last().clone());
                }
            }
            (t, y) = (tb, yb);
            traj.stats.events += 1;
            if traj.stats.events > MAX_EVENTS {
                return Err(fail(
                    Failure::Switching { t, reason: format!("more than {MAX_EVENTS} switching events") },
                    traj.stats,
                ));
            }
            if sys.sigma(&y).amax() <= 10.0 * tol {
                // every switching function is at zero (e.g. an interpolating minimum reached in
                // finite time): slide on all surfaces at once instead of resolving a cascade
                mode.sliding = vec![true; m];
                mode.s.fill(0.0);
            } else {
                for k in frozen.events(sys, &y, tol) {
                    mode.classify(sys, &y, k);
                }
            }
            if stop.is_some_and(|f| f(t, &y)) {
                traj.t.push(t);
                traj.y.push(y);
                traj.stopped = true;
                return Ok(traj);
            }
        }
        traj.t.push(t);
        traj.y.push(y.clone());
    }
    Ok(traj)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ẋ = −sign(x − a)` per coordinate: reaches a in time |x0 − a| and slides there.
    struct Scalar(f64);

    impl Switched for Scalar {
        fn sigma(&self, y: &DVector<f64>) -> DVector<f64> {
            y.map(|v| v - self.0)
        }
        fn rate(&self, _y: &DVector<f64>, s: &DVector<f64>, dy: &mut DVector<f64>) {
            *dy = -s;
        }
        fn sigma_rate(&self, y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
            (DVector::zeros(y.len()), -DMatrix::identity(y.len(), y.len()))
        }
    }

    #[test]
    fn sign_flow_reaches_its_target_and_slides_without_chattering() {
        let y0 = DVector::from_vec(vec![1.0, -0.5, 0.25]);
        let times = [0.3, 0.6, 2.0];
        let tr = integrate_switched(&Scalar(0.1), &y0, 0.0, &times, None, &Settings::default()).unwrap();
        // closed form: x_k(t) = a + sign(x0 − a) max(|x0 − a| − t, 0)
        for (t, y) in tr.t.iter().zip(&tr.y) {
            for k in 0..3 {
                let d: f64 = y0[k] - 0.1;
                let exact = 0.1 + d.signum() * (d.abs() - t).max(0.0);
                // the event threshold is 1e-12·(1 + |σ(0)|∞) ≈ 1.9e-12, the position error at most that
                assert!((y[k] - exact).abs() < 1e-11, "t = {t}, k = {k}: {} vs {exact}", y[k]);
            }
        }
        assert_eq!(tr.stats.events, 3);
        assert!(tr.stats.rhs_evals < 5_000, "{:?}", tr.stats);
    }
}
