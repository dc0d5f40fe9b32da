//! `balance/scheduled-decay` (THEORY §2, §9: the paper states the balance law with a time-varying
//! decoupled decay): with `ẇ_i = −φ_q(∂F/∂w_i) − α(t)w_i`,
//! `d|w_i|^q/dt = −q sign(gx)|gx|^{q−1} − qα(t)|w_i|^q`, the first term the same for every layer, so
//! `|w_i|^q − |w_j|^q = (|w_i(0)|^q − |w_j(0)|^q)·exp(−q∫_0^t α(s) ds)` for every loss and schedule.
//! Measured by integrating the parameter flow with the schedule
//! ([`crate::flow::SteepestFlow::run_with_decay_schedule`], q > 1), predicted from the closed-form
//! integral of the schedule. At q = 1 the event-driven sign-flow engine takes a constant decay per
//! run, so the schedule is applied piecewise constant, as a per-step scheduler applies it
//! ([`crate::signflow::run_sign_flow_piecewise`]): the step schedule exactly, the cosine as a
//! staircase of [`STAIRCASE`] midpoint values, and the law uses the staircase's integral.

use super::{check_horizon, five, one_u64, ten, BalanceTolerance, Setup};
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, finite, InputError, InputResult};
use crate::flow::{SteepestFlow, WeightDecay};
use crate::ode::sample_times;
use crate::signflow::run_sign_flow_piecewise;
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;
use std::f64::consts::PI;

/// A decay schedule on the horizon `[0, T]`, `T = t_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Cosine annealing from α_0 to `c·α_0` (c = `final_factor`):
    /// `α(s) = α_0(c + (1 − c)·½(1 + cos(πs/T)))`, `∫_0^t α = α_0(ct + (1 − c)(t + (T/π) sin(πt/T))/2)`.
    Cosine,
    /// `α(s) = α_0` for `s < T/2`, `c·α_0` after: `∫_0^t α = α_0(min(t, T/2) + c·(t − T/2)₊)`.
    Step,
}

/// Which law the card claims for the imbalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Law {
    /// `exp(−q∫_0^t α(s) ds)` (THEORY §2, §9).
    Scheduled,
    /// `exp(−qα_0 t)`: the constant-rate law, the schedule ignored (a wrong claim).
    ConstantRate,
    /// `exp(−∫_0^t α(s) ds)`: the exponent without q (a wrong claim for q ≠ 1).
    WithoutQ,
}

/// Under a decoupled decay schedule α(t) the imbalance decays as `λ_0 exp(−q∫_0^t α)`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledDecay {
    /// Depth L ≥ 2 (an imbalance needs two layers).
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2] (q = 1: the schedule applied piecewise constant, the
    /// cosine as a staircase of 50 midpoint values).
    pub q: f64,
    /// The initial decoupled decay α_0 > 0.
    pub weight_decay: f64,
    /// The schedule of the decay.
    pub schedule: Schedule,
    /// The schedule's final fraction c ≥ 0 of α_0 (cosine: annealed to c·α_0 at T; step: c·α_0
    /// after T/2). Keep c > 0 for q < 2: with no decay left the flow nears an interpolating
    /// stationary point, where |g|^{q−1} is not Lipschitz and the steps shrink.
    #[serde(default = "tenth")]
    pub final_factor: f64,
    /// Initial scale α > 0.
    pub alpha: f64,
    /// Initial imbalance λ_0 ≠ 0: layer 1 at (α^q + λ_0)^{1/q}.
    pub balance: f64,
    /// Seed of the random regression.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n.
    #[serde(default = "five")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "ten")]
    pub dim: usize,
    /// Horizon T (also the schedule's period); the law is compared at 50 samples in (0, T].
    pub t_end: f64,
    /// The claimed law.
    #[serde(default = "scheduled")]
    pub law: Law,
}

fn tenth() -> f64 {
    0.1
}

fn scheduled() -> Law {
    Law::Scheduled
}

/// Pieces of the cosine staircase at q = 1 (the sign flow's engine takes a constant decay per run).
pub const STAIRCASE: usize = 50;

impl ScheduledDecay {
    /// The schedule as constant pieces `(start, α)` for the sign flow (q = 1): the step schedule
    /// exactly, the cosine as [`STAIRCASE`] pieces valued at their midpoints.
    fn pieces(&self) -> Vec<(f64, f64)> {
        let t = self.t_end;
        match self.schedule {
            Schedule::Step => vec![(0.0, self.rate(0.0)), (0.5 * t, self.rate(0.5 * t))],
            Schedule::Cosine => {
                let h = t / STAIRCASE as f64;
                (0..STAIRCASE).map(|k| (k as f64 * h, self.rate((k as f64 + 0.5) * h))).collect()
            }
        }
    }

    /// `∫_0^t` of the piecewise-constant schedule: `Σ_k α_k (min(t, s_{k+1}) − s_k)₊`.
    fn piecewise_integral(&self, t: f64) -> f64 {
        let pieces = self.pieces();
        let ends = pieces.iter().skip(1).map(|p| p.0).chain(std::iter::once(f64::INFINITY));
        pieces.iter().zip(ends).map(|(&(s, a), e)| a * (t.min(e) - s).max(0.0)).sum()
    }

    /// `α(s)`.
    fn rate(&self, s: f64) -> f64 {
        let (a0, t, c) = (self.weight_decay, self.t_end, self.final_factor);
        match self.schedule {
            Schedule::Cosine => a0 * (c + (1.0 - c) * 0.5 * (1.0 + (PI * s / t).cos())),
            Schedule::Step if s < 0.5 * t => a0,
            Schedule::Step => a0 * c,
        }
    }

    /// `∫_0^t α(s) ds` of the schedule as integrated: in closed form for q > 1, of the pieces at
    /// q = 1.
    fn integral(&self, t: f64) -> f64 {
        if self.q == 1.0 {
            return self.piecewise_integral(t);
        }
        let (a0, horizon, c) = (self.weight_decay, self.t_end, self.final_factor);
        match self.schedule {
            Schedule::Cosine => a0 * (c * t + (1.0 - c) * 0.5 * (t + horizon / PI * (PI * t / horizon).sin())),
            Schedule::Step => a0 * (t.min(0.5 * horizon) + c * (t - 0.5 * horizon).max(0.0)),
        }
    }

    /// The claimed factor `λ(t)/λ_0`.
    fn claimed(&self, t: f64) -> f64 {
        match self.law {
            Law::Scheduled => (-self.q * self.integral(t)).exp(),
            Law::ConstantRate => (-self.q * self.weight_decay * t).exp(),
            Law::WithoutQ => (-self.integral(t)).exp(),
        }
    }

    fn setup(&self) -> InputResult<Setup> {
        Setup::new(self.depth, self.q, self.alpha, self.balance, self.seed, self.samples, self.dim)
    }
}

impl Claim for ScheduledDecay {
    const ID: &'static str = "balance/scheduled-decay";
    type Tolerance = BalanceTolerance;

    fn validate(&self) -> InputResult<()> {
        check_horizon(self.t_end)?;
        check_positive("weight_decay", self.weight_decay)?;
        crate::error::check_q("q", self.q)?;
        if finite("final_factor", self.final_factor)? < 0.0 {
            return Err(InputError::new("final_factor", "a decay fraction must be ≥ 0"));
        }
        if self.depth < 2 {
            return Err(InputError::new("depth", "an imbalance needs depth L ≥ 2"));
        }
        if finite("balance", self.balance)? == 0.0 {
            return Err(InputError::new("balance", "a decay law needs an initial imbalance λ_0 ≠ 0"));
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &BalanceTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = self.setup()?;
        let q = self.q;
        let flow = SteepestFlow { problem: &s.problem, model: &s.model, q, decay: WeightDecay::None };
        let route = if q == 1.0 {
            "event-driven SignGF, one run per constant piece of the schedule, vs the pieces' ∫α"
        } else {
            "ODE in (w, t) with the schedule (Dop853, rtol 1e-11) vs closed-form ∫α"
        };
        let quantity = "imbalance ratio λ(t)/λ_0 (worst coordinate and sample; round-off ties: the last)";
        let times = sample_times(self.t_end, 50);
        let rate = |t: f64| self.rate(t);
        let run = if q == 1.0 {
            let pieces = self.pieces();
            run_sign_flow_piecewise(&s.problem, &s.model, &pieces, &s.w0, &times, &numerics.settings())
        } else {
            flow.run_with_decay_schedule(&s.w0, &times, &rate, &numerics.settings())
        };
        let tr = match run {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, quantity, route, e.to_string())]),
        };
        let b0 = s.model.balances(&s.w0, q);
        let d = s.model.dim;
        // a coordinate leaves the comparison once one of its weights rests at 0 or changes sign
        // (the law divides by w_i; see [`super::free_samples`])
        let free = super::free_samples(&s.model, &s.w0, &tr.y, self.alpha);
        // the (coordinate, time) whose measured ratio is farthest from the claimed one; errors
        // below a thousandth of the tolerance are round-off (~1e−10 here) and count as ties, won
        // by the last free (sample, coordinate): otherwise which pair is reported would follow
        // the round-off of the build and machine, not the flow
        let floor = 1e-3 * tol.balance;
        let mut far = (-1.0, f64::NAN, f64::NAN);
        for (i, (t, w)) in tr.t.iter().zip(&tr.y).enumerate() {
            let b = s.model.balances(w, q);
            let claimed = self.claimed(*t);
            for j in (0..b0.len()).filter(|&j| b0[j] != 0.0 && i < free[j % d]) {
                let ratio = b[j] / b0[j];
                let err = (ratio - claimed).abs() / claimed;
                // NaN is kept as the worst (a later pair never compares above it)
                let key = if err.is_nan() || err > floor { err } else { 0.0 };
                if err.is_nan() || key >= far.0 {
                    far = (key, claimed, ratio);
                }
            }
        }
        let decayed = (-q * self.integral(self.t_end)).exp();
        let resting = free.iter().filter(|&&n| n < tr.y.len()).count();
        if far.0 < 0.0 {
            let why = "every coordinate had a weight at rest at 0 before the first sample: nothing to compare";
            return Ok(vec![Evidence::inconclusive(case, quantity, route, why.to_string())]);
        }
        Ok(vec![
            Evidence::compare(case, quantity, far.1, far.2, tol.balance, Metric::Relative, route).with_stats(tr.stats),
            Evidence::observe(case, "exp(−q∫_0^T α) (the theory's factor at T)", decayed, route),
            Evidence::observe(
                case,
                "coordinates with a weight at rest at 0 or through 0 by T (left out from then on)",
                resting as f64,
                route,
            ),
        ])
    }
}
