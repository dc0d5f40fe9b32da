//! `bias`: the predicted limit of a flow (or of GD) on the user's data — the Bregman projection
//! `argmin D_R(x, x0) s.t. Ax = y` of the model's potential — and, on request, the flow's limit.

use super::{status, BuiltModel, ModelArgs, ModelKind, ModelSpec};
use crate::bias::{predicted_limit, SolverStats};
use crate::effective_init::{gd_prediction, MAX_STEPS};
use crate::error::{check_positive, check_q, InputError, InputResult};
use crate::flow::{run_until_loss, SteepestFlow, WeightDecay};
use crate::ode::{Settings, Stats};
use crate::problem::{Loss, Problem};
use crate::reparam::Reparameterization;
use clap::ValueEnum;
use serde::Serialize;

/// Whose limit `bias` predicts.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum BiasOptimizer {
    /// Gradient flow: the Bregman projection of the model's potential.
    Flow,
    /// GD with step --lr on u ⊙ v: the effective Bregman projection.
    Gd,
}

/// The flags of `bias` besides the data.
#[derive(clap::Args, Debug, Clone)]
pub struct BiasArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub model: ModelArgs,
    /// Steepest-descent exponent: the Bregman projection is the limit for q = 2 only.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    pub q: f64,
    /// Alias of --model two-sided (kept for existing scripts).
    #[arg(long, conflicts_with = "model")]
    pub two_sided: bool,
    /// Also run gradient flow to loss ≤ 1e−14 and report its limit and the distance.
    #[arg(long)]
    pub compare_flow: bool,
    /// `gd`: predict the limit of GD with step --lr on u ⊙ v (depth 2, one-sided, --balance > 0) as
    /// the effective Bregman projection (THEORY §5.6; GD is run to loss 1e−26 for δ_∞ and φ).
    #[arg(long, value_enum, default_value = "flow")]
    pub optimizer: BiasOptimizer,
    /// Step size γ of `--optimizer gd`.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Time horizon of the flow.
    #[arg(long, default_value_t = 1e6, allow_hyphen_values = true)]
    pub t_end: f64,
}

/// The gradient flow's limit beside the prediction (`--compare-flow`).
#[derive(Debug, Clone, Serialize)]
pub struct FlowLimit {
    /// The flow's x at the end.
    pub x: Vec<f64>,
    /// Its loss.
    pub loss: f64,
    /// The end time.
    pub t: f64,
    /// Integrator statistics.
    pub stats: Stats,
    /// ‖x_flow − x_pred‖/‖x_pred‖.
    pub distance: f64,
}

/// The GD run behind `--optimizer gd`.
#[derive(Debug, Clone, Serialize)]
pub struct GdLimit {
    /// GD's x at the end.
    pub x: Vec<f64>,
    /// Its loss.
    pub loss: f64,
    /// Steps taken.
    pub steps: usize,
    /// ‖x_GD − x_pred‖/‖x_pred‖.
    pub distance: f64,
}

/// What `bias` returns.
#[derive(Debug, Clone, Serialize)]
pub struct BiasOutput {
    /// `ok`, or `inconclusive` (infeasible data, an unconverged solve, a flow short of its loss).
    pub status: &'static str,
    /// Why inconclusive.
    pub reason: Option<String>,
    /// The predicted limit (null when no interpolator exists).
    pub x: Option<Vec<f64>>,
    /// ‖Ax − y‖ of the prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residual: Option<f64>,
    /// D_R(x, x0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    /// The duality gap of the solve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<f64>,
    /// Whether the solve converged.
    pub converged: bool,
    /// Solver statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<SolverStats>,
    /// On infeasible data: min_x ‖Ax − y‖ (or over x ≥ 0 for a one-sided model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infeasibility_residual: Option<f64>,
    /// Depth L.
    pub depth: usize,
    /// Exponent q.
    pub q: f64,
    /// Initial scale α.
    pub alpha: f64,
    /// Imbalance λ.
    pub balance: f64,
    /// Whether the model is two-sided.
    pub two_sided: bool,
    /// The model.
    pub model: ModelSpec,
    /// `--compare-flow`: the flow's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowLimit>,
    /// `--optimizer gd`: `gd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<&'static str>,
    /// `--optimizer gd`: the step γ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// `--optimizer gd`: the effective scale δ_∞ = δ_0 ∏(1 − γ²g_j²).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_delta: Option<Vec<f64>>,
    /// `--optimizer gd`: the reference shift φ = −2Σ(atanh(γg) − γg).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shift: Option<Vec<f64>>,
    /// `--optimizer gd`: the GD run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gd: Option<GdLimit>,
}

/// The Bregman projection of the model's potential (q = 2), said in words when no interpolator
/// exists; with `--compare-flow` also gradient flow to loss ≤ 1e−14; with `--optimizer gd` the GD
/// limit's effective projection (THEORY §5.6).
pub fn run(problem: &Problem, args: &BiasArgs, source: &str) -> InputResult<BiasOutput> {
    let q = check_q("--q", args.q)?;
    if q != 2.0 {
        return Err(InputError::new("--q", "the Bregman projection is the flow limit only for q = 2 (THEORY §5)"));
    }
    let t_end = check_positive("--t-end", args.t_end)?;
    if problem.loss != Loss::Squared {
        return Err(InputError::new(format!("{source}: loss"), "the Bregman projection needs the squared loss"));
    }
    // finite entries whose norms overflow (e.g. 1e200): no residual or objective can be computed
    if !(problem.a.norm().is_finite() && problem.y.norm().is_finite()) {
        return Err(InputError::new(
            format!("{source}: a, y"),
            "the norms of the data overflow f64 (‖A‖ or ‖y‖ is infinite): rescale the data",
        ));
    }
    let default = if args.two_sided { ModelKind::TwoSided } else { ModelKind::OneSided };
    let BuiltModel { model, init, w0, spec } = args.model.build(problem.dim(), q, default, None)?;
    let mut out = BiasOutput {
        status: "ok",
        reason: None,
        x: None,
        residual: None,
        objective: None,
        gap: None,
        converged: false,
        stats: None,
        infeasibility_residual: None,
        depth: spec.depth,
        q,
        alpha: spec.alpha,
        balance: spec.balance,
        two_sided: model.two_sided,
        model: spec,
        flow: None,
        optimizer: None,
        lr: None,
        effective_delta: None,
        shift: None,
        gd: None,
    };
    if args.optimizer == BiasOptimizer::Gd {
        return gd(problem, &w0, args, out);
    } else if args.lr.is_some() {
        return Err(InputError::new("--lr", "a step size is read with --optimizer gd only"));
    }
    let (a, y) = (&problem.a, &problem.y);
    // infeasible data, said in words: no x at all (least squares, SVD), or no x ≥ 0 for a one-sided
    // model whose solve failed (NNLS: the balanced potential lives on x > 0)
    let ls = a.clone().svd(true, true).solve(y, 1e-12 * a.norm()).map(|x| (a * x - y).norm()).unwrap_or(f64::INFINITY);
    let infeasible = (ls > 1e-8 * y.norm()).then(|| {
        (ls, format!("no x solves Ax = y: the least-squares residual min_x ‖Ax − y‖ is {ls:.3e}; the data are inconsistent and no model interpolates them"))
    });
    let proj = infeasible.is_none().then(|| predicted_limit(&model, &w0, q, &init.constants, a, a, y));
    let infeasible = infeasible.or_else(|| {
        let failed = proj.as_ref().is_some_and(|p| !p.converged && !p.x.iter().all(|v| v.is_finite()));
        if !failed || model.two_sided {
            return None;
        }
        crate::bias::nonnegative_infeasible(a, y).map(|r| {
            (r, format!("no x ≥ 0 solves Ax = y: the residual min_(x≥0) ‖Ax − y‖ is {r:.3e}, and the one-sided potential from this init lives on x > 0; use --model two-sided"))
        })
    });
    if let Some((residual, reason)) = infeasible {
        out.infeasibility_residual = Some(residual);
        out.reason = Some(reason);
        out.status = status(&out.reason);
        return Ok(out);
    }
    let proj = proj.expect("solved when feasible");
    out.x = Some(proj.x.as_slice().to_vec());
    out.residual = Some(proj.residual);
    out.objective = Some(proj.objective);
    out.gap = Some(proj.gap);
    out.converged = proj.converged;
    out.stats = Some(proj.stats.clone());
    if !proj.converged {
        out.reason = Some(format!(
            "the dual solve did not converge (residual {:.3e}, objective {:.3e})",
            proj.residual, proj.objective
        ));
    }
    if args.compare_flow {
        let flow = SteepestFlow { problem, model: &model, q, decay: WeightDecay::None };
        match run_until_loss(&flow, &w0, t_end, Some(1e-14), 1, &Settings::default()) {
            Ok(tr) => {
                let xf = model.x(tr.last());
                let loss = problem.loss(&xf);
                let distance = (&xf - &proj.x).norm() / proj.x.norm();
                if loss > 1e-14 && out.reason.is_none() {
                    out.reason = Some(format!("flow loss {loss:.3e} above 1e-14 at t_end = {t_end}"));
                }
                out.flow =
                    Some(FlowLimit { x: xf.as_slice().to_vec(), loss, t: tr.t_end(), stats: tr.stats, distance });
            }
            Err(e) if out.reason.is_none() => out.reason = Some(format!("flow: {e}")),
            Err(_) => {}
        }
    }
    out.status = status(&out.reason);
    Ok(out)
}

/// `--optimizer gd`: the GD-limit prediction (THEORY §5.6) for u ⊙ v, depth 2, one-sided.
fn gd(problem: &Problem, w0: &nalgebra::DVector<f64>, args: &BiasArgs, mut out: BiasOutput) -> InputResult<BiasOutput> {
    let lr = args.lr.ok_or_else(|| InputError::new("--lr", "--optimizer gd needs --lr"))?;
    let lr = check_positive("--lr", lr)?;
    if out.depth != 2 || out.two_sided {
        return Err(InputError::new("--optimizer", "the GD prediction is for u ⊙ v: --depth 2, one-sided"));
    }
    if out.balance.is_nan() || out.balance <= 0.0 || args.compare_flow {
        let key = if args.compare_flow { "--compare-flow" } else { "--balance" };
        let why = "--optimizer gd needs --balance > 0 (δ_0 = u0² − v0² > 0) and compares with GD itself";
        return Err(InputError::new(key, why));
    }
    let p = gd_prediction(problem, w0, lr, 1e-26, MAX_STEPS).map_err(|e| InputError::new("--lr", e))?;
    let distance = (&p.x - &p.run.x).norm() / p.x.norm();
    out.x = Some(p.x.as_slice().to_vec());
    out.residual = Some(p.residual);
    out.converged = p.converged;
    out.optimizer = Some("gd");
    out.lr = Some(lr);
    out.effective_delta = Some(p.run.delta.as_slice().to_vec());
    out.shift = Some(p.shift.as_slice().to_vec());
    out.gd = Some(GdLimit { x: p.run.x.as_slice().to_vec(), loss: p.run.loss, steps: p.run.steps, distance });
    if !p.converged {
        out.reason = Some(format!("the dual solve did not converge (residual {:.3e})", p.residual));
    }
    out.status = status(&out.reason);
    Ok(out)
}
