//! Saddle escape (THEORY §4): the time a steepest flow started near the saddle `w = 0` needs to
//! reach a level `x_1`, in closed form, by quadrature, by integrating the parameter flow, and by
//! the discrete optimizers; sweeps over the initial scale α and least-squares fits.
//!
//! One active coordinate with the linear loss `f(x) = −γx` (a constant gradient), balanced init
//! `w_i(0) = α`, `x_0 = α^L`: `ẋ = L x^e γ^{q−1}`, `e = q(L−1)/L`, so
//! `T = (x_1^{1−e} − x_0^{1−e}) / (L(1−e)γ^{q−1})` (e ≠ 1) and `T = ln(x_1/x_0)/(Lγ^{q−1})` (e = 1):
//! bounded as α → 0 iff `q < L/(L−1)`, logarithmic at equality, a power `α^{−(q(L−1)−L)}` above.

pub use crate::fit::{fit_line, Fit};
use crate::geometry::mirror_exponent;
use crate::ode::{integrate, IntegrationFailure, Settings, Stats, Stop, Trajectory};
use crate::quadrature::gauss_legendre;
use crate::roots::{brent, brent_bracket};
use crate::verdict::round_sig;
use nalgebra::DVector;
use rayon::prelude::*;
use serde::Serialize;
use std::cell::{Cell, RefCell};

/// How the escape time grows as α → 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// `e < 1`: T stays bounded (never saddle).
    Bounded,
    /// `e = 1`: `T ~ ln(1/α)`.
    Logarithmic,
    /// `e > 1`: `T ~ α^{−(q(L−1)−L)}`.
    Power,
}

impl Regime {
    /// The regime of `e = q(L−1)/L` (e within 1e−12 of 1 counts as 1).
    pub fn of(depth: usize, q: f64) -> Self {
        Self::of_exponent(growth_exponent(depth, q))
    }

    /// The regime of a growth exponent `κ = L(e − 1)` of `dT/d ln(1/α) ∝ α^{−κ}`.
    pub fn of_exponent(kappa: f64) -> Self {
        if kappa.abs() <= 1e-12 {
            Regime::Logarithmic
        // (cargo-mutants: `<=` here is equivalent, κ = 0 is taken by the branch above)
        } else if kappa < 0.0 {
            Regime::Bounded
        } else {
            Regime::Power
        }
    }

    /// `bounded`, `logarithmic` or `power`.
    pub fn name(&self) -> &'static str {
        match self {
            Regime::Bounded => "bounded",
            Regime::Logarithmic => "logarithmic",
            Regime::Power => "power",
        }
    }
}

/// The growth exponent `κ = L(e − 1) = q(L−1) − L`: `dT/d ln(1/α) = α^{−κ}/γ^{q−1}` exactly, for
/// the linear loss, so T is bounded iff κ < 0, logarithmic iff κ = 0, and `~ α^{−κ}` iff κ > 0.
pub fn growth_exponent(depth: usize, q: f64) -> f64 {
    depth as f64 * (mirror_exponent(depth, q) - 1.0)
}

/// The escape problem of THEORY §4: depth L, exponent q, gradient `f' = −γ`, level `x_1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearEscape {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// The constant gradient magnitude γ > 0.
    pub gamma: f64,
    /// The level `x_1 > α^L`.
    pub level: f64,
}

/// Why an escape time could not be measured.
#[derive(Debug, Clone, PartialEq)]
pub enum PassageError {
    /// The integrator failed (step limit, underflow, non-finite state).
    Integration(IntegrationFailure),
    /// The level was not reached within the horizon.
    NotReached {
        /// The horizon.
        horizon: f64,
        /// The level function at the horizon (negative).
        gap: f64,
        /// Work done.
        stats: Stats,
    },
    /// Brent's method could not locate the crossing inside the last step.
    Location(String),
}

impl std::fmt::Display for PassageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassageError::Integration(e) => write!(f, "{e}"),
            PassageError::NotReached { horizon, gap, stats } => {
                write!(f, "level not reached by t = {horizon:.6e} (gap {gap:.3e}, {} steps)", stats.steps)
            }
            PassageError::Location(r) => write!(f, "locating the level crossing: {r}"),
        }
    }
}

impl From<IntegrationFailure> for PassageError {
    fn from(e: IntegrationFailure) -> Self {
        PassageError::Integration(e)
    }
}

/// A measured escape time with the work it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    /// The first time the level is reached.
    pub time: f64,
    /// Solver statistics (integration and location of the crossing).
    pub stats: Stats,
    /// The state at the crossing.
    #[serde(skip)]
    pub state: DVector<f64>,
}

impl LinearEscape {
    /// `e = q(L−1)/L`.
    pub fn exponent(&self) -> f64 {
        mirror_exponent(self.depth, self.q)
    }

    /// The regime of `(L, q)`.
    pub fn regime(&self) -> Regime {
        Regime::of(self.depth, self.q)
    }

    /// The closed form `T = (x_1^{1−e} − x_0^{1−e}) / (L(1−e)γ^{q−1})`, `x_0 = α^L`, evaluated as
    /// `x_0^{1−e} expm1((1−e) ln(x_1/x_0)) / (L(1−e)γ^{q−1})` (no cancellation near e = 1), with the
    /// limit `ln(x_1/x_0)/(Lγ^{q−1})` at e = 1.
    pub fn closed_form(&self, alpha: f64) -> f64 {
        let l = self.depth as f64;
        let ln_x0 = l * alpha.ln();
        let span = self.level.ln() - ln_x0;
        let c = 1.0 - self.exponent();
        let scale = l * self.gamma.powf(self.q - 1.0);
        if c.abs() <= 1e-12 {
            span / scale
        } else {
            (c * ln_x0).exp() * (c * span).exp_m1() / (c * scale)
        }
    }

    /// The closed form as a formula with this problem's numbers.
    pub fn formula(&self) -> String {
        let (l, e) = (self.depth, self.exponent());
        let g = format!("{}^{}", self.gamma, self.q - 1.0);
        if self.regime() == Regime::Logarithmic {
            format!("ln({}/α^{l}) / ({l}·{g})", self.level)
        } else {
            format!("({}^{c} − α^{lc}) / ({l}·{c}·{g}), 1−e = {c}", self.level, c = 1.0 - e, lc = l as f64 * (1.0 - e))
        }
    }

    /// The escape time by quadrature of [`escape_integral`] with `f'(x) = −γ`.
    pub fn quadrature(&self, alpha: f64) -> f64 {
        escape_integral(self.depth, self.q, alpha, self.level, |_| -self.gamma)
    }

    /// The escape time of the parameter flow `ẇ_i = −φ_q(∂F/∂w_i)`, `F(w) = −γ ∏ w_i`, integrated
    /// in the log-weights `u_i = ln w_i` (`u̇_i = γ^{q−1} (x/w_i)^{q−1} / w_i`, relative accuracy at
    /// every scale), from `w_i = α` until `x = x_1` (crossing located by [`first_passage`]).
    pub fn integrated(&self, alpha: f64, settings: &Settings) -> Result<Passage, PassageError> {
        let (q, lg) = (self.q, self.gamma.ln());
        let rhs = move |_t: f64, u: &DVector<f64>, du: &mut DVector<f64>| {
            let s = u.sum();
            for (d, ui) in du.iter_mut().zip(u.iter()) {
                *d = ((q - 1.0) * (s - ui + lg) - ui).exp();
            }
        };
        let ln_level = self.level.ln();
        let level = move |u: &DVector<f64>| u.sum() - ln_level;
        let u0 = DVector::from_element(self.depth, alpha.ln());
        // the closed form bounds the horizon only loosely (×4 + 10): the ODE must find the level
        let horizon = 4.0 * self.closed_form(alpha) + 10.0;
        let advance =
            |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| integrate(&rhs, y, 0.0, &[dt], stop, s);
        first_passage(&advance, &u0, &level, horizon, settings)
    }
}

impl LinearEscape {
    /// The product `p(t) = ∏_i w_i(t)` of one balanced side (all layers at α, `x_0 = α^L`) under
    /// the linear loss pushing it up (`sign = 1`) or down (`sign = −1`): the mirror flow
    /// `d R'(p)/dt = ±γ^{q−1}` with `R'(p) = p^c/(cL)`, c = 1 − m, so `p^c = x_0^c ± cLγ^{q−1}t`
    /// (`p = x_0 e^{±Lγ^{q−1}t}` at c = 0). A side pushed down with c > 0 reaches 0 in finite time
    /// and rests there (every layer is 0 and so is every gradient); one pushed up with c < 0 blows
    /// up (+∞).
    pub fn side_product(&self, alpha: f64, sign: f64, t: f64) -> f64 {
        let (l, c) = (self.depth as f64, 1.0 - self.exponent());
        let (x0, k) = (alpha.powi(self.depth as i32), l * self.gamma.powf(self.q - 1.0));
        if c.abs() <= 1e-12 {
            return x0 * (sign * k * t).exp();
        }
        let base = x0.powf(c) + sign * c * k * t;
        // (cargo-mutants: `>=` is equivalent: 0^{1/c} is 0 for c > 0 and +∞ for c < 0, the branches below)
        if base > 0.0 {
            base.powf(1.0 / c)
        } else if c > 0.0 {
            // (cargo-mutants: `c >= 0` is equivalent: |c| ≤ 1e−12 returned above)
            0.0
        } else {
            f64::INFINITY
        }
    }

    /// The escape time of the two-sided model `x = ∏_i w⁺_i − ∏_i w⁻_i`, both sides balanced at α
    /// (`x_0 = 0`), on `f = −γx`: each side follows [`LinearEscape::side_product`], and T solves
    /// `p₊(T) − p₋(T) = x_1` (x increases in t) by Brent's method on the bracket [0, T₁], T₁ the
    /// one-sided time to `x_1 + α^L` (there `p₋ ≤ α^L` gives x ≥ x_1). NaN if Brent fails.
    pub fn two_sided_closed_form(&self, alpha: f64) -> f64 {
        let x0 = alpha.powi(self.depth as i32);
        let upper = LinearEscape { level: self.level + x0, ..*self }.closed_form(alpha);
        let gap = |t: f64| {
            let up = self.side_product(alpha, 1.0, t);
            if up.is_infinite() {
                return f64::INFINITY;
            }
            up - self.side_product(alpha, -1.0, t) - self.level
        };
        crate::roots::brent(gap, 0.0, upper, 1e-15 * upper).unwrap_or(f64::NAN)
    }

    /// The two-sided escape time measured by the parameter flow: the weights `(w⁺, w⁻)` of both
    /// sides, `ẇ⁺_i = φ_q(γ ∏_{j≠i} w⁺_j)`, `ẇ⁻_i = −φ_q(γ ∏_{j≠i} max(w⁻_j, 0))` (a side at 0
    /// rests: its gradient vanishes), until `∏w⁺ − ∏max(w⁻, 0) = x_1` ([`first_passage`]).
    pub fn two_sided_integrated(&self, alpha: f64, settings: &Settings) -> Result<Passage, PassageError> {
        let (q, g, l) = (self.q, self.gamma, self.depth);
        let phi = move |v: f64| v.signum() * v.abs().powf(q - 1.0);
        let rhs = move |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| {
            for i in 0..l {
                let up: f64 = (0..l).filter(|&j| j != i).map(|j| w[j]).product();
                let down: f64 = (0..l).filter(|&j| j != i).map(|j| w[l + j].max(0.0)).product();
                dw[i] = phi(g * up);
                dw[l + i] = -phi(g * down);
            }
        };
        let target = self.level;
        let reached = move |w: &DVector<f64>| {
            w.rows(0, l).product() - (0..l).map(|j| w[l + j].max(0.0)).product::<f64>() - target
        };
        let w0 = DVector::from_element(2 * l, alpha);
        let horizon = 4.0 * self.closed_form(alpha) + 10.0;
        let advance =
            |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| integrate(&rhs, y, 0.0, &[dt], stop, s);
        first_passage(&advance, &w0, &reached, horizon, settings)
    }
}

impl LinearEscape {
    /// The finite-time blow-up of the balanced flow on `f = −γx` when `m = e > 1` (THEORY §4.4):
    /// `R'(x) = x^{1−m}/(L(1−m))` has a bounded range, so x reaches ∞ at
    /// `T* = x_0^{1−m}/(L(m−1)γ^{q−1})`, `x_0 = α^L`; `None` for `m ≤ 1` (no blow-up).
    pub fn blow_up_time(&self, alpha: f64) -> Option<f64> {
        let (l, m) = (self.depth as f64, self.exponent());
        (m > 1.0 + 1e-12).then(|| (l * (1.0 - m) * alpha.ln()).exp() / (l * (m - 1.0) * self.gamma.powf(self.q - 1.0)))
    }

    /// The time to reach the level when it lies beyond the time resolution of f64 near a blow-up:
    /// the log-weight flow `u̇_i = γ^{q−1} e^{(q−1)(Σu − u_i) − u_i}` with the time as a state
    /// component, integrated in the variable s with `ds = ‖u̇‖∞ dt` (a Sundman transformation:
    /// `du/ds = u̇/‖u̇‖∞`, `dt/ds = 1/‖u̇‖∞`), so the steps follow u however fast it moves and the
    /// time increments near the blow-up (below the spacing of f64 at T) add up to T correctly
    /// rounded. The crossing `Σu = ln x_1` is located by [`first_passage`] in s.
    pub fn integrated_in_log_weights(&self, alpha: f64, settings: &Settings) -> Result<Passage, PassageError> {
        let (q, lg, l) = (self.q, self.gamma.ln(), self.depth);
        let rhs = move |_s: f64, y: &DVector<f64>, dy: &mut DVector<f64>| {
            let sum: f64 = y.rows(0, l).sum();
            let mut top = f64::MIN_POSITIVE;
            for i in 0..l {
                dy[i] = ((q - 1.0) * (sum - y[i] + lg) - y[i]).exp();
                top = top.max(dy[i]);
            }
            for i in 0..l {
                dy[i] /= top;
            }
            dy[l] = 1.0 / top;
        };
        let ln_level = self.level.ln();
        let level = move |y: &DVector<f64>| y.rows(0, l).sum() - ln_level;
        let mut y0 = DVector::from_element(l + 1, alpha.ln());
        y0[l] = 0.0;
        // s advances by at least the rise of the fastest u_i: ln(x_1/α^L) bounds the s needed
        let horizon = 4.0 * (ln_level - l as f64 * alpha.ln()).abs() + 10.0;
        let advance =
            |y: &DVector<f64>, ds: f64, stop: Option<&Stop<'_>>, s: &Settings| integrate(&rhs, y, 0.0, &[ds], stop, s);
        let run = first_passage(&advance, &y0, &level, horizon, settings)?;
        Ok(Passage { time: run.state[l], stats: run.stats, state: run.state.rows(0, l).into_owned() })
    }

    /// The time from level x to ∞ when `m > 1`: `x^{1−m}/(L(m−1)γ^{q−1})` (the analytic tail that
    /// completes an integration stopped at a large x).
    pub fn tail(&self, x: f64) -> f64 {
        let (l, m) = (self.depth as f64, self.exponent());
        ((1.0 - m) * x.ln()).exp() / (l * (m - 1.0) * self.gamma.powf(self.q - 1.0))
    }
}

/// The coercive initialisation of THEORY §4.3 (the paper's Cor. 4.10): `w_1 = 0`, `w_i = λ`
/// (i ≥ 2), on the linear loss `f = −γx`. Then `|w_i|^q − |w_1|^q = λ^q` for every i ≥ 2, the
/// inverse metric `h = 1/R''` is smallest at x = 0 where it equals `μ = λ^{q(L−1)}`, and the
/// flow leaves the saddle x = 0 at once: `T(x_1) = ∫_0^{x_1} R''(x) dx / γ^{q−1} ≤ x_1/(μγ^{q−1})`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoerciveEscape {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// The scale λ > 0 of layers 2..L.
    pub lambda: f64,
    /// The gradient magnitude γ > 0.
    pub gamma: f64,
}

impl CoerciveEscape {
    /// The per-layer-constants potential of this initialisation (constants `0, λ^q, …, λ^q`).
    pub fn potential(&self) -> crate::potential::LayerConstants {
        let mut constants = vec![self.lambda.powf(self.q); self.depth];
        constants[0] = 0.0;
        crate::potential::LayerConstants::new(self.q, &constants)
    }

    /// The coercivity constant `μ = λ^{q(L−1)}`: the inverse metric at x = 0.
    pub fn mu(&self) -> f64 {
        self.lambda.powf(self.q * (self.depth as f64 - 1.0))
    }

    /// `T(x_1) = ∫_0^{x_1} R''(x) dx / γ^{q−1}` by quadrature of the potential's metric (the layer
    /// magnitudes by root finding at every node), split at the scale `s = min(λ^L, x_1)` where h
    /// leaves μ: geometric panels on [0, s], panels in ln x on [s, x_1] (so levels many decades
    /// above λ^L, i.e. small λ, are resolved).
    pub fn quadrature(&self, level: f64) -> f64 {
        use crate::potential::Potential;
        use crate::quadrature::{integrate_from_one, integrate_from_zero};
        let p = self.potential();
        let s = self.lambda.powi(self.depth as i32).max(1e-300).min(level);
        let mut total = integrate_from_zero(|x| p.hess(x), s);
        // (cargo-mutants: `>=` is equivalent: at level = s the added quadrature runs over [1, 1], a
        // zero-width Gauss–Legendre panel that adds exactly 0)
        if level > s {
            total += s * integrate_from_one(|y| p.hess(s * y), level / s);
        }
        total / self.gamma.powf(self.q - 1.0)
    }

    /// The escape time of the parameter flow from `w = (0, λ, …, λ)` ([`parameter_passage`]).
    pub fn integrated(&self, level: f64, settings: &Settings) -> Result<Passage, PassageError> {
        let mut w0 = DVector::from_element(self.depth, self.lambda);
        w0[0] = 0.0;
        // the bound x_1/(μγ^{q−1}) limits the horizon; ×4 + 10 leaves the ODE room to find the level
        let horizon = 4.0 * level / (self.mu() * self.gamma.powf(self.q - 1.0)) + 10.0;
        parameter_passage(self.q, self.gamma, &w0, level, horizon, settings)
    }
}

/// The first time the parameter flow on `f = −γx`, `ẇ_i = γ^{q−1} |∏_{j≠i} w_j|^{q−1}` (every
/// w_i ≥ 0), brings `∏ w_i` from `∏ w0_i` to `level`, within `horizon` ([`first_passage`]).
pub fn parameter_passage(
    q: f64,
    gamma: f64,
    w0: &DVector<f64>,
    level: f64,
    horizon: f64,
    settings: &Settings,
) -> Result<Passage, PassageError> {
    let g = gamma.powf(q - 1.0);
    let rhs = move |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| {
        for i in 0..w.len() {
            let others: f64 = w.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, v)| v).product();
            dw[i] = g * others.abs().powf(q - 1.0);
        }
    };
    let reached = move |w: &DVector<f64>| w.iter().product::<f64>() - level;
    let advance =
        |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| integrate(&rhs, y, 0.0, &[dt], stop, s);
    first_passage(&advance, w0, &reached, horizon, settings)
}

/// The λ-balanced init on `f = −γx` (THEORY §4.1, §3): layer 1 at `(α^q + λ)^{1/q}`, the others at
/// α, so `|w_1|^q − |w_i|^q = λ` and `x_0 = (α^q + λ)^{1/q} α^{L−1}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ImbalancedEscape {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// The scale α > 0 of layers 2..L.
    pub alpha: f64,
    /// The imbalance λ > −α^q.
    pub balance: f64,
    /// The gradient magnitude γ > 0.
    pub gamma: f64,
}

impl ImbalancedEscape {
    /// The initial weights `((α^q + λ)^{1/q}, α, …, α)`.
    pub fn w0(&self) -> DVector<f64> {
        let mut w0 = DVector::from_element(self.depth, self.alpha);
        w0[0] = (self.alpha.powf(self.q) + self.balance).powf(1.0 / self.q);
        w0
    }

    /// `T(x_1) = ∫_{x_0}^{x_1} R''(x) dx / γ^{q−1}` for the per-layer-constants potential (constants
    /// `λ, 0, …, 0`), by quadrature in ln x from x_0.
    pub fn quadrature(&self, level: f64) -> f64 {
        use crate::potential::Potential;
        let mut constants = vec![0.0; self.depth];
        constants[0] = self.balance;
        let p = crate::potential::LayerConstants::new(self.q, &constants);
        let x0: f64 = self.w0().iter().product();
        x0 * crate::quadrature::integrate_from_one(|y| p.hess(x0 * y), level / x0) / self.gamma.powf(self.q - 1.0)
    }

    /// The escape time of the parameter flow from [`ImbalancedEscape::w0`] ([`parameter_passage`]).
    pub fn integrated(&self, level: f64, settings: &Settings) -> Result<Passage, PassageError> {
        let horizon = 4.0 * self.quadrature(level).max(0.0) + 10.0;
        parameter_passage(self.q, self.gamma, &self.w0(), level, horizon, settings)
    }
}

/// A runner of an autonomous system `(y0, dt, stop, settings) → trajectory from time 0 to dt` (the
/// one integrator wrapper, or a flow's own `run`). Autonomy lets the crossing be located by
/// integrating short spans from 0, which stays resolvable when the escape time itself is huge
/// (GF, L = 8: T ≈ 1e23 while the final rise takes O(1) time).
pub type Advance<'a> =
    dyn Fn(&DVector<f64>, f64, Option<&Stop<'_>>, &Settings) -> Result<Trajectory, IntegrationFailure> + 'a;

/// The escape time of a trajectory: the first time `level(y(t)) ≥ 0`, from `level(y0) < 0`, within
/// `horizon`. The run stops at the first accepted step past the level; the crossing inside that
/// step is located by Brent's method on re-integrations from the last step before it (to 1e−14
/// relative in time). Step limits and not reaching the level within `horizon` are errors.
pub fn first_passage(
    advance: &Advance<'_>,
    y0: &DVector<f64>,
    level: &dyn Fn(&DVector<f64>) -> f64,
    horizon: f64,
    settings: &Settings,
) -> Result<Passage, PassageError> {
    if level(y0) >= 0.0 {
        // already on or past the level (e.g. a second coordinate that activated together with the
        // previous one, which a sign flow does): the first passage is at once
        return Ok(Passage { time: 0.0, stats: Stats::default(), state: y0.clone() });
    }
    let last = RefCell::new((0.0, y0.clone()));
    let watch = |t: f64, y: &DVector<f64>| {
        if level(y) >= 0.0 {
            return true;
        }
        *last.borrow_mut() = (t, y.clone());
        false
    };
    let tr = advance(y0, horizon, Some(&watch), settings)?;
    if !tr.stopped {
        return Err(PassageError::NotReached { horizon, gap: level(tr.last()), stats: tr.stats });
    }
    let (ta, ya) = last.into_inner();
    locate_crossing(advance, ta, &ya, tr.t_end(), level, settings, tr.stats)
}

/// The crossing of `level` inside one step `[ta, tb]`, from the state `ya` at `ta` (`level < 0`
/// there, `≥ 0` at the step's end tb): Brent's method on re-integrations from `ya` (to 1e−14
/// relative in time), then the state at the root by one more. `stats` is the work so far; the
/// passage's statistics add the location's.
pub fn locate_crossing(
    advance: &Advance<'_>,
    ta: f64,
    ya: &DVector<f64>,
    tb: f64,
    level: &dyn Fn(&DVector<f64>) -> f64,
    settings: &Settings,
    stats: Stats,
) -> Result<Passage, PassageError> {
    let mut stats = stats;
    let work = Cell::new(Stats::default());
    let failed = RefCell::new(None);
    let probe = |tau: f64| -> f64 {
        if tau <= ta {
            return level(ya);
        }
        match advance(ya, tau - ta, None, settings) {
            Ok(p) => {
                let mut w = work.get();
                w += p.stats;
                work.set(w);
                level(p.last())
            }
            Err(e) => {
                *failed.borrow_mut() = Some(e);
                f64::NAN
            }
        }
    };
    // the end of Brent's final bracket where the level is reached: the returned state satisfies
    // `level ≥ 0`, as a stop condition at a step's end does
    let root = brent_bracket(probe, ta, tb, 1e-14 * tb.abs().max(1e-300)).map(|r| r.nonnegative_end());
    stats += work.get();
    if let Some(mut e) = failed.into_inner() {
        e.stats = stats;
        return Err(e.into());
    }
    let time = root.map_err(|e| PassageError::Location(e.to_string()))?;
    // the state at the crossing (Brent's last evaluation need not be at the returned root)
    let state = if time > ta {
        let p = advance(ya, time - ta, None, settings).map_err(|mut e| {
            e.stats += stats;
            e
        })?;
        stats += p.stats;
        p.last().clone()
    } else {
        ya.clone()
    };
    Ok(Passage { time, stats, state })
}

/// The general escape integral `T(α) = ∫_α^{x_1^{1/L}} da / (|f'(a^L)|^{q−1} a^{(L−1)(q−1)})` of a
/// balanced depth-L steepest flow on a scalar loss with `f' < 0` on the way (a = |w_i|). Computed in
/// `u = ln a` (`dT = a^{1−(L−1)(q−1)} / |f'(a^L)|^{q−1} du`, smooth) by the 20-point Gauss–Legendre
/// rule on panels of width ≤ 1/4 in u.
pub fn escape_integral(depth: usize, q: f64, alpha: f64, level: f64, fprime: impl Fn(f64) -> f64) -> f64 {
    let l = depth as f64;
    let (u0, u1) = (alpha.ln(), level.ln() / l);
    let k = 1.0 - (l - 1.0) * (q - 1.0);
    let panels = ((u1 - u0).abs() * 4.0).ceil().max(1.0) as usize;
    let h = (u1 - u0) / panels as f64;
    let mut f = |u: f64| (k * u).exp() / fprime((l * u).exp()).abs().powf(q - 1.0);
    (0..panels).map(|i| gauss_legendre(&mut f, u0 + i as f64 * h, u0 + (i + 1) as f64 * h)).sum()
}

/// The value x after K steps of the discrete steepest method (GD q = 2, SignGD q = 1) on
/// `F(w) = −γ ∏ w_i` from balanced `w_i = α`: `a ← a + η φ_q(γ a^{L−1})`, `x = a^L` (capped at
/// 1e300 once it overflows).
pub fn discrete_level(depth: usize, q: f64, alpha: f64, gamma: f64, eta: f64, steps: usize) -> f64 {
    let mut a = alpha;
    for _ in 0..steps {
        a += eta * (gamma * a.powi(depth as i32 - 1)).powf(q - 1.0);
        // (cargo-mutants: `>=` is equivalent: a landing exactly on 1e300 is a tie of measure zero)
        if !a.is_finite() || a > 1e300 {
            return 1e300;
        }
    }
    a.powi(depth as i32)
}

/// The number of discrete steps until `x ≥ x_1` (None after `max_steps`).
pub fn discrete_steps(p: &LinearEscape, alpha: f64, eta: f64, max_steps: usize) -> Option<usize> {
    let (l, mut a) = (p.depth as i32, alpha);
    for k in 0..=max_steps {
        if a.powi(l) >= p.level {
            return Some(k);
        }
        a += eta * (p.gamma * a.powi(l - 1)).powf(p.q - 1.0);
    }
    None
}

/// The smallest step size η with which K discrete steps reach `x_1`: the root of the continuous,
/// increasing `η ↦ x_K(η) − x_1`, by the one root finder (bracket from `(x_1^{1/L} − α)/K` down
/// and up by factors of 2).
pub fn min_step_size(p: &LinearEscape, alpha: f64, steps: usize) -> Result<f64, crate::roots::RootError> {
    let g = |eta: f64| discrete_level(p.depth, p.q, alpha, p.gamma, eta, steps).ln() - p.level.ln();
    let (mut lo, mut hi) = (1e-3 / steps as f64, 1.0 / steps as f64);
    while g(lo) >= 0.0 && lo > 1e-300 {
        lo *= 0.5;
    }
    while g(hi) < 0.0 && hi < 1e300 {
        hi *= 2.0;
    }
    brent(g, lo, hi, 1e-15 * hi)
}

/// THEORY §8: the exact smallest GD step for L = 2 and K steps, `η* = ((x_1/α²)^{1/(2K)} − 1)/γ`
/// (`a_{k+1} = a_k(1 + ηγ)`).
pub fn exact_gd_step_depth2(alpha: f64, gamma: f64, level: f64, steps: usize) -> f64 {
    ((level / (alpha * alpha)).ln() / (2.0 * steps as f64)).exp_m1() / gamma
}

/// The growth exponent measured from escape times on a sweep: the least-squares slope of
/// `ln(ΔT/Δln(1/α))` against the mid-point `ln(1/α)` of consecutive α. For the linear loss and
/// geometric α this is exactly `κ = q(L−1) − L` (the increments are `∝ α^{−κ}`); its sign is the
/// regime.
pub fn increment_exponent(alphas: &[f64], times: &[f64]) -> Fit {
    let pts: Vec<(f64, f64)> = alphas
        .windows(2)
        .zip(times.windows(2))
        .map(|(a, t)| {
            let (la, lb) = ((1.0 / a[0]).ln(), (1.0 / a[1]).ln());
            (0.5 * (la + lb), ((t[1] - t[0]) / (lb - la)).abs().ln())
        })
        .collect();
    fit_line(&pts)
}

/// The most scales one sweep may take (a budget).
pub const MAX_SWEEP: usize = 10_000;

/// Log-spaced α from `"first:last:count"` (e.g. `1e-1:1e-6:11`).
pub fn parse_alphas(spec: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() != 3 {
        return Err(format!("expected first:last:count, got '{spec}'"));
    }
    let num = |s: &str| s.trim().parse::<f64>().map_err(|_| format!("'{s}' is not a number"));
    let (a, b) = (num(parts[0])?, num(parts[1])?);
    let n: usize = parts[2].trim().parse().map_err(|_| format!("'{}' is not a count", parts[2]))?;
    if !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0) {
        return Err(format!("scales must be positive, got {a} and {b}"));
    }
    if n < 2 {
        return Err(format!("need at least 2 scales, got {n}"));
    }
    if n > MAX_SWEEP {
        return Err(format!("{n} scales exceed the budget of {MAX_SWEEP} per sweep"));
    }
    // rounded to 12 significant digits so that decades print as 1e-4, not 1.0000000000000009e-4
    Ok((0..n).map(|i| round_sig((a.ln() + (b.ln() - a.ln()) * i as f64 / (n - 1) as f64).exp(), 12)).collect())
}

/// One row of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// The initial scale.
    pub alpha: f64,
    /// The closed form.
    pub closed_form: f64,
    /// The integrated escape time, or why it is missing.
    pub integrated: Result<Passage, String>,
}

/// A sweep over α with its fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// The rows, in the order of the α given.
    pub rows: Vec<SweepRow>,
    /// T against ln(1/α) (integrated times; closed form where integration failed is not used).
    pub linear: Option<Fit>,
    /// ln T against ln(1/α).
    pub power: Option<Fit>,
    /// The growth exponent of the increments (see [`increment_exponent`]).
    pub increments: Option<Fit>,
}

/// Escape times over α in parallel (rayon); `tick` is called once per finished α. Fits use the
/// integrated times and are `None` if any integration failed (no mixing of routes).
pub fn sweep(p: &LinearEscape, alphas: &[f64], settings: &Settings, tick: &(dyn Fn() + Sync)) -> Sweep {
    let rows: Vec<SweepRow> = alphas
        .par_iter()
        .map(|&alpha| {
            let row = SweepRow {
                alpha,
                closed_form: p.closed_form(alpha),
                integrated: p.integrated(alpha, settings).map_err(|e| e.to_string()),
            };
            tick();
            row
        })
        .collect();
    let times: Option<Vec<f64>> = rows.iter().map(|r| r.integrated.as_ref().ok().map(|x| x.time)).collect();
    let (linear, power, increments) = match times {
        Some(t) if t.len() >= 2 => {
            let lin: Vec<(f64, f64)> = alphas.iter().zip(&t).map(|(a, t)| ((1.0 / a).ln(), *t)).collect();
            let pow: Vec<(f64, f64)> = lin.iter().map(|(x, t)| (*x, t.ln())).collect();
            (Some(fit_line(&lin)), Some(fit_line(&pow)), (t.len() >= 3).then(|| increment_exponent(alphas, &t)))
        }
        _ => (None, None, None),
    };
    Sweep { rows, linear, power, increments }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(depth: usize, q: f64) -> LinearEscape {
        LinearEscape { depth, q, gamma: 1.0, level: 0.5 }
    }

    #[test]
    fn closed_forms_reproduce_the_checked_values_of_theory() {
        // THEORY §4 table (γ = 1, x_1 = 0.5, α = 1e-2, 1e-3, 1e-4), given to 3 significant digits
        let table = [
            ((2, 2.0), [4.26, 6.56, 8.86]),
            ((3, 2.0), [98.7, 998.7, 9998.7]),
            ((2, 1.0), [0.697, 0.706, 0.707]),
            ((3, 1.5), [4.37, 6.68, 8.98]),
        ];
        for ((l, q), values) in table {
            for (alpha, v) in [1e-2, 1e-3, 1e-4].into_iter().zip(values) {
                let t = problem(l, q).closed_form(alpha);
                assert!((t - v).abs() < 0.006 * v, "L={l} q={q} α={alpha}: {t} vs {v}");
            }
        }
        assert_eq!(problem(3, 1.5).regime(), Regime::Logarithmic);
        assert_eq!(problem(3, 2.0).regime(), Regime::Power);
        assert_eq!(problem(2, 1.5).regime(), Regime::Bounded);
    }

    #[test]
    fn quadrature_and_ode_match_the_closed_form() {
        // (8, 2) at α = 1e-4 has T ≈ 1.7e23: the final O(1) rise is below the resolution of t in f64
        // and the integrator reports a step-size underflow (an INCONCLUSIVE in the checks)
        for (l, q, alphas) in [
            (2, 2.0, [1e-1, 1e-4]),
            (3, 1.5, [1e-1, 1e-4]),
            (4, 1.25, [1e-1, 1e-4]),
            (3, 1.0, [1e-1, 1e-4]),
            (8, 2.0, [1e-1, 1e-2]),
        ] {
            let p = problem(l, q);
            for alpha in alphas {
                let exact = p.closed_form(alpha);
                let quad = p.quadrature(alpha);
                assert!((quad - exact).abs() < 1e-12 * exact, "quadrature L={l} q={q} α={alpha}: {quad} vs {exact}");
                let ode = p.integrated(alpha, &Settings::default()).unwrap();
                assert!((ode.time - exact).abs() < 1e-8 * exact, "ODE L={l} q={q} α={alpha}: {} vs {exact}", ode.time);
            }
        }
    }

    #[test]
    fn every_route_carries_the_gradient_scale() {
        // γ ≠ 1 (all other tests use γ = 1, where γ^{q−1} is invisible): closed form, quadrature of
        // the escape integral and the ODE in log-weights are three routes; the ODE runs at the
        // default rtol 1e-10, so 1e-8 relative leaves a factor 100 for the crossing location
        for (l, q, gamma) in [(2, 1.5, 2.5), (3, 2.0, 0.3), (3, 1.0, 3.0), (4, 1.25, 0.5)] {
            let p = LinearEscape { depth: l, q, gamma, level: 0.5 };
            let exact = p.closed_form(1e-2);
            let quad = p.quadrature(1e-2);
            assert!((quad - exact).abs() < 1e-12 * exact, "quadrature L={l} q={q} γ={gamma}: {quad} vs {exact}");
            let ode = p.integrated(1e-2, &Settings::default()).unwrap().time;
            assert!((ode - exact).abs() < 1e-8 * exact, "ODE L={l} q={q} γ={gamma}: {ode} vs {exact}");
        }
    }

    #[test]
    fn side_products_solve_the_balanced_layer_flows_by_hand() {
        // one balanced side, every layer w with ẇ = ±γ^{q−1} w^{(L−1)(q−1)}, solved by hand:
        // (L, q) = (2, 2): w = αe^{±γt}; (3, 2): w = α/(1 ∓ γαt) (blows up at 1/(γα) pushed up);
        // (2, 1) and (3, 1): w = α ± t (pushed down: 0 from t = α on); (2, 1.5): √w = √α ± √γ t/2.
        // Only rounding separates the two routes: 1e-12 relative
        let (alpha, gamma) = (0.2f64, 0.7f64);
        let side = |l: usize, q: f64, sign: f64, t: f64| {
            LinearEscape { depth: l, q, gamma, level: 1.0 }.side_product(alpha, sign, t)
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        for t in [0.0, 0.1, 1.3] {
            for sign in [1.0, -1.0] {
                let w = alpha * (sign * gamma * t).exp();
                assert!(close(side(2, 2.0, sign, t), w * w), "(2, 2) t={t} sign={sign}");
                let w = alpha / (1.0 - sign * gamma * alpha * t);
                assert!(close(side(3, 2.0, sign, t), w.powi(3)), "(3, 2) t={t} sign={sign}");
                let t = t.min(0.4);
                let w = (alpha.sqrt() + sign * gamma.sqrt() * t / 2.0).powi(2);
                assert!(close(side(2, 1.5, sign, t), w * w), "(2, 1.5) t={t} sign={sign}");
            }
            let w = alpha + t;
            assert!(close(side(2, 1.0, 1.0, t), w * w) && close(side(3, 1.0, 1.0, t), w.powi(3)));
        }
        let w = alpha - 0.15;
        assert!(close(side(2, 1.0, -1.0, 0.15), w * w) && close(side(3, 1.0, -1.0, 0.15), w.powi(3)));
        // a side pushed down through 0 rests there; one pushed up past its blow-up is +∞
        assert_eq!(side(2, 1.0, -1.0, 0.5), 0.0);
        assert_eq!(side(3, 1.0, -1.0, 0.5), 0.0);
        assert_eq!(side(3, 2.0, 1.0, 1.0 / (gamma * alpha) + 1.0), f64::INFINITY);
    }

    #[test]
    fn two_sided_times_solve_the_difference_of_sides_by_hand() {
        // (2, 2): α²(e^{2γT} − e^{−2γT}) = x_1, T = asinh(x_1/(2α²))/(2γ); (2, 1): (α + T)² − (α − T)²
        // = 4αT while T ≤ α, (α + T)² after (the lower side rests at 0). Brent to 1e-15·T₁: 1e-12
        let (alpha, gamma) = (0.1f64, 0.7f64);
        let p = LinearEscape { depth: 2, q: 2.0, gamma, level: 0.5 };
        let want = (0.5 / (2.0 * alpha * alpha)).asinh() / (2.0 * gamma);
        assert!((p.two_sided_closed_form(alpha) - want).abs() < 1e-12 * want, "{}", p.two_sided_closed_form(alpha));
        let p = LinearEscape { depth: 2, q: 1.0, gamma, level: 1.0 };
        assert!((p.two_sided_closed_form(alpha) - 0.9).abs() < 1e-12);
        let p = LinearEscape { depth: 2, q: 1.0, gamma, level: 0.02 };
        assert!((p.two_sided_closed_form(alpha) - 0.05).abs() < 1e-12);
        // a steep drive, γ = 1e9 (T ≈ 2.4e-10, x_1 = α² = 1: no cancellation in p₊ − p₋): Brent's
        // tolerance is relative to the bracket T₁, so the time is still good to 1e-12 relative
        let p = LinearEscape { depth: 2, q: 2.0, gamma: 1e9, level: 1.0 };
        let want = 0.5f64.asinh() / 2e9;
        assert!((p.two_sided_closed_form(1.0) - want).abs() < 1e-12 * want, "{}", p.two_sided_closed_form(1.0));
    }

    #[test]
    fn imbalanced_times_follow_the_conserved_imbalance_by_hand() {
        // (L, q) = (2, 2): u² − v² = λ is conserved and ẋ = γ(u² + v²) = γ√(λ² + 4x²), so T =
        // (asinh(2x_1/λ) − asinh(2x_0/λ))/(2γ), x_0 = α√(α² + λ); (2, 1): u = α + λ + t, v = α + t, so
        // T = (√(λ² + 4x_1) − 2α − λ)/2. Quadrature to ≈1e-13: 1e-10 relative
        let (alpha, balance, gamma, level) = (0.05f64, 0.3f64, 1.7f64, 2.0f64);
        let p = ImbalancedEscape { depth: 2, q: 2.0, alpha, balance, gamma };
        let w0 = p.w0();
        assert!((w0[0] - (alpha * alpha + balance).sqrt()).abs() < 1e-15 && w0[1] == alpha && w0.len() == 2);
        let x0 = alpha * (alpha * alpha + balance).sqrt();
        let want = ((2.0 * level / balance).asinh() - (2.0 * x0 / balance).asinh()) / (2.0 * gamma);
        assert!((p.quadrature(level) - want).abs() < 1e-10 * want, "{} vs {want}", p.quadrature(level));
        let p = ImbalancedEscape { depth: 2, q: 1.0, alpha, balance, gamma };
        assert!((p.w0()[0] - (alpha + balance)).abs() < 1e-15);
        let want = ((balance * balance + 4.0 * level).sqrt() - 2.0 * alpha - balance) / 2.0;
        assert!((p.quadrature(level) - want).abs() < 1e-10 * want, "{} vs {want}", p.quadrature(level));
        let p = ImbalancedEscape { depth: 3, q: 2.0, alpha, balance, gamma };
        assert_eq!(p.w0().as_slice(), &[(alpha * alpha + balance).sqrt(), alpha, alpha]);
    }

    #[test]
    fn blow_up_time_is_the_log_weight_flow_plus_its_tail() {
        // m > 1: the parameter flow in log-weights (Sundman time) to x = 1e150 plus the analytic
        // tail against T* = x_0^{1−m}/(L(m−1)γ^{q−1}); the tail beyond 1e150 is ≤ 1e-50·T*, so the
        // agreement is the ODE's (rtol 1e-10, 1e-8 with the crossing)
        for (l, q, gamma) in [(3, 2.0, 1.0), (4, 2.0, 0.5), (3, 1.75, 2.0)] {
            let p = LinearEscape { depth: l, q, gamma, level: 1e150 };
            let t_star = p.blow_up_time(0.3).expect("m > 1 blows up");
            let ode = p.integrated_in_log_weights(0.3, &Settings::default()).unwrap().time + p.tail(1e150);
            assert!((ode - t_star).abs() < 1e-8 * t_star, "L={l} q={q} γ={gamma}: {ode} vs {t_star}");
            // the tail is the closed-form time between two levels: T(x_b) − T(x_a) = tail(x_a) − tail(x_b)
            let between = |a: f64, b: f64| {
                LinearEscape { level: b, ..p }.closed_form(0.3) - LinearEscape { level: a, ..p }.closed_form(0.3)
            };
            let (a, b) = (2.0, 50.0);
            assert!((between(a, b) - (p.tail(a) - p.tail(b))).abs() < 1e-12 * p.tail(a));
        }
        // m within 1e-12 of 1, the edge included, counts as m = 1 (no blow-up), as the measured side
        // of escape/blow-up does (`m > 1 + 1e-12`): L = 2, q = 2(1 + 1e-12) gives m = 1 + 1e-12 exactly
        let edge = LinearEscape { depth: 2, q: 2.0 * (1.0 + 1e-12), gamma: 1.0, level: 1.0 };
        assert_eq!(edge.exponent(), 1.0 + 1e-12);
        assert_eq!(edge.blow_up_time(0.3), None);
        assert!(LinearEscape { q: 2.0 * (1.0 + 4e-12), ..edge }.blow_up_time(0.3).is_some());
        for (l, q) in [(2, 2.0), (3, 1.5), (3, 1.0), (5, 1.0)] {
            assert_eq!(
                LinearEscape { depth: l, q, gamma: 1.0, level: 1.0 }.blow_up_time(0.3),
                None,
                "m ≤ 1: L={l} q={q}"
            );
        }
    }

    #[test]
    fn coercive_quadrature_is_the_parameter_flow() {
        // w = (0, λ, …, λ): quadrature of R'' (layer magnitudes root-found) against the ODE in w;
        // both ≈ 1e-10 relative, so 1e-8
        for (l, q, lambda, gamma) in [(2, 2.0, 0.5, 2.5), (3, 1.5, 2.0, 0.3), (4, 1.0, 0.7, 3.0)] {
            let c = CoerciveEscape { depth: l, q, lambda, gamma };
            let quad = c.quadrature(0.5);
            let ode = c.integrated(0.5, &Settings::default()).unwrap().time;
            assert!((quad - ode).abs() < 1e-8 * ode, "L={l} q={q} λ={lambda} γ={gamma}: {quad} vs {ode}");
            assert!(ode <= 0.5 / (c.mu() * gamma.powf(q - 1.0)) * (1.0 + 1e-9), "the bound x_1/(μγ^(q−1))");
        }
    }

    #[test]
    fn escape_integral_resolves_a_fast_integrand() {
        // f'(x) = −γ/(1 + x)², q = 2, L = 2: the integrand in u = ln a is (1 + e^{2u})²/γ, so
        // T = [u + e^{2u} + e^{4u}/4]_{ln α}^{ln √x_1} / γ; from α = 1e-3 to x_1 = 1e6 the integrand
        // grows like e^{4u} over 14 units of u (panels of width 1/4 keep Gauss–Legendre exact to rounding)
        let (gamma, alpha, level) = (2.0, 1e-3_f64, 1e6_f64);
        let antiderivative = |u: f64| u + (2.0 * u).exp() + (4.0 * u).exp() / 4.0;
        let exact = (antiderivative(level.ln() / 2.0) - antiderivative(alpha.ln())) / gamma;
        let quad = escape_integral(2, 2.0, alpha, level, |x| -gamma / (1.0 + x).powi(2));
        assert!((quad - exact).abs() < 1e-12 * exact, "{quad} vs {exact}");
    }

    #[test]
    fn escape_integral_panels_resolve_an_oscillating_integrand() {
        // L = 2, q = 2 and f'(x) = −1/(2 + cos(ω ln(x)/2)): the integrand in u = ln a is 2 + cos(ωu),
        // so T = 2Δu + (sin ωu₁ − sin ωu₀)/ω. Panels of width 1/4 keep 20-point Gauss–Legendre exact
        // to rounding for ω = 80 (its error ∝ (ωw/2)^40/40!-like: ≈ 1e-20 at ωw/2 = 10), while panels
        // wider than ≈ 1/2 are not (≈ 1e-4 at ωw/2 = 25): the panel count is part of the result
        let omega = 80.0;
        let (u0, u1) = (-10.0, 10.0);
        let fprime = |x: f64| -1.0 / (2.0 + (omega * x.ln() / 2.0).cos());
        let exact = 2.0 * (u1 - u0) + ((omega * u1).sin() - (omega * u0).sin()) / omega;
        let quad = escape_integral(2, 2.0, u0.exp(), (2.0 * u1).exp(), fprime);
        assert!((quad - exact).abs() < 1e-12 * exact, "{quad} vs {exact}");
    }

    #[test]
    fn discrete_level_is_capped_once_it_passes_1e300() {
        // GD at L = 2 multiplies a by 1 + ηγ = 11: from α = 1e299 one step gives a = 1.1e300, past
        // the cap, so x is reported as 1e300 instead of a² = ∞
        assert_eq!(discrete_level(2, 2.0, 1e299, 1.0, 10.0, 1), 1e300);
        assert_eq!(discrete_level(2, 2.0, 1e-3, 1.0, 10.0, 1), (11e-3f64).powi(2));
    }

    #[test]
    fn discrete_steps_follow_the_geometric_growth_of_gd() {
        // GD at L = 2 on f = −γx: a_{k+1} = (1 + ηγ) a_k, so K = ⌈ln(√x_1/α)/ln(1 + ηγ)⌉
        for (gamma, eta, alpha) in [(1.0, 0.01, 0.1), (2.5, 0.003, 1e-3)] {
            let p = LinearEscape { depth: 2, q: 2.0, gamma, level: 0.5 };
            let k = ((0.5f64.sqrt() / alpha).ln() / (eta * gamma).ln_1p()).ceil() as usize;
            assert_eq!(discrete_steps(&p, alpha, eta, 100_000), Some(k), "γ={gamma} η={eta} α={alpha}");
        }
    }

    #[test]
    fn exact_gd_step_is_the_root_of_the_discrete_map() {
        let p = problem(2, 2.0);
        for alpha in [1e-2, 1e-5] {
            let eta = min_step_size(&p, alpha, 100).unwrap();
            let exact = exact_gd_step_depth2(alpha, 1.0, 0.5, 100);
            assert!((eta - exact).abs() < 1e-10 * exact, "{eta} vs {exact}");
        }
        assert_eq!(discrete_steps(&problem(2, 1.0), 0.1, 0.01, 1000), Some(61));
        // ⌈(√0.5 − 0.1)/0.01⌉
    }

    #[test]
    fn increments_give_the_growth_exponent() {
        let alphas = parse_alphas("1e-1:1e-6:6").unwrap();
        for (l, q) in [(2, 2.0), (3, 2.0), (3, 1.25), (2, 1.0)] {
            let p = problem(l, q);
            let t: Vec<f64> = alphas.iter().map(|a| p.closed_form(*a)).collect();
            let k = increment_exponent(&alphas, &t).slope;
            assert!((k - growth_exponent(l, q)).abs() < 1e-9, "L={l} q={q}: {k}");
        }
        // the logarithmic regime (L = 2, q = 2): T is affine in ln(1/α), so the increments per unit of
        // ln(1/α) are equal and the slope is 0 for any spacing of α, not only a geometric one
        let uneven = [1e-1, 1e-2, 1e-4, 1e-7];
        let p = problem(2, 2.0);
        let t: Vec<f64> = uneven.iter().map(|a| p.closed_form(*a)).collect();
        assert!(increment_exponent(&uneven, &t).slope.abs() < 1e-9, "{:?}", increment_exponent(&uneven, &t));
        assert!(parse_alphas("1e-1:0:3").is_err() && parse_alphas("1e-1:1e-2").is_err());
    }

    #[test]
    fn unresolvable_time_is_an_error() {
        // GF, L = 8, α = 1e-4: T ≈ 1.7e23, the final O(1) rise is below the spacing of f64 times
        let p = problem(8, 2.0);
        assert!(p.integrated(1e-4, &Settings::default()).is_err());
    }
}
