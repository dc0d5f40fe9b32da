//! `weight-decay/decoupled-regulariser`: with a balanced initialisation the imbalance stays 0 under
//! decoupled decay (THEORY §2), every layer is `|x|^{1/L}`, and the chain rule gives
//! `ẋ = −L|x|^m φ_q(g) − μLx` with `m = q(L−1)/L`. With `R''(x) = |x|^{−m}/L`:
//!
//! ```text
//! d/dt R'(x) = −φ_q(∇f(x)) − μ M'(x),   M(x) = Σ |x|^{2−m}/(2−m),   M'(x) = sign(x)|x|^{1−m}
//! ```
//!
//! (THEORY §9, the paper's Table 1 / Ex. 4.17: decoupled decay acts as the regulariser M in mirror
//! space). Routes, per grid point (seeded over-determined regression with a dense positive teacher,
//! started at α close to it so x stays in the interior x > 0 of the one-sided model):
//! 1. *trajectory*: the parameter flow in w (q = 1: the event-driven sign engine with decay) and
//!    the mirror-space ODE in `z = R'(x)` with the claimed M (q = 1: Filippov sliding on `g = 0`),
//!    integrated independently, agree at every sample time;
//! 2. *exponents*: the regulariser exponent `2 − m` measured from the model's own mirror gain
//!    `h = 1/R''` (the log-slope of h along the balanced manifold, at L = 2 and, by Richardson
//!    extrapolation in 1/L from L = 1000, 2000, as L → ∞) against the claimed exponent (Table 1:
//!    GF L = 2 → ℓ1, GF L → ∞ → log, SignGF L = 2 → ℓ_{3/2}, SignGF L → ∞ → ℓ1).
//!
//! Knobs that move the prediction: `regulariser = coupled` (the claimed M with coupled decay's
//! exponent 2/L) and `exponent_shift` δ (the claimed m replaced by m + δ).

use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, finite, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::geometry::{mirror_exponent, sign, steepest_map};
use crate::ode::{integrate, sample_times, IntegrationFailure, Settings, Trajectory};
use crate::potential::{Balanced, Potential};
use crate::problem::{check_size, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::switching::{integrate_switched, Switched};
use crate::verdict::{round_sig, worst, Evidence};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which exponent the claimed mirror-space regulariser `M = Σ|x|^k/k` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Regulariser {
    /// `k = 2 − m`, `m = q(L−1)/L` (the theory, THEORY §9).
    Decoupled,
    /// `k = 2/L`, coupled decay's regulariser (THEORY §6) claimed for decoupled decay (a wrong
    /// claim unless q = 2, where the two coincide).
    Coupled,
}

fn decoupled() -> Regulariser {
    Regulariser::Decoupled
}
fn one_u64() -> u64 {
    1
}
fn eight() -> usize {
    8
}
fn five() -> usize {
    5
}
fn forty() -> usize {
    40
}

/// Decoupled decay with balanced init is the mirror flow with the extra drift `−μM'(x)`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecoupledRegulariser {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Decoupled weight decay μ > 0.
    pub weight_decay: f64,
    /// Balanced initial scale α > 0 (every weight α, x_0 = α^L).
    pub alpha: f64,
    /// Seed of the regression (`y = A x*`, x* with entries in [1, 2]).
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n (n ≥ d keeps the least-squares solution x* > 0 unique).
    #[serde(default = "eight")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "five")]
    pub dim: usize,
    /// Horizon: the trajectories are compared at `sample_times` equally spaced times in (0, t_end].
    pub t_end: f64,
    /// Number of compared sample times (10 … 1000).
    #[serde(default = "forty")]
    pub sample_times: usize,
    /// The claimed regulariser's exponent (theory: `decoupled`, k = 2 − m).
    #[serde(default = "decoupled")]
    pub regulariser: Regulariser,
    /// The claimed m replaced by m + δ in M (default 0: the theory).
    pub exponent_shift: Option<f64>,
}

/// The mirror-space ODE `ż = −φ_q(∇f(x)) − μ sign(x)|x|^{k−1}`, `z = R'(x)` of the balanced
/// potential, with a claimed regulariser exponent k. For q = 1 it is a switched system on
/// `σ = ∇f(x)`: `σ̇ = ∇²f ẋ = ∇²f diag(1/R'')(−s − μM'(x))`.
pub struct RegularisedMirror<'a> {
    /// The data.
    pub problem: &'a Problem,
    /// The balanced potential R of depth L and exponent q.
    pub potential: Balanced,
    /// q.
    pub q: f64,
    /// μ.
    pub mu: f64,
    /// The claimed exponent k of `M = Σ|x|^k/k`.
    pub k: f64,
}

impl RegularisedMirror<'_> {
    /// x from the dual state z.
    pub fn x(&self, z: &DVector<f64>) -> DVector<f64> {
        z.map(|v| self.potential.grad_inverse(v))
    }

    /// `μ M'(x) = μ sign(x)|x|^{k−1}`.
    fn drift(&self, x: &DVector<f64>) -> DVector<f64> {
        x.map(|v| self.mu * sign(v) * v.abs().powf(self.k - 1.0))
    }

    /// Integrates from `x0 > 0` through `times`, stopping when a coordinate leaves x > 0.
    pub fn run(&self, x0: &DVector<f64>, times: &[f64], settings: &Settings) -> Result<Trajectory, IntegrationFailure> {
        let z0 = x0.map(|v| self.potential.grad(v));
        let stop = |_t: f64, z: &DVector<f64>| self.x(z).iter().any(|v| v.is_nan() || *v <= 0.0);
        if self.q == 1.0 {
            return integrate_switched(self, &z0, 0.0, times, Some(&stop), settings);
        }
        let rhs = |_t: f64, z: &DVector<f64>, dz: &mut DVector<f64>| {
            let x = self.x(z);
            let g = self.problem.gradient(&x);
            *dz = g.map(|v| -steepest_map(self.q, v)) - self.drift(&x);
        };
        let s = Settings { stiff_after: 0, ..*settings };
        integrate(&rhs, &z0, 0.0, times, Some(&stop), &s)
    }
}

impl Switched for RegularisedMirror<'_> {
    fn sigma(&self, z: &DVector<f64>) -> DVector<f64> {
        self.problem.gradient(&self.x(z))
    }

    fn rate(&self, z: &DVector<f64>, s: &DVector<f64>, dz: &mut DVector<f64>) {
        *dz = -s - self.drift(&self.x(z));
    }

    fn sigma_rate(&self, z: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let x = self.x(z);
        let gain = x.map(|v| 1.0 / self.potential.hess(v));
        let hg = self.problem.hessian(&x) * DMatrix::from_diagonal(&gain);
        (-(&hg * self.drift(&x)), -hg)
    }
}

/// The exponent `m` of `R'' ∝ |x|^{−m}` measured from the model's mirror gain `h = Σ_i ∏_{j≠i}|w_j|^q`
/// on the balanced manifold `|w_i| = x^{1/L}`: `m = ln(h(x_2)/h(x_1)) / ln(x_2/x_1)` at x = 0.5, 2.
pub fn gain_exponent(depth: usize, q: f64) -> f64 {
    let model = DeepDiagonal::new(depth, 1);
    let h = |x: f64| {
        let w = DVector::from_element(depth, x.powf(1.0 / depth as f64));
        model.gain(&w, q)[0]
    };
    (h(2.0) / h(0.5)).ln() / 4f64.ln()
}

/// The regulariser exponent `2 − m` from the gain, at depth L.
pub fn measured_exponent(depth: usize, q: f64) -> f64 {
    2.0 - gain_exponent(depth, q)
}

/// `lim_{L→∞} (2 − m_L)` by Richardson extrapolation in 1/L from L = 1000 and 2000 (exact for
/// `m_L = q − q/L`; otherwise error O(1/L²) ≈ 1e−7).
pub fn measured_exponent_limit(q: f64) -> f64 {
    2.0 * measured_exponent(2000, q) - measured_exponent(1000, q)
}

/// A name for a regulariser exponent k: `log` at 0, `ℓ1` at 1, else `ℓ_k`.
fn norm_name(k: f64) -> String {
    if k.abs() < 1e-9 {
        "log".into()
    } else if (k - 1.0).abs() < 1e-9 {
        "ℓ1".into()
    } else {
        format!("ℓ_{}", round_sig(k, 4))
    }
}

impl DecoupledRegulariser {
    /// The claimed exponent k of M at depth L (`None`: L → ∞).
    fn claimed(&self, depth: Option<usize>) -> f64 {
        let shift = self.exponent_shift.unwrap_or(0.0);
        match (self.regulariser, depth) {
            (Regulariser::Decoupled, Some(l)) => 2.0 - mirror_exponent(l, self.q) - shift,
            (Regulariser::Decoupled, None) => 2.0 - self.q - shift,
            (Regulariser::Coupled, Some(l)) => 2.0 / l as f64 - shift,
            (Regulariser::Coupled, None) => -shift,
        }
    }

    fn setup(&self) -> InputResult<(Problem, DeepDiagonal, DVector<f64>)> {
        crate::error::check_depth("depth", self.depth as i64)?;
        check_q("q", self.q)?;
        check_positive("alpha", self.alpha)?;
        check_size(self.samples, self.dim)?;
        if self.samples < self.dim {
            return Err(InputError::new("samples", "n ≥ d keeps the positive least-squares solution unique"));
        }
        let problem = Problem::random_regression(self.seed, self.samples, self.dim, self.dim);
        let model = DeepDiagonal::new(self.depth, self.dim);
        let w0 = model.init(&Initialization::balanced(self.alpha, self.depth), self.q)?;
        Ok((problem, model, w0))
    }
}

impl Claim for DecoupledRegulariser {
    const ID: &'static str = "weight-decay/decoupled-regulariser";
    type Tolerance = RegulariserTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("weight_decay", self.weight_decay)?;
        crate::checks::balance::check_horizon(self.t_end)?;
        if !(10..=1000).contains(&self.sample_times) {
            return Err(InputError::new("sample_times", format!("must lie in [10, 1000], got {}", self.sample_times)));
        }
        if let Some(d) = self.exponent_shift {
            finite("exponent_shift", d)?;
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &RegulariserTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (problem, model, w0) = self.setup()?;
        let (q, mu) = (self.q, self.weight_decay);
        let settings = numerics.settings();
        let times = sample_times(self.t_end, self.sample_times);
        let k = self.claimed(Some(self.depth));
        let mut rows = Vec::new();
        // 1. trajectories
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::Decoupled(mu) };
        let mirror = RegularisedMirror { problem: &problem, potential: Balanced::new(self.depth, q), q, mu, k };
        let route_w = if q == 1.0 { "sign engine in w (decoupled decay)" } else { "ODE in w (decoupled decay)" };
        let route_z = format!("ODE in z = R'(x): ż = −φ_q(g) − μ sign(x)|x|^(k−1), k = {}", round_sig(k, 6));
        let stop_w = |_t: f64, w: &DVector<f64>| w.iter().any(|v| v.is_nan() || *v <= 0.0);
        let x0 = model.x(&w0);
        let (tw, tz) = match (flow.run(&w0, &times, Some(&stop_w), &settings), mirror.run(&x0, &times, &settings)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) => return Ok(vec![Evidence::inconclusive(case, "trajectory", route_w, e.to_string())]),
            (_, Err(e)) => return Ok(vec![Evidence::inconclusive(case, "trajectory", &route_z, e.to_string())]),
        };
        let common = (tw.t.len() - tw.stopped as usize).min(tz.t.len() - tz.stopped as usize);
        if common < 10 {
            let reason = format!(
                "only {common} samples before x left the interior x > 0 (t = {:.3})",
                tw.t_end().min(tz.t_end())
            );
            return Ok(vec![Evidence::inconclusive(case, "trajectory", route_w, reason)]);
        }
        let mut dist: f64 = 0.0;
        for (w, z) in tw.y[..common].iter().zip(&tz.y[..common]) {
            let (xw, xz) = (model.x(w), mirror.x(z));
            dist = worst(dist, (&xw - &xz).norm() / xw.norm().max(x0.norm()));
        }
        let mut stats = tw.stats;
        stats += tz.stats;
        let quantity =
            format!("trajectory distance, parameter flow vs mirror ODE, t ∈ [0, {}]", round_sig(tw.t[common - 1], 4));
        rows.push(
            Evidence::with_error(case, &quantity, 0.0, dist, dist, tol.trajectory, &format!("{route_w} vs {route_z}"))
                .with_stats(stats),
        );
        // 2. Table 1 exponents at this q
        let flow_name = if q == 1.0 {
            "SignGF".to_string()
        } else if q == 2.0 {
            "GF".to_string()
        } else {
            format!("q = {q}")
        };
        let route = "log-slope of the model's mirror gain h = 1/R'' on the balanced manifold (L → ∞: Richardson from L = 1000, 2000)";
        for (depth, label, measured) in
            [(Some(2), "L = 2", measured_exponent(2, q)), (None, "L → ∞", measured_exponent_limit(q))]
        {
            let claimed = self.claimed(depth);
            let quantity = format!("{flow_name}, {label}: regulariser exponent 2 − m (claimed {})", norm_name(claimed));
            let err = (claimed - measured).abs();
            rows.push(Evidence::with_error(case, &quantity, claimed, measured, err, tol.exponent, route));
        }
        Ok(rows)
    }
}

/// The tolerances of `weight-decay/decoupled-regulariser`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegulariserTolerance {
    /// Relative trajectory distance between the parameter flow and the mirror-space ODE.
    pub trajectory: f64,
    /// Absolute error of the regulariser exponent 2 − m.
    pub exponent: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_one_exponents_from_the_gain() {
        // GF: L = 2 → 1 (ℓ1), L → ∞ → 0 (log); SignGF: L = 2 → 3/2, L → ∞ → 1 (ℓ1)
        assert!((measured_exponent(2, 2.0) - 1.0).abs() < 1e-12);
        assert!(measured_exponent_limit(2.0).abs() < 1e-9);
        assert!((measured_exponent(2, 1.0) - 1.5).abs() < 1e-12);
        assert!((measured_exponent_limit(1.0) - 1.0).abs() < 1e-9);
    }
}
