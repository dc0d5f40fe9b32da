//! `flow`: the steepest flow `ẇ = −φ_q(∇_w f(x(w)))` (with weight decay) of a deep diagonal model
//! on the user's data, with its trajectory.

use super::{status, weight_decay, BuiltModel, Decay, ModelArgs, ModelKind, ModelSpec, Sample, Sampling};
use crate::error::{check_nonnegative, check_positive, check_q, InputResult};
use crate::flow::{run_to_loss, SteepestFlow};
use crate::ode::{FlowStatus, Settings, Stats};
use crate::problem::Problem;
use crate::reparam::Reparameterization;
use nalgebra::DVector;
use serde::Serialize;

/// The flags of `flow` besides the data.
#[derive(clap::Args, Debug, Clone)]
pub struct FlowArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub model: ModelArgs,
    /// Steepest-descent exponent q ∈ [1, 2].
    #[arg(long, allow_hyphen_values = true)]
    pub q: f64,
    /// Weight decay μ ≥ 0.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub weight_decay: f64,
    /// Coupled (Adam + L2) or decoupled (AdamW) weight decay.
    #[arg(long, value_enum, default_value = "decoupled")]
    pub decay: Decay,
    /// Time horizon.
    #[arg(long, default_value_t = 1e4, allow_hyphen_values = true)]
    pub t_end: f64,
    /// Stop when the loss reaches this value.
    #[arg(long, allow_hyphen_values = true)]
    pub until_loss: Option<f64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sampling: Sampling,
}

/// What `flow` returns.
#[derive(Debug, Clone, Serialize)]
pub struct FlowOutput {
    /// `ok`, or `inconclusive` (integration failed, or the loss target not reached).
    pub status: &'static str,
    /// Why inconclusive.
    pub reason: Option<String>,
    /// The time at which ∇f = 0 was reached (q < 2: finite-time arrival), where the state is held.
    pub stationary_at: Option<f64>,
    /// The predictor x at the end.
    pub x: Vec<f64>,
    /// Its loss.
    pub loss: f64,
    /// The end time.
    pub t: f64,
    /// Whether the loss target (if any) was reached.
    pub reached: bool,
    /// The weights at the end.
    pub w: Vec<f64>,
    /// Integrator statistics.
    pub stats: Stats,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// Initial scale α.
    pub alpha: f64,
    /// Imbalance λ.
    pub balance: f64,
    /// The model.
    pub model: ModelSpec,
    /// The trajectory at the sample times (t = 0 first).
    pub trajectory: Vec<Sample>,
    /// A one-sided model on data no x ≥ 0 fits.
    #[serde(skip)]
    pub warning: Option<String>,
}

/// Runs the flow (rtol 1e-12, atol 1e-14) to `--t-end` or the last sample time, stopping where
/// the loss crosses `--until-loss` (located inside the step, [`run_to_loss`]); a failed integration still returns its last state, as inconclusive. `progress`
/// is told the fraction t/t_end reached after every accepted step.
pub fn run(problem: &Problem, args: &FlowArgs, progress: &(dyn Fn(f64) + Sync)) -> InputResult<FlowOutput> {
    let q = check_q("--q", args.q)?;
    let mu = check_nonnegative("--weight-decay", args.weight_decay)?;
    let t_end = check_positive("--t-end", args.t_end)?;
    if let Some(e) = args.until_loss {
        check_positive("--until-loss", e)?;
    }
    let times = args.sampling.times(t_end)?;
    let t_end = *times.last().expect("at least one sample time");
    let built = args.model.build(problem.dim(), q, ModelKind::OneSided, None)?;
    let warning = built.infeasibility_warning(problem);
    let BuiltModel { model, w0, spec, .. } = built;
    let flow = SteepestFlow { problem, model: &model, q, decay: weight_decay(mu, args.decay) };
    let settings = Settings { rtol: 1e-12, atol: 1e-14, ..Settings::default() };
    let until_loss = args.until_loss;
    let observe = |t: f64, _: &DVector<f64>| progress(t / t_end);
    let result = run_to_loss(&flow, &w0, &times, until_loss, Some(&observe), &settings);
    let sample = |t: f64, w: &DVector<f64>| {
        let x = model.x(w);
        Sample { step: None, t, loss: problem.loss(&x), x: x.as_slice().to_vec() }
    };
    let (t, w, stats, flow_status, stationary_at, trajectory) = match result {
        Ok(tr) => {
            let trajectory: Vec<Sample> = tr.t.iter().zip(&tr.y).map(|(t, w)| sample(*t, w)).collect();
            (tr.t_end(), tr.last().clone(), tr.stats, tr.status.clone(), tr.stationary_at, trajectory)
        }
        Err(e) => {
            let (t, w) = e.last.clone().unwrap_or((0.0, w0.clone()));
            let trajectory = vec![sample(0.0, &w0), sample(t, &w)];
            (t, w, e.stats, FlowStatus::Inconclusive { reason: e.to_string() }, None, trajectory)
        }
    };
    let x = model.x(&w);
    let loss = problem.loss(&x);
    let reached = until_loss.is_none_or(|e| loss <= e);
    let reason = match flow_status {
        FlowStatus::Inconclusive { reason } => Some(reason),
        FlowStatus::Ok if !reached => Some(format!("loss {loss:.3e} above --until-loss at t_end = {t_end}")),
        FlowStatus::Ok => None,
    };
    Ok(FlowOutput {
        status: status(&reason),
        reason,
        stationary_at,
        x: x.as_slice().to_vec(),
        loss,
        t,
        reached,
        w: w.as_slice().to_vec(),
        stats,
        depth: spec.depth,
        q,
        alpha: spec.alpha,
        balance: spec.balance,
        model: spec,
        trajectory,
        warning,
    })
}
