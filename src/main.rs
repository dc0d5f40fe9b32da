//! The `mirrorflow` command line: list, show and check theorem cards; run flows on your data.

use clap::{Parser, Subcommand, ValueEnum};
use mirrorflow::checks::{self, Outcome};
use mirrorflow::claims::Card;
use mirrorflow::error::{check_depth, check_nonnegative, check_positive, check_q, InputError, InputResult};
use mirrorflow::flow::{run_until_loss, SteepestFlow, WeightDecay};
use mirrorflow::ode::Settings;
use mirrorflow::problem::Problem;
use mirrorflow::reparam::{DeepDiagonal, Initialization, Reparameterization};
use mirrorflow::verdict::round_sig;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mirrorflow",
    version,
    about = "Falsifiable checks of 'Never Saddle for Reparameterized Steepest Descent as Mirror Flow'"
)]
struct Cli {
    /// Folder of theorem cards.
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/theorems"))]
    cards: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Decay {
    Coupled,
    Decoupled,
}

#[derive(Subcommand)]
enum Command {
    /// List the theorem cards: id, provenance, title.
    List,
    /// Show a card: statement, parameters, tolerances, negative controls.
    Show {
        /// Card id.
        id: String,
    },
    /// Check cards; exit 0 iff every outcome matches its expectation.
    Check {
        /// Card ids.
        ids: Vec<String>,
        /// Check every card.
        #[arg(long)]
        all: bool,
        /// Override a parameter: key=value (TOML value syntax), repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Also run each card's negative controls (each must give its expected verdict).
        #[arg(long)]
        controls: bool,
        /// Print every evidence row.
        #[arg(long, short)]
        verbose: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run the steepest flow of a deep diagonal model on your data.
    Flow {
        /// JSON file {"a": [[..],..], "y": [..]}.
        #[arg(long)]
        data: PathBuf,
        /// Depth L ≥ 1.
        #[arg(long, allow_negative_numbers = true)]
        depth: i64,
        /// Steepest-descent exponent q ∈ [1, 2].
        #[arg(long, allow_negative_numbers = true)]
        q: f64,
        /// Initial scale α > 0.
        #[arg(long, allow_negative_numbers = true)]
        alpha: f64,
        /// Imbalance λ: layer 1 starts at (α^q + λ)^{1/q}.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        balance: f64,
        /// Weight decay μ ≥ 0.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        weight_decay: f64,
        /// Coupled (Adam + L2) or decoupled (AdamW) weight decay.
        #[arg(long, value_enum, default_value = "decoupled")]
        decay: Decay,
        /// Time horizon.
        #[arg(long, default_value_t = 1e4, allow_negative_numbers = true)]
        t_end: f64,
        /// Stop when the loss reaches this value.
        #[arg(long, allow_negative_numbers = true)]
        until_loss: Option<f64>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Predict the GF limit on your data: the Bregman projection argmin D_R(x, x0) s.t. Ax = y.
    Bias {
        /// JSON file {"a": [[..],..], "y": [..]}.
        #[arg(long)]
        data: PathBuf,
        /// Depth L ≥ 1.
        #[arg(long, allow_negative_numbers = true)]
        depth: i64,
        /// Steepest-descent exponent: the Bregman projection is the limit for q = 2 only.
        #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
        q: f64,
        /// Initial scale α > 0.
        #[arg(long, allow_negative_numbers = true)]
        alpha: f64,
        /// Imbalance λ: layer 1 starts at (α^q + λ)^{1/q}.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        balance: f64,
        /// Two-sided model x = ∏w⁺ − ∏w⁻.
        #[arg(long)]
        two_sided: bool,
        /// Also run gradient flow to loss ≤ 1e−14 and report its limit and the distance.
        #[arg(long)]
        compare_flow: bool,
        /// Time horizon of the flow.
        #[arg(long, default_value_t = 1e6, allow_negative_numbers = true)]
        t_end: f64,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> InputResult<bool> {
    match cli.command {
        Command::List => {
            for c in checks::load_cards(&cli.cards)? {
                println!("{:<28} {:<10} {}", c.id, format!("{:?}", c.provenance).to_lowercase(), c.title);
            }
            Ok(true)
        }
        Command::Show { id } => {
            let card = find(&cli.cards, &id)?;
            println!("{} — {}\nprovenance: {:?}   reference: {}", card.id, card.title, card.provenance, card.reference);
            println!("check: {}   expect: {:?}\n\n{}\n", card.check, card.expect, card.statement.trim());
            println!("parameters:");
            for (k, v) in &card.parameters {
                println!("  {k} = {v}");
            }
            println!("tolerances: {:?}\n  why: {}", card.tolerances, card.tolerance_why);
            for (i, c) in card.negative_controls.iter().enumerate() {
                let set: Vec<String> = c.set.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                println!("negative control {}: {} [{}] must {:?}", i + 1, c.description, set.join(", "), c.expect);
            }
            Ok(true)
        }
        Command::Check { ids, all, sets, controls, verbose, format } => {
            let mut cards = checks::load_cards(&cli.cards)?;
            if !all {
                if ids.is_empty() {
                    return Err(InputError::new("check", "name card ids or pass --all"));
                }
                for id in &ids {
                    if !cards.iter().any(|c| &c.id == id) {
                        return Err(InputError::new(id, "no such card (see `mirrorflow list`)"));
                    }
                }
                cards.retain(|c| ids.contains(&c.id));
            }
            let mut outcomes = Vec::new();
            for card in &mut cards {
                if !sets.is_empty() {
                    let spec = checks::spec_of(&card.check).expect("validated");
                    card.apply_sets(&sets, &spec)?;
                }
                let o = checks::run_card(card)?;
                if format == Format::Text {
                    print_outcome(&o, verbose);
                }
                outcomes.push(o);
                if controls {
                    for i in 0..card.negative_controls.len() {
                        let o = checks::run_control(card, i)?;
                        if format == Format::Text {
                            print_outcome(&o, verbose);
                        }
                        outcomes.push(o);
                    }
                }
            }
            let ok = outcomes.iter().all(|o| o.matches);
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&outcomes).expect("serialisable"));
            } else {
                let matched = outcomes.iter().filter(|o| o.matches).count();
                println!("{matched} of {} outcomes as expected", outcomes.len());
            }
            Ok(ok)
        }
        Command::Flow { data, depth, q, alpha, balance, weight_decay, decay, t_end, until_loss, format } => {
            let depth = check_depth("--depth", depth)?;
            let q = check_q("--q", q)?;
            let alpha = check_positive("--alpha", alpha)?;
            let mu = check_nonnegative("--weight-decay", weight_decay)?;
            let t_end = check_positive("--t-end", t_end)?;
            if let Some(e) = until_loss {
                check_positive("--until-loss", e)?;
            }
            let source = data.display().to_string();
            let text =
                std::fs::read_to_string(&data).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
            let problem = Problem::from_json(&source, &text)?;
            let model = DeepDiagonal::new(depth, problem.dim());
            let init = Initialization::lambda(alpha, depth, balance);
            let w0 = model.init(&init, q).map_err(|e| InputError::new("--balance", e.message))?;
            let decay = match (mu, decay) {
                (0.0, _) => WeightDecay::None,
                (_, Decay::Coupled) => WeightDecay::Coupled(mu),
                (_, Decay::Decoupled) => WeightDecay::Decoupled(mu),
            };
            let flow = SteepestFlow { problem: &problem, model: &model, q, decay };
            let settings = Settings { rtol: 1e-12, atol: 1e-14, ..Settings::default() };
            let result = run_until_loss(&flow, &w0, t_end, until_loss, 1, &settings);
            let tr = match result {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("INCONCLUSIVE: {e}");
                    return Ok(false);
                }
            };
            let x = model.x(tr.last());
            let loss = problem.loss(&x);
            let reached = until_loss.is_none_or(|e| loss <= e);
            if format == Format::Json {
                let out = serde_json::json!({
                    "x": x.as_slice(), "loss": loss, "t": tr.t_end(), "reached": reached,
                    "w": tr.last().as_slice(), "stats": tr.stats,
                    "depth": depth, "q": q, "alpha": alpha, "balance": balance,
                });
                println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
            } else {
                let xs: Vec<String> = x.iter().map(|v| show_number(*v)).collect();
                println!("x = [{}]", xs.join(", "));
                println!(
                    "loss = {loss:.3e} at t = {:.6}   ({} steps, {} rhs evaluations, {} switching events)",
                    tr.t_end(),
                    tr.stats.steps,
                    tr.stats.rhs_evals,
                    tr.stats.events
                );
            }
            if !reached {
                eprintln!("INCONCLUSIVE: loss {loss:.3e} above --until-loss at t_end = {t_end}");
            }
            Ok(reached)
        }
        cmd @ Command::Bias { .. } => bias(cmd),
    }
}

fn bias(cmd: Command) -> InputResult<bool> {
    let Command::Bias { data, depth, q, alpha, balance, two_sided, compare_flow, t_end, format } = cmd else {
        unreachable!("bias subcommand")
    };
    let depth = check_depth("--depth", depth)?;
    let q = check_q("--q", q)?;
    if q != 2.0 {
        return Err(InputError::new("--q", "the Bregman projection is the flow limit only for q = 2 (THEORY §5)"));
    }
    let alpha = check_positive("--alpha", alpha)?;
    let t_end = check_positive("--t-end", t_end)?;
    let source = data.display().to_string();
    let text = std::fs::read_to_string(&data).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
    let problem = Problem::from_json(&source, &text)?;
    if problem.loss != mirrorflow::problem::Loss::Squared {
        return Err(InputError::new(format!("{source}: loss"), "the Bregman projection needs the squared loss"));
    }
    let model =
        if two_sided { DeepDiagonal::two_sided(depth, problem.dim()) } else { DeepDiagonal::new(depth, problem.dim()) };
    let init = Initialization::lambda(alpha, depth, balance);
    let w0 = model.init(&init, q).map_err(|e| InputError::new("--balance", e.message))?;
    let (a, y) = (&problem.a, &problem.y);
    let proj = mirrorflow::checks::bias::predicted_limit(&model, &w0, q, &init.constants, a, a, y);
    let mut out = serde_json::json!({
        "x": proj.x.as_slice(), "residual": proj.residual, "objective": proj.objective, "gap": proj.gap,
        "converged": proj.converged, "stats": proj.stats,
        "depth": depth, "q": q, "alpha": alpha, "balance": balance, "two_sided": two_sided,
    });
    let mut ok = proj.converged;
    if !proj.converged {
        eprintln!("INCONCLUSIVE: the dual solve did not converge (residual {:.3e})", proj.residual);
    }
    if compare_flow {
        let flow = SteepestFlow { problem: &problem, model: &model, q, decay: WeightDecay::None };
        let settings = Settings::default();
        match run_until_loss(&flow, &w0, t_end, Some(1e-14), 1, &settings) {
            Ok(tr) => {
                let xf = model.x(tr.last());
                let loss = problem.loss(&xf);
                let distance = (&xf - &proj.x).norm() / proj.x.norm();
                out["flow"] = serde_json::json!({
                    "x": xf.as_slice(), "loss": loss, "t": tr.t_end(), "stats": tr.stats, "distance": distance,
                });
                if loss > 1e-14 {
                    eprintln!("INCONCLUSIVE: flow loss {loss:.3e} above 1e-14 at t_end = {t_end}");
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("INCONCLUSIVE: flow: {e}");
                ok = false;
            }
        }
    }
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
    } else {
        let xs: Vec<String> = proj.x.iter().map(|v| show_number(*v)).collect();
        println!("x = [{}]", xs.join(", "));
        println!(
            "residual = {:.3e}   D_R(x, x0) = {}   gap = {:.3e}   ({}: {} iterations, {} gradient, {} Hessian, {} cost evaluations)",
            proj.residual,
            show_number(proj.objective),
            proj.gap,
            proj.stats.method,
            proj.stats.iterations,
            proj.stats.gradient_evals,
            proj.stats.hessian_evals,
            proj.stats.cost_evals
        );
        if let Some(f) = out.get("flow") {
            println!(
                "flow: loss = {:.3e} at t = {}   relative distance to the projection = {:.3e}",
                f["loss"].as_f64().unwrap_or(f64::NAN),
                f["t"],
                f["distance"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(ok)
}

fn find(dir: &std::path::Path, id: &str) -> InputResult<Card> {
    checks::load_cards(dir)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| InputError::new(id, "no such card (see `mirrorflow list`)"))
}

fn print_outcome(o: &Outcome, verbose: bool) {
    let mark = if o.matches { "" } else { "   <-- UNEXPECTED" };
    println!(
        "{:<13} {:<36} expect {:<8} {:>4} rows {:>7.2}s{mark}",
        o.verdict.label(),
        o.theorem,
        o.expected,
        o.evidence.len(),
        o.seconds
    );
    if !o.verdict.reason().is_empty() {
        println!("    {}", o.verdict.reason());
    }
    // the worst row (largest error/tolerance) of each quantity, or every row with --verbose
    let mut shown: Vec<&mirrorflow::verdict::Evidence> = Vec::new();
    for e in &o.evidence {
        let ratio = |e: &mirrorflow::verdict::Evidence| if e.tolerance > 0.0 { e.error / e.tolerance } else { e.error };
        match shown.iter_mut().find(|s| s.quantity == e.quantity) {
            Some(s) if !verbose => {
                if ratio(e).is_nan() || ratio(e) > ratio(s) {
                    *s = e;
                }
            }
            _ => shown.push(e),
        }
    }
    for e in shown {
        println!(
            "    {:<13} {:<52} predicted {:>11.4e} measured {:>11.4e} err {:>9.2e} tol {:>8.1e}  [{}] {}",
            e.verdict.label(),
            e.quantity,
            e.predicted,
            e.measured,
            e.error,
            e.tolerance,
            e.case,
            e.route
        );
    }
}

/// Six significant digits, in scientific notation outside [1e−4, 1e6).
fn show_number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{}", round_sig(v, 6))
    } else {
        format!("{v:.5e}")
    }
}
