//! Sign flows as switched systems with Filippov sliding (THEORY §7): the deliberate treatment of
//! the discontinuous right-hand side `sign(·)`.
//!
//! A [`Switched`] system moves by `ẏ = F(y, s)` for a sign vector `s ∈ [−1, 1]^m` attached to m
//! switching functions `σ(y)`, with `σ̇ = c(y) + G(y) s` affine in s. Between events s is frozen
//! (`s_k = sign σ_k`) and the smooth field is integrated by the one wrapper [`crate::ode`]. An event
//! is a switching function crossing zero (detected at accepted steps) or a sliding sign leaving
//! `[−1, 1]`, located to 1e−13 in time by Brent's method on the cubic Hermite interpolant of the
//! step that showed it plus a short re-integration to either side of the root ([`locate`]: O(1)
//! right-hand sides per event). At an event the component is
//! classified from `σ̇_k(s_k = ±1)`: it crosses, or — when both sides push towards `σ_k = 0` — it
//! slides, and the sliding signs solve `(G s)_S = −c_S` (minimum-norm least squares, so that
//! coinciding surfaces are handled). No chattering, no smoothing parameter.

use crate::geometry::sign;
use crate::ode::{hermite, integrate, restep, Failure, IntegrationFailure, Rhs, Settings, Stats, Stop, Trajectory};
use crate::roots::brent;
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

    /// The event margin at y: `min_k φ_k` with `φ_k = σ_k s_k + tol` for a frozen component and
    /// `1 + 1e−9 − |s_k|` for a sliding one, negative exactly when [`Mode::events`] is non-empty.
    fn margin(&self, sys: &dyn Switched, y: &DVector<f64>, tol: f64) -> f64 {
        let sigma = sys.sigma(y);
        let s = self.effective(sys, y);
        (0..sigma.len())
            .map(|k| if self.sliding[k] { 1.0 + 1e-9 - s[k].abs() } else { sigma[k] * self.s[k] + tol })
            .fold(f64::INFINITY, f64::min)
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

/// Width in time (relative to `1 + |t|`) to which an event is bracketed: the located state is an
/// accurately integrated state with the event condition holding, within this of one without.
const EVENT_WIDTH: f64 = 1e-13;

/// Brent refinements of the bracket before falling back to bisection.
const MAX_REFINE: usize = 8;

/// Locates the event between an accepted quiet state `(ta, ya)` (event margin ≥ 0) and the
/// accepted step end `(tb, yb)` that shows it (margin < 0), to a bracket of width
/// `EVENT_WIDTH·(1 + |tb|)`, returning the event-side end and the work done.
///
/// Each refinement finds the root r of the margin on the cubic Hermite interpolant of the bracket
/// (end derivatives from the field: one right-hand side per new end, no re-integration) by Brent
/// ([`crate::roots::brent`]), then re-integrates ([`restep`]: one step each) from the quiet end to
/// `r − ε` and on to `r + ε`
/// (`2ε` = half the target width): when the interpolant is accurate the pair straddles the
/// event and closes the bracket at once; otherwise the bracket has shrunk to a piece whose
/// interpolant is far more accurate (error ∝ width⁴). After `MAX_REFINE` refinements the rest is
/// bisection on re-integration (the guaranteed path, as before).
fn locate(
    sys: &dyn Switched,
    mode: &Mode,
    rhs: &Rhs<'_>,
    (mut ta, mut ya): (f64, DVector<f64>),
    (mut tb, mut yb): (f64, DVector<f64>),
    tol: f64,
    settings: &Settings,
) -> Result<(f64, DVector<f64>, Stats), IntegrationFailure> {
    let mut work = Stats::default();
    let width = |tb: f64| EVENT_WIDTH * (1.0 + tb.abs());
    let field = |y: &DVector<f64>, work: &mut Stats| {
        let mut dy = DVector::zeros(y.len());
        rhs(0.0, y, &mut dy);
        work.rhs_evals += 1;
        dy
    };
    let quiet = |y: &DVector<f64>| mode.events(sys, y, tol).is_empty();
    let advance = |t0: f64, y0: &DVector<f64>, t1: f64, work: &mut Stats| {
        let probe = restep(rhs, y0, t0, t1, settings)?;
        *work += probe.stats;
        Ok::<_, IntegrationFailure>(probe.last().clone())
    };
    let mut refinements = 0;
    while tb - ta > width(tb) && refinements < MAX_REFINE {
        refinements += 1;
        let (fa, fb) = (field(&ya, &mut work), field(&yb, &mut work));
        let h = tb - ta;
        let phi = |tt: f64| mode.margin(sys, &hermite(&ya, &fa, &yb, &fb, h, (tt - ta) / h), tol);
        let eps = 0.25 * width(tb);
        let r = brent(phi, ta, tb, 0.1 * eps).unwrap_or(0.5 * (ta + tb));
        let lo = (r - eps).max(ta + 0.25 * eps).min(tb - 0.25 * eps);
        let y_lo = advance(ta, &ya, lo, &mut work)?;
        if !quiet(&y_lo) {
            (tb, yb) = (lo, y_lo);
            continue;
        }
        (ta, ya) = (lo, y_lo);
        let hi = (lo + 2.0 * eps).min(tb);
        if hi < tb {
            let y_hi = advance(ta, &ya, hi, &mut work)?;
            if quiet(&y_hi) {
                (ta, ya) = (hi, y_hi);
            } else {
                (tb, yb) = (hi, y_hi);
            }
        }
    }
    // the guaranteed path: bisection on re-integration
    for _ in 0..80 {
        if tb - ta <= width(tb) {
            break;
        }
        let tm = 0.5 * (ta + tb);
        let ym = advance(ta, &ya, tm, &mut work)?;
        if quiet(&ym) {
            (ta, ya) = (tm, ym);
        } else {
            (tb, yb) = (tm, ym);
        }
    }
    Ok((tb, yb, work))
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
            let seg_settings = Settings { max_steps: left, h0: 0.0, ..*settings }; // probes' h0 is for their first piece
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
            let (ta, ya) = last.borrow().clone();
            let (tb, yb, work) =
                match locate(sys, &frozen, &rhs, (ta, ya), (seg.t_end(), seg.last().clone()), tol, settings) {
                    Ok(v) => v,
                    Err(e) => return Err(fail(e.failure, traj.stats)),
                };
            traj.stats += work;
            (t, y) = (tb, yb);
            traj.stats.events += 1;
            if traj.stats.events > MAX_EVENTS {
                return Err(fail(
                    Failure::Switching { t, reason: format!("more than {MAX_EVENTS} switching events") },
                    traj.stats,
                ));
            }
            // every switching function at zero (e.g. an interpolating minimum reached in finite
            // time): slide on all surfaces at once, instead of resolving a cascade, when the joint
            // sliding signs are admissible (|s_k| ≤ 1); otherwise (e.g. a single surface that is
            // crossed, σ at −tol right after the crossing) each event is classified
            let joint = Mode { s: DVector::zeros(m), sliding: vec![true; m] };
            let all_slide =
                sys.sigma(&y).amax() <= 10.0 * tol && joint.effective(sys, &y).iter().all(|v| v.abs() <= 1.0 + 1e-9);
            if all_slide {
                mode = joint;
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

    /// `y = (x, z)`, `σ = (x − a, 1)`, `ẋ = −λx − c` (not driven by the sign), `ż = s₁`: x crosses a
    /// once, at `t* = ln((x0 + c/λ)/(a + c/λ))/λ` (λ > 0) or `(x0 − a)/c` (λ = 0), and
    /// `z(T) = z0 + 2t* − T` for `T > t*`, so the event time is read off z. (The constant second
    /// switching function keeps "every σ at 0" false; [`OneSurface`] checks the case without it.)
    struct Crossing {
        a: f64,
        lambda: f64,
        c: f64,
    }

    impl Switched for Crossing {
        fn sigma(&self, y: &DVector<f64>) -> DVector<f64> {
            DVector::from_vec(vec![y[0] - self.a, 1.0])
        }
        fn rate(&self, y: &DVector<f64>, s: &DVector<f64>, dy: &mut DVector<f64>) {
            dy[0] = -self.lambda * y[0] - self.c;
            dy[1] = s[0];
        }
        fn sigma_rate(&self, y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
            (DVector::from_vec(vec![-self.lambda * y[0] - self.c, 0.0]), DMatrix::zeros(2, 2))
        }
    }

    /// `σ = x`, `ẋ = −1 + s/2`: both one-sided rates `σ̇(s = ±1) = −½, −3⁄2` point down, so x
    /// crosses 0 at t = 2x0 (rate −½ above) and then falls at rate 3⁄2; a single switching function
    /// at 0 right after the event must not be read as a joint sliding point (s = 2 ∉ [−1, 1]).
    struct OneSurface;

    impl Switched for OneSurface {
        fn sigma(&self, y: &DVector<f64>) -> DVector<f64> {
            DVector::from_vec(vec![y[0]])
        }
        fn rate(&self, _y: &DVector<f64>, s: &DVector<f64>, dy: &mut DVector<f64>) {
            dy[0] = -1.0 + 0.5 * s[0];
        }
        fn sigma_rate(&self, _y: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
            (DVector::from_vec(vec![-1.0]), DMatrix::from_element(1, 1, 0.5))
        }
    }

    #[test]
    fn a_single_surface_is_crossed_not_slid_on() {
        let tr =
            integrate_switched(&OneSurface, &DVector::from_vec(vec![0.4]), 0.0, &[2.0], None, &Settings::default())
                .unwrap();
        // x(2) = −1.5·(2 − 0.8) = −1.8; the event slack tol = 2e−12 shifts it by ~tol
        assert!((tr.last()[0] + 1.8).abs() < 1e-10, "{:?}", tr.y);
        assert_eq!(tr.stats.events, 1);
    }

    #[test]
    fn events_are_located_at_the_closed_form_switching_times_in_o1_right_hand_sides() {
        // x' = −sign(x)·c from x0 (the Scalar system with a = 0, c = 1 after rescaling time):
        // event at x0/c, then sliding at 0; and the crossing systems above, constant and
        // exponential (where the step's Hermite interpolant is not exact)
        let settings = Settings::default();
        let mut rows = Vec::new();
        let y0 = DVector::from_vec(vec![0.7]);
        let tr = integrate_switched(&Scalar(0.0), &y0, 0.0, &[0.5, 2.0], None, &settings).unwrap();
        // the event fires at σ·s < −tol, tol = 1e−12·(1 + 0.7): x rests there (Filippov sliding)
        assert!(tr.y[1][0] > 0.0 && (tr.y[2][0].abs()) < 2e-12, "{:?}", tr.y);
        rows.push(("sign, x0 = 0.7", tr.stats.events, tr.stats.rhs_evals));
        for (lambda, c, x0, a) in
            [(0.0, 1.0, 0.7, 0.0), (0.0, 0.3, 2.0, 0.5), (1.0, 0.0, 2.0, 0.5), (0.5, 0.2, 1.0, -0.3)]
        {
            let sys = Crossing { a, lambda, c };
            let t_star = if lambda > 0.0 { ((x0 + c / lambda) / (a + c / lambda)).ln() / lambda } else { (x0 - a) / c };
            let t_end = 2.0 * t_star + 1.0;
            let tr =
                integrate_switched(&sys, &DVector::from_vec(vec![x0, 0.0]), 0.0, &[t_end], None, &settings).unwrap();
            let measured = 0.5 * (tr.last()[1] + t_end);
            // the event fires past the slack tol = 1e−12·(1 + ‖σ(0)‖∞) in σ, so tol/|σ̇(t*)| late,
            // and is located to 1e−13·(1 + t) in time; x carries the integration error (≲ 10 local
            // tolerances rtol·|x| + atol, zero for the constant field), z none (ż is piecewise
            // constant), so the time is off by that error over |σ̇(t*)|
            let tol = 1e-12 * (1.0 + (x0 - a).abs().max(1.0));
            let slope = lambda * a + c;
            let late = tol / slope;
            let bound = 1e-13 * (1.0 + t_star) + 10.0 * (settings.rtol * a.abs() + settings.atol) / slope;
            assert!(
                (measured - t_star - late).abs() < bound + 1e-14,
                "λ = {lambda}, c = {c}: {measured} vs {t_star} + {late}"
            );
            assert_eq!(tr.stats.events, 1);
            rows.push(("crossing", tr.stats.events, tr.stats.rhs_evals));
        }
        // the whole solves (right-hand sides of the integration and of the event location); with
        // the former bisection (80 halvings, each a re-integration) the same rows took
        // 1176, 828, 978, 882, 978 right-hand sides
        insta::assert_debug_snapshot!(rows, @r#"
        [
            (
                "sign, x0 = 0.7",
                1,
                217,
            ),
            (
                "crossing",
                1,
                142,
            ),
            (
                "crossing",
                1,
                194,
            ),
            (
                "crossing",
                1,
                302,
            ),
            (
                "crossing",
                1,
                374,
            ),
        ]
        "#);
    }

    #[test]
    fn locating_one_event_costs_o1_right_hand_sides() {
        // brackets [t* − 0.6w, t* + 0.4w] of width w (a step of Dop853 at rtol 1e−11 here is
        // ≈ 0.1–0.5 long) over the exponential crossing x0 = 2, a = 0.5, λ = 1 (t* = ln 4), end
        // states from the closed form x = 2e^{−t}, z = t (sign s₁ = +1 frozen)
        let sys = Crossing { a: 0.5, lambda: 1.0, c: 0.0 };
        let mode = Mode { s: DVector::from_vec(vec![1.0, 1.0]), sliding: vec![false, false] };
        let rhs = |_t: f64, y: &DVector<f64>, dy: &mut DVector<f64>| sys.rate(y, &mode.effective(&sys, y), dy);
        let settings = Settings::default();
        let tol = 1e-12 * 2.5;
        let t_star = 4f64.ln();
        let state = |t: f64| DVector::from_vec(vec![2.0 * (-t).exp(), t]);
        let mut rows = Vec::new();
        for w in [0.05, 0.2, 0.5] {
            let (ta, tb) = (t_star - 0.6 * w, t_star + 0.4 * w);
            let (t, y, work) = locate(&sys, &mode, &rhs, (ta, state(ta)), (tb, state(tb)), tol, &settings).unwrap();
            // the event condition holds at the located state, which lies within the integration
            // error (≲ 1e−11 in x) of t* + tol/|σ̇| (σ̇ = −a at t*)
            assert!(!mode.events(&sys, &y, tol).is_empty());
            assert!((t - t_star - tol / 0.5).abs() < 1e-10, "{t} vs {t_star}");
            rows.push((w, work.rhs_evals, work.steps));
        }
        // (width, right-hand sides, steps): two field evaluations and two one-step re-integrations
        // per refinement; bisection took ≥ 40 re-integrations (w = 0.5 → 1e−13) of ≥ 14 each
        insta::assert_debug_snapshot!(rows, @r"
        [
            (
                0.05,
                56,
                4,
            ),
            (
                0.2,
                56,
                4,
            ),
            (
                0.5,
                107,
                7,
            ),
        ]
        ");
    }
}
