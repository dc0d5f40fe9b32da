//! `weight-decay/optimizer-order`: GD (↔ GF), SignGD (↔ SignGF), Adam + L2 (↔ coupled SignGF) and
//! AdamW (↔ decoupled SignGF) with step η track their flows to first order: at flow time T the
//! iterate after T/η steps is within O(η) of the flow (THEORY §1); the fitted slope of
//! ln distance against ln η is the order. On `data = "random-regression"` (a seeded Gaussian design
//! with a sparse teacher, where coordinates change sign, weights reach 0 and rest, and gradients
//! slide) the flow is the event-driven sign flow of [`crate::signflow`] and the distance is
//! measured in x, as issue 11 states it: `‖x_opt(T/η) − x_flow(T)‖₂`.

use super::{check_beta, check_steps, horizon, one_u64, Regression, WeightDecayTolerance};
use crate::checks::regression::{build, Model};
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, Optimizer};
use crate::error::{check_nonnegative, check_positive, finite, InputError, InputResult};
use crate::flow::{Flow, SteepestFlow, WeightDecay};
use crate::reparam::Reparameterization;
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// A discrete optimizer and (implicitly) its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    /// Gradient descent with decay ↔ GF (q = 2; coupled and decoupled coincide).
    Gd,
    /// SignGD with decoupled decay ↔ decoupled SignGF.
    Signgd,
    /// Adam(β1, β2, ε) + L2 (coupled) ↔ coupled SignGF.
    Adam,
    /// AdamW(β1, β2, ε) (decoupled) ↔ decoupled SignGF.
    Adamw,
}

/// The data on which optimizer and flow are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Data {
    /// `f = ½‖Qx − Qb‖²` with the `targets` b and a dense design Q with orthonormal columns (one
    /// target: the scalar `½(x − b)²`), the one-sided model with one coordinate per target;
    /// distance `max_i |w_i − w_i^flow|` in the weights.
    Orthonormal,
    /// `Problem::random_regression(seed, samples, dim, sparsity)`: `A_ij ~ N(0, 1)`, `y = A x*` with
    /// a `sparsity`-sparse teacher, on the one-sided model of depth L (balanced α); distance
    /// `‖x − x^flow‖₂` in x (weights resting at 0 are pinned only to the engine's zero threshold).
    RandomRegression,
}

/// The discrete optimizers converge to their flows at the claimed order in η.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizerOrder {
    /// The optimizer.
    pub optimizer: OptimizerName,
    /// Depth L ≥ 1.
    pub depth: usize,
    /// Balanced initial scale α > 0.
    pub alpha: f64,
    /// Weight decay μ > 0.
    pub weight_decay: f64,
    /// The data (default: the orthonormal design of `targets`).
    #[serde(default = "orthonormal")]
    pub data: Data,
    /// Targets b > 0 (dense orthonormal design for several; `data = "orthonormal"` only).
    #[serde(default)]
    pub targets: Vec<f64>,
    /// Samples n of the random regression (`data = "random-regression"` only; default 10).
    pub samples: Option<usize>,
    /// Dimension d of the random regression (`data = "random-regression"` only; default 25).
    pub dim: Option<usize>,
    /// Non-zero entries of the teacher x* (`data = "random-regression"` only; default 3).
    pub sparsity: Option<usize>,
    /// Seed of the design.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Adam β1 ∈ [0, 1) (Adam, AdamW only).
    #[serde(default = "beta1")]
    pub beta1: f64,
    /// Adam β2 ∈ [0, 1) (Adam, AdamW only).
    #[serde(default = "beta2")]
    pub beta2: f64,
    /// Adam ε ≥ 0 (Adam, AdamW only).
    #[serde(default)]
    pub eps: f64,
    /// Step sizes η > 0 (at least two, distinct), each run for round(T/η) steps.
    pub lrs: Vec<f64>,
    /// Flow time T > 0 at which iterates and flow are compared.
    #[serde(default = "horizon")]
    pub t_end: f64,
    /// The claimed order of the distance in η (theory: 1).
    #[serde(default = "first")]
    pub order: f64,
    /// The decay rate of the flow the iterates are claimed to track (default: `weight_decay`;
    /// another value, e.g. 0 or μ/2, is a wrong claim).
    pub flow_weight_decay: Option<f64>,
}

fn orthonormal() -> Data {
    Data::Orthonormal
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.99
}
fn first() -> f64 {
    1.0
}

impl OptimizerOrder {
    /// The optimizer with step η and the q of its flow.
    fn optimizer(&self, lr: f64) -> (Optimizer, f64) {
        let mu = self.weight_decay;
        let adam = Method::Adam { beta1: self.beta1, beta2: self.beta2, eps: self.eps };
        let (method, q, decay) = match self.optimizer {
            OptimizerName::Gd => (Method::Gd, 2.0, WeightDecay::Decoupled(mu)),
            OptimizerName::Signgd => (Method::SignGd, 1.0, WeightDecay::Decoupled(mu)),
            OptimizerName::Adam => (adam, 1.0, WeightDecay::Coupled(mu)),
            OptimizerName::Adamw => (adam, 1.0, WeightDecay::Decoupled(mu)),
        };
        (Optimizer { method, lr, decay }, q)
    }

    /// The problem, model and initial weights of the data, and the q of the flow.
    fn setup(
        &self,
    ) -> InputResult<(crate::problem::Problem, crate::reparam::DeepDiagonal, nalgebra::DVector<f64>, f64)> {
        let q = self.optimizer(1.0).1;
        match self.data {
            Data::Orthonormal => {
                for (key, given) in [("samples", self.samples), ("dim", self.dim), ("sparsity", self.sparsity)] {
                    if given.is_some() {
                        return Err(InputError::new(key, "only for data = \"random-regression\""));
                    }
                }
                let r = Regression::new(&self.targets, self.seed, self.depth, self.alpha, self.weight_decay, q)?;
                Ok((r.problem, r.model, r.w0, q))
            }
            Data::RandomRegression => {
                if !self.targets.is_empty() {
                    return Err(InputError::new(
                        "targets",
                        "only for data = \"orthonormal\" (random regression has a teacher)",
                    ));
                }
                check_positive("weight_decay", self.weight_decay)?;
                let (n, d, k) = (self.samples.unwrap_or(10), self.dim.unwrap_or(25), self.sparsity.unwrap_or(3));
                let r = build(Model::OneSided, self.depth, q, self.alpha, vec![0.0; self.depth], self.seed, n, d, k)?;
                Ok((r.problem, r.model, r.w0, q))
            }
        }
    }

    /// The flow's decay: the optimizer's kind of decay at rate `flow_weight_decay` (default μ).
    fn flow_decay(&self) -> WeightDecay {
        let mu = self.flow_weight_decay.unwrap_or(self.weight_decay);
        match self.optimizer(1.0).0.decay {
            _ if mu == 0.0 => WeightDecay::None,
            WeightDecay::Coupled(_) => WeightDecay::Coupled(mu),
            _ => WeightDecay::Decoupled(mu),
        }
    }
}

impl Claim for OptimizerOrder {
    const ID: &'static str = "weight-decay/optimizer-order";
    type Tolerance = WeightDecayTolerance;

    fn validate(&self) -> InputResult<()> {
        self.setup()?;
        if let Some(mu) = self.flow_weight_decay {
            check_nonnegative("flow_weight_decay", mu)?;
        }
        check_beta("beta1", self.beta1)?;
        check_beta("beta2", self.beta2)?;
        check_nonnegative("eps", self.eps)?;
        check_positive("t_end", self.t_end)?;
        finite("order", self.order)?;
        if self.lrs.len() < 2 {
            return Err(InputError::new("lrs", "at least two step sizes are needed to fit an order"));
        }
        for &lr in &self.lrs {
            check_positive("lrs", lr)?;
            check_steps("lrs", (self.t_end / lr).round())?;
        }
        let mut sorted = self.lrs.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(InputError::new("lrs", "step sizes must be distinct"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &WeightDecayTolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let (problem, model, w0, q) = self.setup()?;
        let t = self.t_end;
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: self.flow_decay() };
        let route = match self.data {
            Data::Orthonormal => "optimizer iterates at k = T/η vs the flow at T (ODE in w), log-log fit",
            Data::RandomRegression => {
                "optimizer iterates at k = T/η vs the flow at T (event-driven sign flow for q = 1), ‖x − x_flow‖₂, log-log fit"
            }
        };
        let tr = match flow.run(&w0, &[t], None, &numerics.settings()) {
            Ok(tr) => tr,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "order in η", route, e.to_string())]),
        };
        let reference = tr.last();
        let mut pts = Vec::new();
        let mut smallest = (f64::INFINITY, f64::NAN);
        for &lr in &self.lrs {
            let steps = (t / lr).round() as usize;
            let w = self.optimizer(lr).0.run(&problem, &model, &w0, steps).w;
            let dist = match self.data {
                Data::Orthonormal => (&w - reference).amax(),
                Data::RandomRegression => (model.x(&w) - model.x(reference)).norm(),
            };
            if !(dist.is_finite() && dist > 0.0) {
                let why = format!("distance {dist:e} at η = {lr}: no order can be fitted");
                return Ok(vec![Evidence::inconclusive(case, "order in η", route, why)]);
            }
            pts.push((lr.ln(), dist.ln()));
            if lr < smallest.0 {
                smallest = (lr, dist);
            }
        }
        let order = crate::fit::fit_line(&pts).slope;
        Ok(vec![
            Evidence::compare(
                case,
                "fitted order of the distance in η",
                self.order,
                order,
                tol.wd,
                Metric::Absolute,
                route,
            )
            .with_stats(tr.stats),
            Evidence::observe(case, &format!("distance at the smallest η = {}", smallest.0), smallest.1, route),
        ])
    }
}
