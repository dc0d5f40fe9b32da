//! `weight-decay/decoupled-selection`: which interpolator decoupled SignGF (AdamW's flow,
//! `ẇ = −sign(∇_w F) − μw`) selects on under-determined sparse regression, as the depth grows
//! (THEORY §6.3, §9: every interpolator inside the box `‖x‖∞ ≤ μ^{−L}` is a Filippov equilibrium,
//! so the path decides). An open question: the claim reports, per grid point,
//! - the interpolation residual `‖Ax − y‖/‖y‖` and the sparsity (entries above 1e−3·‖x‖∞) of the
//!   flow's state at `t_end` (two-sided balanced model, x_0 = 0; the event-driven sign engine);
//! - its distance to min ℓ1 (clarabel LP) and to min `Σ|x|^{2−m}` s.t. `Ax = y` (m = (L−1)/L, the
//!   decoupled regulariser of Table 1, convex here since 2 − m = 1 + 1/L; the Bregman solver of
//!   [`crate::bias`] with the balanced SignGF potential, whose `R ∝ |x|^{2−m}` and `R'(0) = 0`);
//! - the distance between the engine's state and SignGD with decoupled decay (step η, same flow
//!   time): an engine finding to report, not to hide.
//!
//! With `claim = observe` (the open card) the point is INCONCLUSIVE with every figure in the reason;
//! `claim = min-l1` or `min-regulariser` claims the selection and compares the distance with the
//! `selection` tolerance.

use crate::bias::{bregman_projection, min_l1, PotentialMap, SolveSettings};
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, Optimizer};
use crate::error::{check_positive, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::potential::Balanced;
use crate::problem::{check_size, Problem};
use crate::reparam::{DeepDiagonal, Initialization, Reparameterization};
use crate::verdict::{round_sig, Evidence};
use nalgebra::DVector;
use schemars::JsonSchema;
use serde::Deserialize;

/// What is claimed about the selected interpolator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Nothing: the figures are reported (INCONCLUSIVE, every figure in the reason).
    Observe,
    /// The selected interpolator is min ℓ1 (relative distance ≤ `selection`).
    MinL1,
    /// The selected interpolator is min `Σ|x|^{2−m}` (relative distance ≤ `selection`).
    MinRegulariser,
}

fn observe() -> Selection {
    Selection::Observe
}
fn one_u64() -> u64 {
    1
}

/// Most SignGD steps one point may take (a budget).
pub const MAX_STEPS: f64 = 1e6;

/// The interpolator selected by decoupled SignGF on under-determined sparse regression.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecoupledSelection {
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Balanced initial scale α > 0 (both sides, x_0 = 0).
    pub alpha: f64,
    /// Decoupled weight decay μ > 0.
    pub weight_decay: f64,
    /// Seed of the regression.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Samples n < d (under-determined).
    pub samples: usize,
    /// Dimension d.
    pub dim: usize,
    /// Non-zeros k of the positive teacher (`y = A x*`).
    pub sparsity: usize,
    /// Flow time at which the state is read.
    pub t_end: f64,
    /// SignGD step η (t_end/η steps, at most 1e6).
    pub lr: f64,
    /// The claim (theory: none, `observe`).
    #[serde(default = "observe")]
    pub claim: Selection,
}

/// The tolerances of `weight-decay/decoupled-selection`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionTolerance {
    /// Relative distance to the claimed interpolator.
    pub selection: f64,
}

/// Entries above `1e−3·‖x‖∞`.
fn support(x: &DVector<f64>) -> usize {
    let top = x.amax();
    x.iter().filter(|v| v.abs() > 1e-3 * top).count()
}

impl DecoupledSelection {
    fn setup(&self) -> InputResult<(Problem, DeepDiagonal, DVector<f64>)> {
        crate::error::check_depth("depth", self.depth as i64)?;
        check_positive("alpha", self.alpha)?;
        check_size(self.samples, self.dim)?;
        if self.samples >= self.dim {
            return Err(InputError::new("samples", "under-determined data need n < d"));
        }
        if self.sparsity == 0 || self.sparsity > self.dim {
            return Err(InputError::new("sparsity", format!("must lie in [1, d = {}]", self.dim)));
        }
        let problem = Problem::random_regression(self.seed, self.samples, self.dim, self.sparsity);
        let model = DeepDiagonal::two_sided(self.depth, self.dim);
        let w0 = model.init(&Initialization::balanced(self.alpha, self.depth), 1.0)?;
        Ok((problem, model, w0))
    }
}

impl Claim for DecoupledSelection {
    const ID: &'static str = "weight-decay/decoupled-selection";
    type Tolerance = SelectionTolerance;

    fn validate(&self) -> InputResult<()> {
        check_positive("weight_decay", self.weight_decay)?;
        crate::checks::balance::check_horizon(self.t_end)?;
        check_positive("lr", self.lr)?;
        let steps = self.t_end / self.lr;
        if steps > MAX_STEPS {
            return Err(InputError::new("lr", format!("t_end/η = {steps:.3e} steps: at most {MAX_STEPS:e}")));
        }
        self.setup().map(|_| ())
    }

    fn evidence(&self, case: &str, tol: &SelectionTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (problem, model, w0) = self.setup()?;
        let mu = self.weight_decay;
        let route = "sign engine in w (decoupled decay), two-sided balanced model";
        let flow = SteepestFlow { problem: &problem, model: &model, q: 1.0, decay: WeightDecay::Decoupled(mu) };
        let tr = match flow.run(&w0, &[0.9 * self.t_end, self.t_end], None, &numerics.settings()) {
            Ok(t) => t,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "selected interpolator", route, e.to_string())]),
        };
        let x = model.x(tr.last());
        let moved = (model.x(&tr.y[tr.y.len() - 2]) - &x).norm() / x.norm().max(f64::MIN_POSITIVE);
        let residual = (&problem.a * &x - &problem.y).norm() / problem.y.norm();
        // references
        let l1 = min_l1(&problem.a, &problem.y)?;
        let potential = Balanced::new(self.depth, 1.0);
        let theta0 = DVector::zeros(self.dim);
        let proj =
            bregman_projection(&PotentialMap(&potential), &problem.a, &problem.y, &theta0, &SolveSettings::default());
        let dist_from = |x: &DVector<f64>, r: &DVector<f64>| (x - r).norm() / r.norm();
        let dist = |r: &DVector<f64>| dist_from(&x, r);
        let d_l1 = dist(&l1.x);
        let d_m = if proj.converged { dist(&proj.x) } else { f64::NAN };
        // SignGD with decoupled decay, same flow time
        let steps = (self.t_end / self.lr).round() as usize;
        let opt = Optimizer { method: Method::SignGd, lr: self.lr, decay: WeightDecay::Decoupled(mu) };
        let xd = model.x(&opt.run(&problem, &model, &w0, steps).w);
        let d_gd = (&x - &xd).norm() / xd.norm().max(f64::MIN_POSITIVE);
        let figures = [
            ("residual ‖Ax − y‖/‖y‖", residual),
            ("support size (> 1e-3·‖x‖∞)", support(&x) as f64),
            ("support of min ℓ1", support(&l1.x) as f64),
            ("support of min Σ|x|^(2−m)", support(&proj.x) as f64),
            ("‖x‖₁ / ‖x_ℓ1‖₁", x.lp_norm(1) / l1.x.lp_norm(1)),
            ("distance to min ℓ1 (relative)", d_l1),
            ("distance to min Σ|x|^(2−m) (relative)", d_m),
            ("distance engine vs SignGD (relative)", d_gd),
            ("SignGD: residual ‖Ax − y‖/‖y‖", (&problem.a * &xd - &problem.y).norm() / problem.y.norm()),
            ("SignGD: support size", support(&xd) as f64),
            ("SignGD: ‖x‖₁ / ‖x_ℓ1‖₁", xd.lp_norm(1) / l1.x.lp_norm(1)),
            ("SignGD: distance to min ℓ1 (relative)", dist_from(&xd, &l1.x)),
            ("relative change over the last tenth of t_end", moved),
        ];
        let mut rows: Vec<Evidence> =
            figures.iter().map(|(q, v)| Evidence::observe(case, q, *v, route).with_stats(tr.stats)).collect();
        let summary = figures.iter().map(|(q, v)| format!("{q} {}", round_sig(*v, 4))).collect::<Vec<_>>().join(", ");
        let route_ref =
            "distance of the engine's state to the clarabel LP (min ℓ1) or the Bregman dual solve (min Σ|x|^(2−m))";
        rows.push(match self.claim {
            Selection::Observe => Evidence::inconclusive(
                case,
                "selected interpolator (open)",
                route,
                format!("open, L = {}: {summary}", self.depth),
            ),
            Selection::MinL1 => {
                Evidence::with_error(case, "distance to min ℓ1", 0.0, d_l1, d_l1, tol.selection, route_ref)
            }
            Selection::MinRegulariser if !proj.converged => Evidence::inconclusive(
                case,
                "distance to min Σ|x|^(2−m)",
                route_ref,
                "the Bregman solve did not converge",
            ),
            Selection::MinRegulariser => {
                Evidence::with_error(case, "distance to min Σ|x|^(2−m)", 0.0, d_m, d_m, tol.selection, route_ref)
            }
        });
        Ok(rows)
    }
}
