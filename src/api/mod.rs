//! The operations of the command line and of the Python package on a user's data: `flow`, `train`,
//! `bias` and `escape`. Each takes one argument struct — the command's flags, parsed by clap from
//! the command line or from the Python keywords — and returns one serialisable output, so the CLI
//! and Python print and return the same numbers. Shared here: the model flags ([`ModelArgs`]), the
//! trajectory flags ([`Sampling`]) and the trajectory's [`Sample`].

pub mod bias;
pub mod check;
pub mod escape;
pub mod flow;
pub mod train;

use crate::error::{check_depth, check_positive, InputError, InputResult};
use crate::flow::WeightDecay;
use crate::problem::{Loss, LossScale, Problem};
use crate::reparam::{DeepDiagonal, Initialization};
use clap::ValueEnum;
use nalgebra::DVector;
use serde::Serialize;

/// The deep diagonal model: one- or two-sided.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ModelKind {
    /// x = ∏_i w_i over the L layers.
    OneSided,
    /// x = ∏_i w⁺_i − ∏_i w⁻_i over the L layers (signed targets).
    TwoSided,
}

impl ModelKind {
    /// The name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::OneSided => "one-sided",
            ModelKind::TwoSided => "two-sided",
        }
    }
}

/// The initialisation of every side of the model.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum InitKind {
    /// Every layer at α (layer 1 at (α^q + λ)^{1/q} with --balance λ).
    Balanced,
    /// Layer 1 at 0, layers 2..L at α: x(0) = 0 (λ = −α^q; excludes --balance).
    Coercive,
}

/// Coupled (L2 in the gradient, Adam + L2) or decoupled (AdamW) weight decay.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Decay {
    /// μw added to the gradient.
    Coupled,
    /// ημw subtracted after the update (flow: −μw added to ẇ).
    Decoupled,
}

/// The weight decay μ ≥ 0 of the given kind (none at μ = 0).
pub fn weight_decay(mu: f64, decay: Decay) -> WeightDecay {
    match (mu, decay) {
        (0.0, _) => WeightDecay::None,
        (_, Decay::Coupled) => WeightDecay::Coupled(mu),
        (_, Decay::Decoupled) => WeightDecay::Decoupled(mu),
    }
}

/// The squared loss summed or averaged over the samples.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum LossScaleArg {
    /// f = ½‖Ax − y‖².
    Sum,
    /// f = 1/(2n)‖Ax − y‖².
    Mean,
}

impl LossScaleArg {
    /// The problem with its loss scaled so.
    pub fn apply(self, problem: Problem) -> InputResult<Problem> {
        problem.with_loss_scale(match self {
            LossScaleArg::Sum => LossScale::Sum,
            LossScaleArg::Mean => LossScale::Mean,
        })
    }
}

/// `--model`, `--init`, `--depth`, `--alpha`, `--balance`: the deep diagonal model of the
/// data commands and its initialisation.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// one-sided x = ∏_i w_i, or two-sided x = ∏_i w⁺_i − ∏_i w⁻_i (both sides at the same init)
    /// [default: one-sided; margin: two-sided]
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// balanced: every layer at α; coercive: layer 1 at 0, the other layers at α, on each side.
    #[arg(long, value_enum, default_value = "balanced")]
    pub init: InitKind,
    /// Depth L ≥ 1.
    #[arg(long, allow_hyphen_values = true)]
    pub depth: i64,
    /// Initial scale α > 0 (required; margin: default 0.1).
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<f64>,
    /// Imbalance λ (balanced init): layer 1 starts at (α^q + λ)^{1/q}, so |w_1|^q − |w_i|^q = λ.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub balance: f64,
}

/// A model built from [`ModelArgs`]: the map, its initialisation and the initial weights.
#[derive(Debug, Clone)]
pub struct BuiltModel {
    /// The map w ↦ x.
    pub model: DeepDiagonal,
    /// The initialisation (scale and balance constants).
    pub init: Initialization,
    /// The initial weights.
    pub w0: DVector<f64>,
    /// Its description in outputs.
    pub spec: ModelSpec,
}

/// The model of a run as the outputs describe it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSpec {
    /// `one-sided` or `two-sided`.
    pub model: &'static str,
    /// `balanced` or `coercive`.
    pub init: &'static str,
    /// Depth L.
    pub depth: usize,
    /// Initial scale α.
    pub alpha: f64,
    /// Imbalance λ.
    pub balance: f64,
}

impl ModelArgs {
    /// The model on R^dim at exponent q (the balance constants are in |w|^q units); `default` is
    /// the command's model when --model is absent, `default_alpha` its α when --alpha is.
    pub fn build(&self, dim: usize, q: f64, default: ModelKind, default_alpha: Option<f64>) -> InputResult<BuiltModel> {
        let depth = check_depth("--depth", self.depth)?;
        let alpha = match self.alpha.or(default_alpha) {
            Some(a) => check_positive("--alpha", a)?,
            None => return Err(InputError::new("--alpha", "required: the initial scale α > 0")),
        };
        if !self.balance.is_finite() {
            return Err(InputError::new("--balance", format!("must be finite, got {}", self.balance)));
        }
        let kind = self.model.unwrap_or(default);
        let model = match kind {
            ModelKind::OneSided => DeepDiagonal::new(depth, dim),
            ModelKind::TwoSided => DeepDiagonal::two_sided(depth, dim),
        };
        let init = match self.init {
            InitKind::Balanced => Initialization::lambda(alpha, depth, self.balance),
            InitKind::Coercive if self.balance != 0.0 => {
                return Err(InputError::new(
                    "--balance",
                    "the coercive init fixes layer 1 at 0 (λ = −α^q); drop --balance or use --init balanced",
                ))
            }
            InitKind::Coercive => Initialization::coercive(alpha, depth, q),
        };
        let w0 = model.init(&init, q).map_err(|e| InputError::new("--balance", e.message))?;
        let init_name = if self.init == InitKind::Coercive { "coercive" } else { "balanced" };
        let spec = ModelSpec { model: kind.name(), init: init_name, depth, alpha, balance: self.balance };
        Ok(BuiltModel { model, init, w0, spec })
    }
}

impl BuiltModel {
    /// For a one-sided model from a positive (balanced) init on squared-loss data that no x ≥ 0
    /// fits (the orthant feasibility problem by NNLS): the warning, with the residual in it.
    pub fn infeasibility_warning(&self, problem: &Problem) -> Option<String> {
        if self.model.two_sided || self.spec.init == "coercive" || problem.loss != Loss::Squared {
            return None;
        }
        let r = crate::bias::nonnegative_infeasible(&problem.a, &problem.y)?;
        Some(format!(
            "no x ≥ 0 fits the data: residual min_(x≥0) ‖Ax − y‖ = {r:.3e}; the one-sided model from a \
             positive init reaches other x only through a layer crossing 0; use --model two-sided"
        ))
    }
}

/// `--times`, `--samples`: where `flow` and `train` record their trajectory.
#[derive(clap::Args, Debug, Clone)]
pub struct Sampling {
    /// Record the trajectory at these flow times (increasing, > 0; comma-separated). The run ends at
    /// the last one (for flow, instead of --t-end; for train, flow time η·k: the nearest step).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, conflicts_with = "samples")]
    pub times: Option<Vec<f64>>,
    /// Record the trajectory at N log-spaced times from 10⁻⁶·T to T (T = --t-end; for train, the
    /// nearest steps from 1 to --steps, repeats dropped).
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
}

/// Most trajectory samples a run may record (a budget).
pub const MAX_SAMPLES: usize = 100_000;

impl Sampling {
    /// Whether a trajectory was asked for.
    pub fn requested(&self) -> bool {
        self.times.is_some() || self.samples.is_some()
    }

    /// The sample times of a run with horizon `t_end`: the given times, N log-spaced ones, or
    /// just `t_end`.
    pub fn times(&self, t_end: f64) -> InputResult<Vec<f64>> {
        match (&self.times, self.samples) {
            (Some(times), _) => {
                if times.is_empty() || times.len() > MAX_SAMPLES {
                    return Err(InputError::new("--times", format!("give 1 to {MAX_SAMPLES} times")));
                }
                let mut last = 0.0;
                for &t in times {
                    if !(t.is_finite() && t > last) {
                        return Err(InputError::new("--times", format!("must be finite, > 0 and increasing, got {t}")));
                    }
                    last = t;
                }
                Ok(times.clone())
            }
            (None, Some(n)) if n == 0 || n > MAX_SAMPLES => {
                Err(InputError::new("--samples", format!("must lie in [1, {MAX_SAMPLES}], got {n}")))
            }
            (None, Some(1)) => Ok(vec![t_end]),
            (None, Some(n)) => Ok((0..n).map(|k| t_end * 10f64.powf(-6.0 + 6.0 * k as f64 / (n - 1) as f64)).collect()),
            (None, None) => Ok(vec![t_end]),
        }
    }
}

/// One point of a trajectory: time, predictor, loss (train: also the step).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The optimizer step k (train only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Flow time t (train: Σ_{j≤k} η_j, η·k without a step schedule).
    pub t: f64,
    /// The predictor x.
    pub x: Vec<f64>,
    /// The loss f(x).
    pub loss: f64,
}

/// The status of a run: `ok`, or `inconclusive` with the reason.
pub fn status(reason: &Option<String>) -> &'static str {
    if reason.is_some() {
        "inconclusive"
    } else {
        "ok"
    }
}
