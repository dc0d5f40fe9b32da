//! `mirror-flow/perturbed-init`: the reviewers' measure-zero objection (THEORY §9). Balanced and
//! `w_1 = 0` initialisations have measure zero; under a random per-coordinate perturbation
//! `w_{i,k}(0) = α(1 + ε ξ_{i,k})`, `ξ ~ U[−1, 1]` (seeded), every coordinate keeps its own balance
//! constants `λ_{i,k} = |w_{i,k}(0)|^q` (up to a common shift), and the steepest flow is still a
//! mirror flow — with a *separable* potential whose k-th term is the per-layer-constants potential
//! of coordinate k ([`LayerConstants`], THEORY §3). Routes, per grid point (seeded regression):
//! 1. *trajectory*: the parameter flow in w (q = 1: the event-driven sign engine) and the mirror
//!    ODE `ẋ_k = −φ_q(g_k)/R_k''(x_k)` (q = 1: Filippov on `σ = ∇f`) agree at every sample time;
//! 2. *potential*: `R_k''(x_k(t))·h_k(w(t)) = 1` along the w-flow;
//! 3. *escape*: on `f = −γx` (one coordinate, the perturbed layers of coordinate 0) the integrated
//!    time to reach `x_1` equals `(R'(x_1) − R'(x_0))/γ^{q−1}` of the perturbed potential;
//! 4. *degradation* (observations): the relative error of the balanced closed-form escape time
//!    (THEORY §4, [`LinearEscape::closed_form`]) at the nominal α and at `α_eff = x_0^{1/L}`.
//!
//! Knob: `potential = balanced` claims the balanced potential (λ = 0) for the perturbed init.

use super::regression as build_regression;
use crate::checks::{Claim, Numerics};
use crate::error::{check_positive, check_q, InputError, InputResult};
use crate::escape::{first_passage, LinearEscape};
use crate::flow::{run_to_stationarity, Flow, SteepestFlow, WeightDecay};
use crate::geometry::steepest_map;
use crate::ode::{integrate, sample_times, IntegrationFailure, Settings, Stop, Trajectory};
use crate::potential::{Balanced, LayerConstants, Potential};
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use crate::rng::SplitMix64;
use crate::switching::{integrate_switched, Switched};
use crate::verdict::{round_sig, worst, Evidence};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which potential is claimed for the perturbed initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PerturbedPotential {
    /// Per coordinate, the per-layer-constants potential of that coordinate's own constants (the
    /// theory).
    PerCoordinate,
    /// The balanced potential `R'' = |x|^{−m}/L` for every coordinate (λ = 0; wrong for ε > 0).
    Balanced,
}

fn per_coordinate() -> PerturbedPotential {
    PerturbedPotential::PerCoordinate
}
fn one_u64() -> u64 {
    1
}
fn seven() -> u64 {
    7
}
fn three() -> usize {
    3
}
fn five() -> usize {
    5
}
fn thirty() -> usize {
    30
}
fn gamma() -> f64 {
    1.0
}
fn level() -> f64 {
    0.5
}

/// The mirror-flow equivalence under a random per-coordinate imbalance of size ε.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerturbedInit {
    /// Depth L ≥ 2.
    pub depth: usize,
    /// Steepest-descent exponent q ∈ [1, 2].
    pub q: f64,
    /// Nominal initial scale α > 0.
    pub alpha: f64,
    /// Relative perturbation ε ∈ [0, 0.5]: `w_{i,k}(0) = α(1 + ε ξ_{i,k})`, ξ ~ U[−1, 1].
    pub epsilon: f64,
    /// Seed of the perturbation ξ.
    #[serde(default = "seven")]
    pub perturbation_seed: u64,
    /// Seed of the random regression.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n.
    #[serde(default = "three")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "five")]
    pub dim: usize,
    /// Horizon of the trajectory comparison.
    pub t_end: f64,
    /// Number of compared sample times (10 … 1000).
    #[serde(default = "thirty")]
    pub sample_times: usize,
    /// Gradient magnitude γ > 0 of the escape problem `f = −γx`.
    #[serde(default = "gamma")]
    pub gamma: f64,
    /// Escape level `x_1 > x_0`.
    #[serde(default = "level")]
    pub level: f64,
    /// The claimed potential (theory: `per-coordinate`).
    #[serde(default = "per_coordinate")]
    pub potential: PerturbedPotential,
}

/// The tolerances of `mirror-flow/perturbed-init`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerturbedTolerance {
    /// Relative trajectory distance between the parameter flow and the mirror ODE.
    pub trajectory: f64,
    /// `|R''·h − 1|` along the flow.
    pub potential: f64,
    /// Relative error of the escape time against the potential's quadrature.
    pub escape: f64,
}

/// The separable mirror ODE `ẋ_k = −φ_q(g_k)/R_k''(x_k)` with one potential per coordinate; for
/// q = 1 a switched system on `σ = ∇f(x)` with `σ̇ = −∇²f·diag(1/R'')·s`.
pub struct SeparableMirror<'a> {
    /// The data.
    pub problem: &'a Problem,
    /// `R_k`, one per coordinate.
    pub potentials: Vec<Box<dyn Potential>>,
    /// q.
    pub q: f64,
}

impl SeparableMirror<'_> {
    fn gain(&self, x: &DVector<f64>) -> DVector<f64> {
        DVector::from_fn(x.len(), |k, _| 1.0 / self.potentials[k].hess(x[k]))
    }
}

impl Flow for SeparableMirror<'_> {
    fn run(
        &self,
        x0: &DVector<f64>,
        times: &[f64],
        stop: Option<&Stop<'_>>,
        settings: &Settings,
    ) -> Result<Trajectory, IntegrationFailure> {
        if self.q == 1.0 {
            return integrate_switched(self, x0, 0.0, times, stop, settings);
        }
        let rhs = |_t: f64, x: &DVector<f64>, dx: &mut DVector<f64>| {
            let g = self.problem.gradient(x);
            *dx = g.map(|v| -steepest_map(self.q, v)).component_mul(&self.gain(x));
        };
        integrate(&rhs, x0, 0.0, times, stop, &Settings { stiff_after: 0, ..*settings })
    }

    fn predictor(&self, x: &DVector<f64>) -> DVector<f64> {
        x.clone()
    }

    fn loss(&self, x: &DVector<f64>) -> f64 {
        self.problem.loss(x)
    }
}

impl Switched for SeparableMirror<'_> {
    fn sigma(&self, x: &DVector<f64>) -> DVector<f64> {
        self.problem.gradient(x)
    }

    fn rate(&self, x: &DVector<f64>, s: &DVector<f64>, dx: &mut DVector<f64>) {
        *dx = -s.component_mul(&self.gain(x));
    }

    fn sigma_rate(&self, x: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        (DVector::zeros(x.len()), -(self.problem.hessian(x) * DMatrix::from_diagonal(&self.gain(x))))
    }
}

impl PerturbedInit {
    /// The perturbed layer values of every coordinate (layer-major, `w[i·d + k]`).
    fn perturbed(&self, depth: usize, dim: usize) -> DVector<f64> {
        let mut rng = SplitMix64::new(self.perturbation_seed);
        DVector::from_fn(depth * dim, |_, _| self.alpha * (1.0 + self.epsilon * (2.0 * rng.uniform() - 1.0)))
    }

    /// The claimed potential of coordinate k of the initial parameters w0.
    fn potential_of(&self, w0: &DVector<f64>, dim: usize, k: usize) -> Box<dyn Potential> {
        match self.potential {
            PerturbedPotential::Balanced => Box::new(Balanced::new(self.depth, self.q)),
            PerturbedPotential::PerCoordinate => {
                let constants: Vec<f64> = (0..self.depth).map(|i| w0[i * dim + k].abs().powf(self.q)).collect();
                Box::new(LayerConstants::new(self.q, &constants))
            }
        }
    }

    /// Rows 3 and 4: the escape time of coordinate 0's perturbed layers on `f = −γx`.
    fn escape_rows(&self, case: &str, w0: &DVector<f64>, dim: usize, tol: f64, settings: &Settings) -> Vec<Evidence> {
        let (l, q, gamma) = (self.depth, self.q, self.gamma);
        let layers: DVector<f64> = DVector::from_fn(l, |i, _| w0[i * dim]);
        let x0: f64 = layers.iter().product();
        let route = "parameter flow ẇ_i = γ^(q−1)|∏_{j≠i} w_j|^(q−1) from the perturbed layers, first passage";
        if self.level <= x0 {
            return vec![Evidence::inconclusive(case, "escape time", route, format!("level ≤ x_0 = {x0}"))];
        }
        let g = gamma.powf(q - 1.0);
        let rhs = move |_t: f64, w: &DVector<f64>, dw: &mut DVector<f64>| {
            for i in 0..w.len() {
                let others: f64 = w.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, v)| v).product();
                dw[i] = g * others.abs().powf(q - 1.0);
            }
        };
        let target = self.level;
        let reached = move |w: &DVector<f64>| w.iter().product::<f64>() - target;
        let potential = self.potential_of(w0, dim, 0);
        let predicted = (potential.grad(self.level) - potential.grad(x0)) / g;
        let horizon = 4.0 * predicted.abs() + 10.0;
        let advance =
            |y: &DVector<f64>, dt: f64, stop: Option<&Stop<'_>>, s: &Settings| integrate(&rhs, y, 0.0, &[dt], stop, s);
        let passage = match first_passage(&advance, &layers, &reached, horizon, settings) {
            Ok(p) => p,
            Err(e) => return vec![Evidence::inconclusive(case, "escape time", route, e.to_string())],
        };
        let measured = passage.time;
        let quantity = format!("escape time to x_1 = {} vs (R'(x_1) − R'(x_0))/γ^(q−1)", self.level);
        let law = LinearEscape { depth: l, q, gamma, level: self.level };
        // reported to 3 significant digits: at ε = 1e−3 the α_eff error (≈ 4e−9) is within 1e−2 of
        // its value of the integration noise (≈ 1e−11)
        let nominal = law.closed_form(self.alpha);
        let effective = law.closed_form(x0.powf(1.0 / l as f64));
        vec![
            Evidence::compare(
                case,
                &quantity,
                predicted,
                measured,
                tol,
                crate::verdict::Metric::Relative,
                &format!("{route} vs quadrature of {}", potential.describe()),
            )
            .with_stats(passage.stats),
            Evidence::observe(
                case,
                "balanced closed-form escape time at nominal α: relative error",
                round_sig((nominal - measured).abs() / measured, 3),
                "LinearEscape::closed_form(α) vs the integrated perturbed flow",
            ),
            Evidence::observe(
                case,
                "balanced closed-form escape time at α_eff = x_0^(1/L): relative error",
                round_sig((effective - measured).abs() / measured, 3),
                "LinearEscape::closed_form(x_0^(1/L)) vs the integrated perturbed flow",
            ),
        ]
    }
}

impl Claim for PerturbedInit {
    const ID: &'static str = "mirror-flow/perturbed-init";
    type Tolerance = PerturbedTolerance;

    fn validate(&self) -> InputResult<()> {
        check_q("q", self.q)?;
        if self.depth < 2 {
            return Err(InputError::new("depth", "an imbalance needs depth L ≥ 2"));
        }
        if !(0.0..=0.5).contains(&self.epsilon) {
            return Err(InputError::new("epsilon", format!("must lie in [0, 0.5], got {}", self.epsilon)));
        }
        check_positive("t_end", self.t_end)?;
        check_positive("gamma", self.gamma)?;
        check_positive("level", self.level)?;
        if !(10..=1000).contains(&self.sample_times) {
            return Err(InputError::new("sample_times", format!("must lie in [10, 1000], got {}", self.sample_times)));
        }
        build_regression(self.depth, self.q, self.alpha, 0.0, None, self.seed, self.samples, self.dim).map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &PerturbedTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let settings = numerics.settings();
        let s = build_regression(self.depth, self.q, self.alpha, 0.0, None, self.seed, self.samples, self.dim)?;
        let d = self.dim;
        let w0 = self.perturbed(self.depth, d);
        let potentials: Vec<Box<dyn Potential>> = (0..d).map(|k| self.potential_of(&w0, d, k)).collect();
        let describe = potentials[0].describe();
        let mirror = SeparableMirror { problem: &s.problem, potentials, q: self.q };
        let flow = SteepestFlow { problem: &s.problem, model: &s.model, q: self.q, decay: WeightDecay::None };
        let times = sample_times(self.t_end, self.sample_times);
        let x0 = s.model.x(&w0);
        let route_w = if self.q == 1.0 { "sign engine in w" } else { "ODE in w" };
        let route_x = format!("ODE in x, one potential per coordinate (x_0: {describe})");
        let (tw, tx) = match (
            run_to_stationarity(&flow, &w0, &times, None, &settings),
            run_to_stationarity(&mirror, &x0, &times, None, &settings),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) => return Ok(vec![Evidence::inconclusive(case, "trajectory", route_w, e.to_string())]),
            (_, Err(e)) => return Ok(vec![Evidence::inconclusive(case, "trajectory", &route_x, e.to_string())]),
        };
        let common = tw.t.len().min(tx.t.len());
        let (mut dist, mut gain_err): (f64, f64) = (0.0, 0.0);
        for (w, x) in tw.y[..common].iter().zip(&tx.y[..common]) {
            let xw = s.model.x(w);
            dist = worst(dist, (&xw - x).norm() / xw.norm().max(x0.norm()));
            let h = s.model.gain(w, self.q);
            for k in (0..d).filter(|&k| xw[k] != 0.0) {
                gain_err = worst(gain_err, (mirror.potentials[k].hess(xw[k]) * h[k] - 1.0).abs());
            }
        }
        let mut stats = tw.stats;
        stats += tx.stats;
        let mut rows = vec![
            Evidence::with_error(
                case,
                &format!("trajectory distance w vs x over t ∈ [0, {}]", round_sig(tw.t[common - 1], 4)),
                0.0,
                dist,
                dist,
                tol.trajectory,
                &format!("{route_w} vs {route_x}"),
            )
            .with_stats(stats),
            Evidence::with_error(
                case,
                "R_k''(x_k(t))·h_k(w(t)) − 1 along the flow",
                0.0,
                gain_err,
                gain_err,
                tol.potential,
                "claimed potential vs the balance-law gain from w",
            ),
        ];
        rows.extend(self.escape_rows(case, &w0, d, tol.escape, &settings));
        Ok(rows)
    }
}
