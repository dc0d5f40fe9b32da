//! `train`: a discrete optimizer (GD, SignGD, Adam, AdamW) on a deep diagonal model on the user's
//! data, with its trajectory at chosen steps.

use super::{status, weight_decay, BuiltModel, Decay, ModelArgs, ModelKind, ModelSpec, Sample, Sampling};
use crate::discrete::{Method, OptState, Optimizer, Scheduled, MAX_STEPS};
use crate::error::{check_nonnegative, check_positive, InputError, InputResult};
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use crate::schedule::Schedule;
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
    /// Seed of SGD's batches and of the label noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Label noise σ ≥ 0 (with --optimizer gd, squared loss): each step descends ½‖Ax − (y + σξ)‖²
    /// with fresh signs ξ_i = ±1 (added to the labels as loaded; with --loss-scale mean, to y/√n).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub label_noise: f64,
    /// Step-size schedule KIND[:END][@FROM[-TO]] over the K steps: the factor of η is 1 before the
    /// fraction FROM of the run, falls to END by TO (KIND linear, cosine or exponential) and stays
    /// there; e.g. `cosine:0.1@0.5`.
    #[arg(long, default_value = "constant")]
    pub lr_schedule: String,
    /// Label-noise schedule, the same syntax (factor of σ); e.g. `cosine:0@0.3-0.7` anneals the noise
    /// to 0 by 70 % of the run and ends with plain GD.
    #[arg(long, default_value = "constant")]
    pub noise_schedule: String,
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
    /// Flow time Σ_k η_k (η·K without a step schedule).
    pub flow_time: f64,
    /// The label noise σ (0: none).
    pub label_noise: f64,
    /// The step-size schedule.
    pub lr_schedule: String,
    /// The label-noise schedule.
    pub noise_schedule: String,
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

/// `--label-noise`: σ ≥ 0, read with --optimizer gd on the squared loss only.
fn label_noise(args: &TrainArgs, problem: &Problem) -> InputResult<f64> {
    let sigma = check_nonnegative("--label-noise", args.label_noise)?;
    if sigma > 0.0 && args.optimizer != OptimizerName::Gd {
        return Err(InputError::new("--label-noise", "label noise is read with --optimizer gd only"));
    }
    if sigma > 0.0 && problem.loss != crate::problem::Loss::Squared {
        return Err(InputError::new("--label-noise", "label noise is defined for the squared loss only"));
    }
    Ok(sigma)
}

/// Runs the optimizer for `--steps` steps (or to the step of the last sample time), recording the
/// states at the steps nearest to the nominal sample times η·k; each sample's `t` is the elapsed
/// flow time Σ_{j≤k} η_j (η·k without a step schedule).
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
    let sigma = label_noise(args, problem)?;
    let lr_schedule = Schedule::parse("--lr-schedule", &args.lr_schedule)?;
    let noise_schedule = Schedule::parse("--noise-schedule", &args.noise_schedule)?;
    if sigma == 0.0 && !noise_schedule.is_constant() {
        return Err(InputError::new("--noise-schedule", "a noise schedule needs --label-noise σ > 0"));
    }
    let (method, q, decay) = match args.optimizer {
        OptimizerName::Sgd => (Method::Sgd { batch }, 2.0, args.decay),
        OptimizerName::Gd if sigma > 0.0 => (Method::LabelNoise { sigma }, 2.0, args.decay),
        OptimizerName::Gd => (Method::Gd, 2.0, args.decay),
        OptimizerName::Signgd => (Method::SignGd, 1.0, args.decay),
        OptimizerName::Adam => (adam, 1.0, Decay::Coupled),
        OptimizerName::Adamw => (adam, 1.0, Decay::Decoupled),
    };
    let built = args.model.build(problem.dim(), q, ModelKind::OneSided, None)?;
    let warning = built.infeasibility_warning(problem);
    let BuiltModel { model, w0, spec, .. } = built;
    let opt = Scheduled {
        base: Optimizer { method, lr, decay: weight_decay(mu, decay) },
        lr: lr_schedule,
        noise: noise_schedule,
        steps: steps as u64,
    };
    // the steps to record: the nearest step to each nominal time η·k (repeats dropped)
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
    // the elapsed flow time Σ_{j≤k} η_j (exactly η·k without a step schedule)
    let constant = lr_schedule.is_constant();
    let mut sum = 0.0;
    let elapsed = |sum: f64, k: u64| if constant { lr * k as f64 } else { sum };
    let sample = |s: &OptState, t: f64| {
        let x = model.x(&s.w);
        Sample { step: Some(s.k), t, loss: problem.loss(&x), x: x.as_slice().to_vec() }
    };
    // the same steps as Optimizer::run, with the states at the recorded steps kept
    let mut state = OptState::seeded(&w0, args.seed);
    let mut trajectory = vec![sample(&state, 0.0)];
    let last = record.last().copied().unwrap_or(steps as u64);
    let mut next = record.iter().peekable();
    while state.k < last {
        sum += opt.step(problem, &model, &mut state);
        if next.peek().is_some_and(|&&k| k == state.k) {
            next.next();
            trajectory.push(sample(&state, elapsed(sum, state.k)));
        }
    }
    if record.is_empty() {
        trajectory.push(sample(&state, elapsed(sum, state.k)));
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
        flow_time: elapsed(sum, state.k),
        label_noise: sigma,
        lr_schedule: lr_schedule.to_string(),
        noise_schedule: noise_schedule.to_string(),
        model: spec,
        trajectory,
        warning,
    })
}
