//! `train`: a discrete optimizer (GD, SignGD, Adam, AdamW) on a deep diagonal model on the user's
//! data, with its trajectory at chosen steps.

use super::{status, weight_decay, BuiltModel, Decay, ModelArgs, ModelKind, ModelSpec, Sample, Sampling};
use crate::discrete::{Method, OptState, Optimizer, MAX_STEPS};
use crate::error::{check_nonnegative, check_positive, InputError, InputResult};
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use clap::ValueEnum;
use serde::Serialize;

/// The optimizers of `train`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum OptimizerName {
    /// Gradient descent.
    Gd,
    /// Sign gradient descent.
    Signgd,
    /// Adam (weight decay coupled: Adam + L2).
    Adam,
    /// AdamW (weight decay decoupled).
    Adamw,
    /// Mini-batch SGD (squared loss): `(n/B)Σ_{k∈batch} a_k r_k`, B distinct samples per step.
    Sgd,
}

/// The flags of `train` besides the data.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// The optimizer: Adam takes the decay coupled (Adam + L2), AdamW decoupled.
    #[arg(long, value_enum)]
    pub optimizer: OptimizerName,
    /// Step size η > 0.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: f64,
    /// Number of steps K ≥ 1.
    #[arg(long, allow_hyphen_values = true)]
    pub steps: i64,
    /// The model (its --balance in |w|^q units: q = 2 for GD, 1 otherwise).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Weight decay μ ≥ 0.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub weight_decay: f64,
    /// For gd and signgd: coupled (L2 in the gradient) or decoupled decay.
    #[arg(long, value_enum, default_value = "decoupled")]
    pub decay: Decay,
    /// Adam β1 ∈ [0, 1).
    #[arg(long, default_value_t = 0.9, allow_hyphen_values = true)]
    pub beta1: f64,
    /// Adam β2 ∈ [0, 1).
    #[arg(long, default_value_t = 0.999, allow_hyphen_values = true)]
    pub beta2: f64,
    /// Adam ε ≥ 0.
    #[arg(long, default_value_t = 1e-8, allow_hyphen_values = true)]
    pub eps: f64,
    /// SGD batch size 1 ≤ B ≤ n (the step uses the unbiased (n/B)Σ_{k∈batch} a_k r_k of the sum loss;
    /// with --loss-scale mean, (1/B)Σ a_k r_k of the mean loss).
    #[arg(long, allow_hyphen_values = true)]
    pub batch: Option<i64>,
    /// Seed of SGD's batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sampling: Sampling,
}

/// What `train` returns.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutput {
    /// `ok`, or `inconclusive` when the iterates diverged.
    pub status: &'static str,
    /// Why inconclusive.
    pub reason: Option<String>,
    /// The predictor x at the end.
    pub x: Vec<f64>,
    /// Its loss.
    pub loss: f64,
    /// Steps taken.
    pub steps: u64,
    /// The layer balances |w_1|^q − |w_i|^q per coordinate (q = 2 for GD, 1 otherwise).
    pub balance: Vec<f64>,
    /// The exponent q of the balances.
    pub balance_exponent: f64,
    /// The weights at the end.
    pub w: Vec<f64>,
    /// Step size η.
    pub lr: f64,
    /// Flow time η·K.
    pub flow_time: f64,
    /// The model.
    pub model: ModelSpec,
    /// The trajectory at the recorded steps (step 0 first).
    pub trajectory: Vec<Sample>,
    /// A one-sided model on data no x ≥ 0 fits.
    #[serde(skip)]
    pub warning: Option<String>,
}

/// β ∈ [0, 1).
fn check_beta(field: &str, v: f64) -> InputResult<f64> {
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(InputError::new(field, format!("must lie in [0, 1), got {v}")))
    }
}

/// `--batch`: required by `--optimizer sgd` (1 ≤ B ≤ n, squared loss), refused otherwise.
fn sgd_batch(sgd: bool, batch: Option<i64>, problem: &Problem) -> InputResult<usize> {
    let n = problem.samples();
    match (sgd, batch) {
        (false, None) => Ok(n),
        (false, Some(_)) => Err(InputError::new("--batch", "a batch size is read with --optimizer sgd only")),
        (true, None) => Err(InputError::new("--batch", "--optimizer sgd needs --batch B")),
        (true, Some(_)) if problem.loss != crate::problem::Loss::Squared => {
            Err(InputError::new("--optimizer", "SGD is implemented for the squared loss only"))
        }
        (true, Some(b)) if b < 1 || b as usize > n => {
            Err(InputError::new("--batch", format!("must be an integer in [1, n = {n}], got {b}")))
        }
        (true, Some(b)) => Ok(b as usize),
    }
}

/// Runs the optimizer for `--steps` steps (or to the step of the last sample time), recording the
/// states at the steps nearest to the sample times η·k.
pub fn run(problem: &Problem, args: &TrainArgs) -> InputResult<TrainOutput> {
    let lr = check_positive("--lr", args.lr)?;
    let steps = args.steps;
    if steps < 1 {
        return Err(InputError::new("--steps", format!("must be an integer ≥ 1, got {steps}")));
    }
    if steps as f64 > MAX_STEPS {
        return Err(InputError::new("--steps", format!("{steps} exceeds the budget of {MAX_STEPS:e} steps")));
    }
    let mu = check_nonnegative("--weight-decay", args.weight_decay)?;
    let adam = Method::Adam {
        beta1: check_beta("--beta1", args.beta1)?,
        beta2: check_beta("--beta2", args.beta2)?,
        eps: check_nonnegative("--eps", args.eps)?,
    };
    let batch = sgd_batch(args.optimizer == OptimizerName::Sgd, args.batch, problem)?;
    let (method, q, decay) = match args.optimizer {
        OptimizerName::Sgd => (Method::Sgd { batch }, 2.0, args.decay),
        OptimizerName::Gd => (Method::Gd, 2.0, args.decay),
        OptimizerName::Signgd => (Method::SignGd, 1.0, args.decay),
        OptimizerName::Adam => (adam, 1.0, Decay::Coupled),
        OptimizerName::Adamw => (adam, 1.0, Decay::Decoupled),
    };
    let built = args.model.build(problem.dim(), q, ModelKind::OneSided, None)?;
    let warning = built.infeasibility_warning(problem);
    let BuiltModel { model, w0, spec, .. } = built;
    let opt = Optimizer { method, lr, decay: weight_decay(mu, decay) };
    // the steps to record: the nearest step to each sample time η·k (repeats dropped)
    let record: Vec<u64> = if args.sampling.requested() {
        let times = args.sampling.times(lr * steps as f64)?;
        let mut ks: Vec<u64> = times.iter().map(|t| (t / lr).round().max(1.0) as u64).collect();
        ks.dedup();
        if let Some(&k) = ks.last().filter(|&&k| k > steps as u64) {
            return Err(InputError::new("--times", format!("step {k} (flow time η·k) lies beyond --steps {steps}")));
        }
        ks
    } else {
        vec![]
    };
    let sample = |s: &OptState| {
        let x = model.x(&s.w);
        Sample { step: Some(s.k), t: lr * s.k as f64, loss: problem.loss(&x), x: x.as_slice().to_vec() }
    };
    // the same steps as Optimizer::run, with the states at the recorded steps kept
    let mut state = OptState::seeded(&w0, args.seed);
    let mut trajectory = vec![sample(&state)];
    let last = record.last().copied().unwrap_or(steps as u64);
    let mut next = record.iter().peekable();
    while state.k < last {
        opt.step(problem, &model, &mut state);
        if next.peek().is_some_and(|&&k| k == state.k) {
            next.next();
            trajectory.push(sample(&state));
        }
    }
    if record.is_empty() {
        trajectory.push(sample(&state));
    }
    let x = model.x(&state.w);
    let loss = problem.loss(&x);
    let finite = loss.is_finite() && state.w.iter().all(|v| v.is_finite());
    let reason = (!finite).then(|| "the iterates diverged (non-finite loss or weights)".to_string());
    Ok(TrainOutput {
        status: status(&reason),
        reason,
        x: x.as_slice().to_vec(),
        loss,
        steps: state.k,
        balance: model.balances(&state.w, q).as_slice().to_vec(),
        balance_exponent: q,
        w: state.w.as_slice().to_vec(),
        lr,
        flow_time: lr * state.k as f64,
        model: spec,
        trajectory,
        warning,
    })
}
