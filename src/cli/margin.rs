//! `mirrorflow margin`: separable classification (exponential loss), the flow's normalised ℓ_{p/L}
//! margin along a sweep of times against the predicted max-margin point (THEORY §5).

use super::output::print_json;
use super::Format;
use mirrorflow::api::{InitKind, ModelArgs, ModelKind};
use mirrorflow::error::{check_positive, check_q, InputError, InputResult};
use mirrorflow::margin::{margin_exponent, max_margin, norm, prediction, signed_data, sweep_from};
use mirrorflow::problem::Problem;
use mirrorflow::verdict::display_number;
use std::path::PathBuf;

/// The flags of `margin`.
pub struct MarginRun {
    /// The data file.
    pub data: PathBuf,
    /// The labels of CSV or .npy data.
    pub targets: Option<PathBuf>,
    /// The model (default two-sided, α = 0.1).
    pub model: ModelArgs,
    /// Exponent q.
    pub q: f64,
    /// Comma-separated flow times.
    pub times: Option<String>,
    /// Dead-coordinate threshold.
    pub support: f64,
    /// Output format.
    pub format: Format,
}

/// `mirrorflow margin`: see the subcommand's doc.
pub fn run(cmd: MarginRun) -> InputResult<bool> {
    let MarginRun { data, targets, model: model_args, q, times, support, format } = cmd;
    let q = check_q("--q", q)?;
    if model_args.model == Some(ModelKind::OneSided) {
        return Err(InputError::new(
            "--model",
            "margin predicts the max-margin point over all signs of x, the limit of the two-sided model; \
             a one-sided model (x ≥ 0) is not supported here",
        ));
    }
    let support = check_positive("--support", support)?;
    let times: Vec<f64> = match times {
        Some(list) => list
            .split(',')
            .map(|v| v.trim().parse::<f64>().map_err(|_| InputError::new("--times", format!("'{v}' is not a number"))))
            .collect::<InputResult<_>>()?,
        None if q > 1.0 => vec![1e14, 1e28, 1e56, 1e111, 1e222, 1e300],
        None => vec![10.0, 40.0, 160.0, 640.0, 2560.0],
    };
    let source = data.display().to_string();
    let mut problem = Problem::load_data(&data, targets.as_deref())?;
    if !data.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        // CSV and NumPy data carry no loss: the margin is the exponential loss's
        problem = Problem::new(problem.a, problem.y, mirrorflow::problem::Loss::Exponential).map_err(|e| {
            InputError::new(format!("{}: {}", targets.unwrap_or(data).display(), e.location), e.message)
        })?;
    }
    let built = model_args.build(problem.dim(), q, ModelKind::TwoSided, Some(0.1))?;
    let (depth, alpha) = (built.spec.depth, built.spec.alpha);
    let r = margin_exponent(q, depth);
    let run = sweep_from(&problem, &built.model, &built.w0, q, &times, r, &Default::default()).map_err(|e| {
        let field = if e.location == "loss" { format!("{source}: loss") } else { format!("--{}", e.location) };
        InputError::new(field, e.message)
    })?;
    let s = match run {
        Ok(s) => s,
        Err(e) => {
            eprintln!("INCONCLUSIVE: the flow did not reach the last time: {e}");
            return Ok(false);
        }
    };
    let g = signed_data(&problem);
    let last = s.x.last().expect("at least one time");
    let (kkt, alive) = prediction(&g, r, last, support, false)?;
    let global = max_margin(&g, r)?;
    let (kkt_margin, global_margin) = (1.0 / kkt.objective, 1.0 / global.objective);
    let direction = last / norm(last, f64::INFINITY);
    if format == Format::Json {
        let out = serde_json::json!({
            "depth": depth, "q": q, "alpha": alpha, "model": built.spec,
            "exponent": r, "times": s.times, "margins": s.margins,
            "smoothed_margins": s.smoothed, "alive": alive, "kkt_margin": kkt_margin,
            "global_margin": global_margin, "direction": direction.as_slice(), "stats": s.stats,
        });
        print_json(out);
        return Ok(true);
    }
    let init = if model_args.init == InitKind::Coercive { ", coercive init" } else { "" };
    println!("two-sided L = {depth}, q = {q}, α = {alpha}{init}: max margin in ℓ_r, r = p/L = {}", display_number(r));
    for (t, m) in s.times.iter().zip(&s.margins) {
        let gap = (kkt_margin - m) / kkt_margin;
        println!("t = {:<8} margin {:<10} gap to the KKT point {gap:.2e}", format!("{t:e}"), display_number(*m));
    }
    let names: Vec<String> = alive.iter().map(|i| i.to_string()).collect();
    println!("alive coordinates (0-based): {} of {} (|x_i| ≥ {support}·‖x‖∞)", names.join(", "), last.len());
    println!(
        "KKT point on them: margin {}   global optimum: margin {}",
        display_number(kkt_margin),
        display_number(global_margin)
    );
    let xs: Vec<String> = direction.iter().map(|v| format!("{:.4}", v)).collect();
    println!(
        "x/‖x‖∞ = [{}]   ({} steps, {} rhs evaluations, {} events)",
        xs.join(", "),
        s.stats.steps,
        s.stats.rhs_evals,
        s.stats.events
    );
    Ok(true)
}
