//! The `mirrorflow` command line: list, show and check theorem cards; run flows on your data.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mirrorflow::checks::{self, Outcome};
use mirrorflow::claims::Card;
use mirrorflow::discrete::{Method, Optimizer};
use mirrorflow::error::{check_depth, check_nonnegative, check_positive, check_q, InputError, InputResult};
use mirrorflow::flow::{run_until_loss, Flow, SteepestFlow, WeightDecay};
use mirrorflow::ode::Settings;
use mirrorflow::problem::Problem;
use mirrorflow::reparam::{DeepDiagonal, Initialization, Reparameterization};
use mirrorflow::verdict::{display_number, round_sig};
use mirrorflow::{
    bench, figures,
    report::{self, Report},
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mirrorflow",
    version,
    about = "Falsifiable checks of 'Never Saddle for Reparameterized Steepest Descent as Mirror Flow'"
)]
struct Cli {
    /// A folder of your own theorem cards (*.toml), added to the cards built into mirrorflow (an id
    /// that is already taken is an error naming both files).
    #[arg(long, global = true, value_name = "DIR")]
    cards: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// Whose limit `mirrorflow bias` predicts.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum BiasOptimizer {
    /// Gradient flow: the Bregman projection of the model's potential.
    Flow,
    /// GD with step --lr on u ⊙ v: the effective Bregman projection.
    Gd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ReportFormat {
    Md,
    Json,
    Html,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OptimizerName {
    Gd,
    Signgd,
    Adam,
    Adamw,
}

/// The `integrated` line of `escape`'s text output: the measured time, its relative error against the
/// closed form and the solver's counts, or INCONCLUSIVE with the reason.
fn print_integrated(
    integrated: Option<f64>,
    error: Option<f64>,
    stats: Option<mirrorflow::ode::Stats>,
    reason: Option<&str>,
) {
    match (integrated, error, stats) {
        (Some(t), Some(e), Some(s)) => println!(
            "integrated    T = {}   (relative error {e:.2e}; {} steps, {} rhs evaluations)",
            display_number(t),
            s.steps,
            s.rhs_evals
        ),
        _ => println!("integrated    INCONCLUSIVE: {}", reason.unwrap_or_default()),
    }
}

/// `--times`, `--samples`: where `flow` and `train` record their trajectory.
#[derive(clap::Args)]
struct Sampling {
    /// Record the trajectory at these flow times (increasing, > 0; comma-separated). The run ends at
    /// the last one (for flow, instead of --t-end; for train, flow time η·k: the nearest step).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, conflicts_with = "samples")]
    times: Option<Vec<f64>>,
    /// Record the trajectory at N log-spaced times from 10⁻⁶·T to T (T = --t-end; for train, the
    /// nearest steps from 1 to --steps, repeats dropped).
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
}

/// Most trajectory samples a run may record (a budget).
const MAX_SAMPLES: usize = 100_000;

impl Sampling {
    /// The sample times of a run with horizon `t_end`: the given times, N log-spaced ones, or
    /// just `t_end`.
    fn times(&self, t_end: f64) -> InputResult<Vec<f64>> {
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
#[derive(serde::Serialize)]
struct Sample {
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<u64>,
    t: f64,
    x: Vec<f64>,
    loss: f64,
}

/// A trajectory as CSV: `[step,]t,loss,x0,x1,…`, one row per sample, full precision.
fn trajectory_csv(samples: &[Sample]) -> String {
    let dim = samples.first().map_or(0, |s| s.x.len());
    let step = samples.first().is_some_and(|s| s.step.is_some());
    let mut header: Vec<String> = if step { vec!["step".into()] } else { vec![] };
    header.extend(["t".to_string(), "loss".to_string()]);
    header.extend((0..dim).map(|i| format!("x{i}")));
    let mut out = header.join(",") + "\n";
    for s in samples {
        let mut row: Vec<String> = s.step.iter().map(|k| k.to_string()).collect();
        row.push(csv_number(s.t));
        row.push(csv_number(s.loss));
        row.extend(s.x.iter().map(|v| csv_number(*v)));
        out += &(row.join(",") + "\n");
    }
    out
}

/// A number in the shortest digits that parse back to the same f64 (exponent form outside
/// [1e-4, 1e15)).
fn csv_number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e15).contains(&v.abs()) || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum RunFormat {
    Text,
    Json,
    /// The trajectory as CSV.
    Csv,
}

/// `--data`, `--targets`, `--loss-scale`: the data of the regression commands.
#[derive(clap::Args)]
struct DataArgs {
    /// The data: JSON {"a": [[..],..], "y": [..]}; a CSV matrix (one sample per row, a header row
    /// skipped) or a NumPy .npy matrix, with --targets; or an .npz archive with arrays `a` and `y`.
    #[arg(long)]
    data: PathBuf,
    /// The targets of CSV or .npy data: a .csv (one per row) or .npy (1-D) file.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// The squared loss summed, f = ½‖Ax − y‖², or averaged over the n samples, f = 1/(2n)‖Ax − y‖².
    #[arg(long, value_enum, default_value = "sum")]
    loss_scale: LossScaleArg,
}

impl DataArgs {
    /// The problem: read by the one loader, its loss scaled.
    fn load(&self) -> InputResult<Problem> {
        let scale = match self.loss_scale {
            LossScaleArg::Sum => mirrorflow::problem::LossScale::Sum,
            LossScaleArg::Mean => mirrorflow::problem::LossScale::Mean,
        };
        Problem::load_data(&self.data, self.targets.as_deref())?.with_loss_scale(scale)
    }
}

/// The deep diagonal model: one- or two-sided.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum ModelKind {
    /// x = ∏_i w_i over the L layers.
    OneSided,
    /// x = ∏_i w⁺_i − ∏_i w⁻_i over the L layers (signed targets).
    TwoSided,
}

/// The initialisation of every side of the model.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum InitKind {
    /// Every layer at α (layer 1 at (α^q + λ)^{1/q} with --balance λ).
    Balanced,
    /// Layer 1 at 0, layers 2..L at α: x(0) = 0 (λ = −α^q; excludes --balance).
    Coercive,
}

/// `--model`, `--init`, `--depth`, `--alpha`, `--balance`: the deep diagonal model of the
/// data commands and its initialisation.
#[derive(clap::Args)]
struct ModelArgs {
    /// one-sided x = ∏_i w_i, or two-sided x = ∏_i w⁺_i − ∏_i w⁻_i (both sides at the same init)
    /// [default: one-sided; margin: two-sided]
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
    /// balanced: every layer at α; coercive: layer 1 at 0, the other layers at α, on each side.
    #[arg(long, value_enum, default_value = "balanced")]
    init: InitKind,
    /// Depth L ≥ 1.
    #[arg(long, allow_hyphen_values = true)]
    depth: i64,
    /// Initial scale α > 0 (required; margin: default 0.1).
    #[arg(long, allow_hyphen_values = true)]
    alpha: Option<f64>,
    /// Imbalance λ (balanced init): layer 1 starts at (α^q + λ)^{1/q}, so |w_1|^q − |w_i|^q = λ.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    balance: f64,
}

/// A model built from [`ModelArgs`]: the map, its initialisation and the initial weights.
struct BuiltModel {
    model: DeepDiagonal,
    init: Initialization,
    w0: nalgebra::DVector<f64>,
    depth: usize,
    alpha: f64,
    kind: ModelKind,
}

impl ModelArgs {
    /// The model on R^dim at exponent q (the balance constants are in |w|^q units); `default` is
    /// the command's model when --model is absent, `default_alpha` its α when --alpha is.
    fn build(&self, dim: usize, q: f64, default: ModelKind, default_alpha: Option<f64>) -> InputResult<BuiltModel> {
        let depth = check_depth("--depth", self.depth)?;
        let alpha = match self.alpha.or(default_alpha) {
            Some(a) => check_positive("--alpha", a)?,
            None => return Err(InputError::new("--alpha", "required: the initial scale α > 0")),
        };
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
        Ok(BuiltModel { model, init, w0, depth, alpha, kind })
    }
}

impl BuiltModel {
    /// The model's description in JSON outputs.
    fn json(&self, init: InitKind, balance: f64) -> serde_json::Value {
        serde_json::json!({
            "model": match self.kind { ModelKind::OneSided => "one-sided", ModelKind::TwoSided => "two-sided" },
            "init": if init == InitKind::Coercive { "coercive" } else { "balanced" },
            "depth": self.depth, "alpha": self.alpha, "balance": balance,
        })
    }

    /// A one-sided model from a positive (balanced) init on squared-loss data that no x ≥ 0 fits
    /// (the orthant feasibility problem by NNLS): warn on stderr and return the residual.
    fn warn_if_infeasible(&self, problem: &Problem, init: InitKind) -> Option<f64> {
        if self.model.two_sided || init == InitKind::Coercive || problem.loss != mirrorflow::problem::Loss::Squared {
            return None;
        }
        let r = mirrorflow::bias::nonnegative_infeasible(&problem.a, &problem.y)?;
        eprintln!(
            "warning: no x ≥ 0 fits the data: residual min_(x≥0) ‖Ax − y‖ = {r:.3e}; the one-sided model \
             from a positive init reaches other x only through a layer crossing 0; use --model two-sided"
        );
        Some(r)
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum LossScaleArg {
    /// f = ½‖Ax − y‖².
    Sum,
    /// f = 1/(2n)‖Ax − y‖².
    Mean,
}

/// The initialisation of the `escape` command.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum EscapeInit {
    /// Balanced: every layer at α, x_0 = α^L (THEORY §4).
    Balanced,
    /// Coercive (the paper's Cor. 4.10): w_1 = 0, the other layers at α = λ, x_0 = 0 (THEORY §9).
    Coercive,
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
    /// The card format and each claim's keys, types, defaults and tolerances (generated from the
    /// claim types; docs/CARDS.md holds the same page).
    Claims {
        /// One claim (`family/claim`); default: the whole page.
        id: Option<String>,
    },
    /// Show a card: statement, parameters, tolerances, negative controls.
    Show {
        /// Card id.
        id: String,
    },
    /// Check cards with their negative controls; exit 0 iff every outcome matches its expectation.
    #[command(after_help = "Examples:
  mirrorflow check --all                      every default-tier card with its negative controls
  mirrorflow check escape-time --set q=1.5    one card with a parameter overridden
  mirrorflow check my-card.toml               a card file of your own
  mirrorflow check --all --format json > outcomes.json
  mirrorflow check --all --shard 3/8 --out shard-3   one of 8 shards (merge: report --merge)")]
    Check {
        /// Card ids, or paths to card files (`path/to/card.toml`).
        ids: Vec<String>,
        /// Check every card of the default tier (add --paper-scale for the rest).
        #[arg(long)]
        all: bool,
        /// Include the cards at the paper's own scale (`tier = "paper-scale"`, minutes each).
        #[arg(long)]
        paper_scale: bool,
        /// Override a parameter: key=value (TOML value syntax; `grid.key=[…]` sets a grid axis),
        /// repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Skip the negative controls (by default each must give its expected verdict).
        #[arg(long)]
        no_controls: bool,
        /// Re-solve every card at 10× tighter integration tolerances: a row whose error moves by
        /// more than a tenth of its tolerance becomes INCONCLUSIVE.
        #[arg(long)]
        verify_numerics: bool,
        /// Worker threads (default: all cores; at most 4 × cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print every evidence row.
        #[arg(long, short)]
        verbose: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Compare with a saved report.json (exit 1 on a regression: a verdict no longer as
        /// expected, a card or control missing, an unknown verdict).
        #[arg(long)]
        diff: Option<PathBuf>,
        /// Run only shard K of N (1 ≤ K ≤ N): the selected cards sorted by id, every N-th from the
        /// K-th (a card is never split). Write each shard's report with --out and join them with
        /// `report --merge`. A shard with no cards is a valid, empty run.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Also write report.json and report.md to this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run every card (or the named ones) with its controls and write report.md, report.json and
    /// SVG plots; with --diff, compare with an earlier report.json (exit 1 if a verdict regressed).
    #[command(after_help = "Examples:
  mirrorflow report --out mirrorflow-report
  mirrorflow report --diff snapshots/report.json --no-plots
  mirrorflow report --table mirrorflow-report/report.json
  mirrorflow report --shard 2/8 --out shard-2 --no-plots
  mirrorflow report --merge shard-*/report.json --out merged")]
    Report {
        /// Card ids or card files (default: all cards).
        ids: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = "mirrorflow-report")]
        out: PathBuf,
        /// Also write report.html (md and json are always written).
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// An earlier report.json to compare with.
        #[arg(long)]
        diff: Option<PathBuf>,
        /// Skip the plots.
        #[arg(long)]
        no_plots: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Worker threads (default: all cores; at most 4 × cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (see `check --shard`); the shard's report.json records K/N and
        /// no plots are drawn (the merge draws them).
        #[arg(long, value_name = "K/N", conflicts_with_all = ["merge", "table"])]
        shard: Option<String>,
        /// Merge the report.json of shards (or of disjoint runs) into one report, as the unsharded
        /// run writes it, and run no cards. Exit 2 on a card in two inputs, a missing or repeated
        /// shard, or inputs of different builds.
        #[arg(long, num_args = 1.., value_name = "REPORT_JSON", conflicts_with = "table")]
        merge: Vec<PathBuf>,
        /// Print the verdict table of a saved report.json (the README's table) and run nothing.
        #[arg(long, value_name = "REPORT_JSON")]
        table: Option<PathBuf>,
    },
    /// Run one card's grid point by point, printing a JSON line per point as it finishes (no
    /// negative controls); exit 0 when every point ran (whatever its verdict).
    #[command(after_help = "Examples:
  mirrorflow sweep escape-time > sweep.jsonl
  mirrorflow sweep escape-time --set grid.q=[1.0,1.25,1.5,1.75,2.0] --shard 2/4 --resume part-2.jsonl")]
    Sweep {
        /// Card id or card file.
        id: String,
        /// Override a parameter (as for `check`), repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Run only shard K of N of the grid points (point i to shard i mod N + 1).
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Append the lines to FILE (created if missing), skipping the points already in it.
        #[arg(long, value_name = "FILE")]
        resume: Option<PathBuf>,
        /// Worker threads (default: all cores; at most 4 × cores); lines come in finishing order.
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Test the tester: run the table of wrong claims (tests/wrong_claims.toml); exit 0 iff none
    /// is PASS.
    Selftest {
        /// A table of wrong claims other than the built-in one.
        #[arg(long)]
        table: Option<PathBuf>,
        /// Worker threads (default: all cores; at most 4 × cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Benchmarks, printed as ratios against a baseline run in the same process.
    Bench {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Run the steepest flow of a deep diagonal model on your data.
    #[command(after_help = "Examples:
  mirrorflow flow --data data.json --depth 2 --q 2 --alpha 0.1 --until-loss 1e-10
  mirrorflow flow --data data.json --depth 3 --q 1 --alpha 1e-3 --t-end 100 --format json
  mirrorflow flow --data data.json --depth 2 --q 2 --alpha 0.1 --times 0.5,1,2,4 --format csv
  mirrorflow flow --data data.json --depth 2 --q 2 --alpha 0.1 --t-end 1e4 --samples 50 --format json")]
    Flow {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        model: ModelArgs,
        /// Steepest-descent exponent q ∈ [1, 2].
        #[arg(long, allow_hyphen_values = true)]
        q: f64,
        /// Weight decay μ ≥ 0.
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        weight_decay: f64,
        /// Coupled (Adam + L2) or decoupled (AdamW) weight decay.
        #[arg(long, value_enum, default_value = "decoupled")]
        decay: Decay,
        /// Time horizon.
        #[arg(long, default_value_t = 1e4, allow_hyphen_values = true)]
        t_end: f64,
        /// Stop when the loss reaches this value.
        #[arg(long, allow_hyphen_values = true)]
        until_loss: Option<f64>,
        #[command(flatten)]
        sampling: Sampling,
        /// Output format (csv: the trajectory).
        #[arg(long, value_enum, default_value = "text")]
        format: RunFormat,
    },
    /// Saddle escape time of the steepest flow on f(x) = −γx (THEORY §4, §9): closed form vs the
    /// integrated parameter flow, at one α or over a sweep; `--init coercive` starts at the saddle
    /// x = 0 (w_1 = 0, the other layers at α); `--level inf` gives the blow-up time of m > 1.
    Escape {
        /// Depth L ≥ 1.
        #[arg(long, allow_hyphen_values = true)]
        depth: i64,
        /// Steepest-descent exponent q ∈ [1, 2].
        #[arg(long, allow_hyphen_values = true)]
        q: f64,
        /// Initial scale α > 0 (single run); with `--init coercive` the scale λ of layers 2..L.
        #[arg(long, allow_hyphen_values = true, required_unless_present = "sweep")]
        alpha: Option<f64>,
        /// Initialisation: balanced (all layers at α) or coercive (w_1 = 0, the others at α).
        #[arg(long, value_enum, default_value = "balanced")]
        init: EscapeInit,
        /// Gradient magnitude γ > 0 of the linear loss f(x) = −γx.
        #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
        gradient: f64,
        /// Escape level x_1 > x_0 (α^L balanced, 0 coercive); `inf`: the blow-up time (balanced).
        #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
        level: f64,
        /// Sweep over α (see --alphas).
        #[arg(long)]
        sweep: bool,
        /// Geometric α sweep first:last:count.
        #[arg(long, default_value = "1e-1:1e-6:11")]
        alphas: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Train a deep diagonal model on your data with a discrete optimizer (GD, SignGD, Adam, AdamW).
    #[command(after_help = "Examples:
  mirrorflow train --data data.json --optimizer gd --lr 0.01 --steps 10000 --depth 2 --alpha 0.1
  mirrorflow train --data data.json --optimizer adamw --lr 1e-3 --steps 5000 --depth 2 --alpha 0.1 --weight-decay 1e-2
  mirrorflow train --data data.json --optimizer gd --lr 0.01 --steps 10000 --depth 2 --alpha 0.1 --samples 20 --format csv")]
    Train {
        #[command(flatten)]
        data: DataArgs,
        /// The optimizer: Adam takes the decay coupled (Adam + L2), AdamW decoupled.
        #[arg(long, value_enum)]
        optimizer: OptimizerName,
        /// Step size η > 0.
        #[arg(long, allow_hyphen_values = true)]
        lr: f64,
        /// Number of steps K ≥ 1.
        #[arg(long, allow_hyphen_values = true)]
        steps: i64,
        /// The model (its --balance in |w|^q units: q = 2 for GD, 1 otherwise).
        #[command(flatten)]
        model: ModelArgs,
        /// Weight decay μ ≥ 0.
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        weight_decay: f64,
        /// For gd and signgd: coupled (L2 in the gradient) or decoupled decay.
        #[arg(long, value_enum, default_value = "decoupled")]
        decay: Decay,
        /// Adam β1 ∈ [0, 1).
        #[arg(long, default_value_t = 0.9, allow_hyphen_values = true)]
        beta1: f64,
        /// Adam β2 ∈ [0, 1).
        #[arg(long, default_value_t = 0.999, allow_hyphen_values = true)]
        beta2: f64,
        /// Adam ε ≥ 0.
        #[arg(long, default_value_t = 1e-8, allow_hyphen_values = true)]
        eps: f64,
        #[command(flatten)]
        sampling: Sampling,
        /// Output format (csv: the trajectory).
        #[arg(long, value_enum, default_value = "text")]
        format: RunFormat,
    },
    /// Predict the GF limit on your data: the Bregman projection argmin D_R(x, x0) s.t. Ax = y.
    #[command(after_help = "Examples:
  mirrorflow bias --data data.json --depth 2 --alpha 0.01
  mirrorflow bias --data data.json --depth 3 --alpha 0.1 --model two-sided --compare-flow --format json")]
    Bias {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        model: ModelArgs,
        /// Steepest-descent exponent: the Bregman projection is the limit for q = 2 only.
        #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
        q: f64,
        /// Alias of --model two-sided (kept for existing scripts).
        #[arg(long, conflicts_with = "model")]
        two_sided: bool,
        /// Also run gradient flow to loss ≤ 1e−14 and report its limit and the distance.
        #[arg(long)]
        compare_flow: bool,
        /// `gd`: predict the limit of GD with step --lr on u ⊙ v (depth 2, one-sided, --balance > 0) as
        /// the effective Bregman projection (THEORY §5.6; GD is run to loss 1e−26 for δ_∞ and φ).
        #[arg(long, value_enum, default_value = "flow")]
        optimizer: BiasOptimizer,
        /// Step size γ of `--optimizer gd`.
        #[arg(long, allow_hyphen_values = true)]
        lr: Option<f64>,
        /// Time horizon of the flow.
        #[arg(long, default_value_t = 1e6, allow_hyphen_values = true)]
        t_end: f64,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The saddle-to-saddle limit (α → 0, time t/ln(1/α)) of the two-sided depth-2 model on the squared
    /// loss: Algorithm 1 of Pesme & Flammarion 2023 (THEORY §5.12): jump times, saddles, duals, losses.
    #[command(after_help = "Example:\n  mirrorflow saddle-to-saddle --data data.json --format json")]
    SaddleToSaddle {
        #[command(flatten)]
        data: DataArgs,
        /// Stop after this many jumps (1 to 1000) if no global minimiser is reached.
        #[arg(long, default_value_t = 100)]
        max_jumps: usize,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Separable classification (exponential loss): the flow's normalised ℓ_{p/L} margin along a
    /// sweep of times against the predicted max-margin point (THEORY §5).
    #[command(after_help = "Examples:
  mirrorflow margin --data labels.json --depth 2 --q 2
  mirrorflow margin --data labels.json --depth 3 --q 1 --times 10,100,1000 --format json")]
    Margin {
        /// The data: JSON {"a": [[..],..], "y": [±1, ..], "loss": "exponential"}, or a CSV/.npy matrix
        /// with --targets (labels ±1), or an .npz with arrays `a` and `y` (these take the exponential
        /// loss).
        #[arg(long)]
        data: PathBuf,
        /// The labels of CSV or .npy data (.csv or .npy).
        #[arg(long)]
        targets: Option<PathBuf>,
        /// The model (default two-sided, α = 0.1).
        #[command(flatten)]
        model: ModelArgs,
        /// Steepest-descent exponent q ∈ [1, 2] (1: sign flow).
        #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
        q: f64,
        /// Increasing flow times, comma-separated (default 1e14,…,1e300 for q > 1; 10,…,2560 for q = 1).
        #[arg(long)]
        times: Option<String>,
        /// Coordinates with |x_i| below this fraction of ‖x‖∞ at the last time count as dead.
        #[arg(long, default_value_t = 1e-2, allow_hyphen_values = true)]
        support: f64,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Compare two saved report.json files without running anything: verdict changes first, then
    /// figures that moved beyond their tolerance. Exit 1 on a regression (a verdict no longer as
    /// expected, a card or control of OLD missing from NEW, an unknown verdict), 0 otherwise, 2 when
    /// a file cannot be read.
    #[command(after_help = "Examples:
  mirrorflow diff snapshots/report.json mirrorflow-report/report.json
  mirrorflow check --all --out today && mirrorflow diff yesterday/report.json today/report.json")]
    Diff {
        /// The earlier report.json.
        old: PathBuf,
        /// The later report.json.
        new: PathBuf,
    },
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:
  mirrorflow completions bash > ~/.local/share/bash-completion/completions/mirrorflow
  mirrorflow completions zsh > ~/.zfunc/_mirrorflow
  mirrorflow completions fish > ~/.config/fish/completions/mirrorflow.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn check_beta(field: &str, v: f64) -> InputResult<f64> {
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(InputError::new(field, format!("must lie in [0, 1), got {v}")))
    }
}

fn main() -> ExitCode {
    // a closed pipe (`mirrorflow check --all | head -1`) ends the process quietly, as for any
    // Unix filter, instead of a panic in println!
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
        Command::Diff { old, new } => {
            let (before, after) = (read_report(&old)?, read_report(&new)?);
            Ok(print_diff(&before, &after, &old))
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mirrorflow", &mut std::io::stdout());
            Ok(true)
        }
        Command::List => {
            for c in library(&cli.cards)? {
                println!("{:<28} {:<10} {}", c.id, format!("{:?}", c.provenance).to_lowercase(), c.title);
            }
            Ok(true)
        }
        Command::Selftest { table, jobs } => {
            let wrong = match &table {
                Some(path) => {
                    let source = path.display().to_string();
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
                    mirrorflow::selftest::parse(&source, &text)?
                }
                None => mirrorflow::selftest::parse("tests/wrong_claims.toml", mirrorflow::selftest::TABLE)?,
            };
            let cards = library(&cli.cards)?;
            let pool = pool(jobs)?;
            let mut passed = 0;
            let mut counts = std::collections::BTreeMap::new();
            for w in &wrong {
                let answer = pool.install(|| mirrorflow::selftest::run(&cards, w))?;
                *counts.entry(answer.label()).or_insert(0) += 1;
                if !answer.caught() {
                    passed += 1;
                }
                let mark = if answer.caught() { "caught" } else { "MISSED" };
                println!("{mark} {:<12} {} --set {}   ({})", answer.label(), w.card, w.set.join(" --set "), w.why);
            }
            let tally: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
            println!("{} wrong claims: {passed} PASS ({})", wrong.len(), tally.join(", "));
            Ok(passed == 0)
        }
        Command::Claims { id } => {
            match id {
                None => print!("{}", checks::docs::markdown()),
                Some(id) => {
                    let c = checks::claim(&id)
                        .ok_or_else(|| InputError::new(&id, "no such claim (see `mirrorflow claims`)"))?;
                    print!("{}", checks::docs::claim_section(&c));
                }
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
        Command::Check {
            ids,
            all,
            paper_scale,
            sets,
            no_controls,
            verify_numerics,
            jobs,
            verbose,
            quiet,
            diff,
            shard,
            out,
            format,
        } => {
            let mut shard = shard.as_deref().map(mirrorflow::shard::Shard::parse).transpose()?;
            let old = diff.as_deref().map(read_report).transpose()?;
            let mut cards = select_cards(&cli.cards, &ids, all, paper_scale)?;
            if let Some(k) = shard.as_mut() {
                cards = k.select(cards);
                if !quiet {
                    eprintln!("shard {k}: {} of {} cards", cards.len(), k.selected);
                }
            }
            for card in &mut cards {
                if !sets.is_empty() {
                    card.apply_sets(&sets)?;
                    checks::validate_card(card)?;
                }
            }
            let pool = pool(jobs)?;
            let runs = cards.iter().map(|c| 1 + if no_controls { 0 } else { c.negative_controls.len() }).sum::<usize>();
            let bar = progress_bar(runs, quiet, "runs");
            let options = checks::RunOptions { controls: !no_controls, verify_numerics };
            let mut outcomes = Vec::new();
            let mut entries = Vec::new();
            let mut json = Vec::new();
            let provenance = report::Provenance::now();
            // every card (and within it every control and grid point) in parallel on the pool; the
            // outcomes are printed afterwards in card order, identical for any --jobs
            use rayon::prelude::*;
            let batches = pool.install(|| {
                cards
                    .par_iter()
                    .map(|card| checks::run_with_controls(card, &options, &|| bar.inc(1)))
                    .collect::<Vec<_>>()
            });
            for (card, batch) in cards.iter().zip(batches) {
                let batch = batch?;
                if format == Format::Text {
                    bar.suspend(|| batch.iter().for_each(|o| print_outcome(o, verbose)));
                } else {
                    for (i, o) in batch.iter().enumerate() {
                        json.push(outcome_json(o, card, i.checked_sub(1), &sets, &provenance));
                    }
                }
                let mut entry = report::entry(card, &batch);
                entry.overrides = sets.clone();
                entries.push(entry);
                outcomes.extend(batch);
            }
            bar.finish_and_clear();
            let mut built = report::from_entries(entries);
            built.provenance = Some(provenance);
            built.shard = shard;
            if let Some(dir) = &out {
                write_file(dir, "report.json", &built.to_json())?;
                write_file(dir, "report.md", &built.to_markdown(&[]))?;
            }
            let mut ok = outcomes.iter().all(|o| o.matches);
            if let (Some(old), Some(path)) = (&old, &diff) {
                ok &= print_diff(&in_shard(old, &built), &built, path);
            }
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&json).expect("serialisable"));
            } else {
                let matched = outcomes.iter().filter(|o| o.matches).count();
                println!("{matched} of {} outcomes as expected", outcomes.len());
            }
            Ok(ok)
        }
        Command::Sweep { id, sets, shard, resume, jobs } => sweep(&cli.cards, &id, &sets, shard, resume, jobs),
        Command::Report { table: Some(path), .. } => {
            print!("{}", read_report(&path)?.summary_table());
            Ok(true)
        }
        Command::Report { ids, out, format, diff, no_plots, quiet, jobs, shard, merge, table: None } => {
            let run = ReportRun { format, diff, no_plots, quiet, jobs, shard, merge };
            report(&cli.cards, &ids, &out, run)
        }
        Command::Bench { format } => {
            let cards = library(&cli.cards)?;
            let lines = vec![
                bench::integrator_vs_rk4(),
                bench::switching_vs_naive(),
                bench::stiff_tail(),
                bench::bregman_dual_vs_penalty(),
                bench::log_time_vs_plain(),
                bench::sign_flow_scaling(),
                bench::jobs_scaling(&cards),
            ];
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&lines).expect("serialisable"));
            } else {
                for l in &lines {
                    println!(
                        "{}
  baseline: {}
  ours:     {}",
                        l.name, l.baseline, l.ours
                    );
                    let rhs =
                        if l.count_ratio.is_finite() { format!("rhs {:.2}x, ", l.count_ratio) } else { String::new() };
                    println!("  ratio baseline/ours: {rhs}time {:.2}x\n", l.time_ratio);
                }
            }
            Ok(true)
        }
        Command::Train {
            data,
            optimizer,
            lr,
            steps,
            model: model_args,
            weight_decay,
            decay,
            beta1,
            beta2,
            eps,
            sampling,
            format,
        } => {
            let lr = check_positive("--lr", lr)?;
            if steps < 1 {
                return Err(InputError::new("--steps", format!("must be an integer ≥ 1, got {steps}")));
            }
            if steps as f64 > mirrorflow::checks::escape::learning_rate::MAX_STEPS {
                return Err(InputError::new(
                    "--steps",
                    format!(
                        "{steps} exceeds the budget of {:e} steps",
                        mirrorflow::checks::escape::learning_rate::MAX_STEPS
                    ),
                ));
            }
            let mu = check_nonnegative("--weight-decay", weight_decay)?;
            let adam = Method::Adam {
                beta1: check_beta("--beta1", beta1)?,
                beta2: check_beta("--beta2", beta2)?,
                eps: check_nonnegative("--eps", eps)?,
            };
            let problem = data.load()?;
            let (method, q, decay) = match optimizer {
                OptimizerName::Gd => (Method::Gd, 2.0, decay),
                OptimizerName::Signgd => (Method::SignGd, 1.0, decay),
                OptimizerName::Adam => (adam, 1.0, Decay::Coupled),
                OptimizerName::Adamw => (adam, 1.0, Decay::Decoupled),
            };
            let decay = match (mu, decay) {
                (0.0, _) => WeightDecay::None,
                (_, Decay::Coupled) => WeightDecay::Coupled(mu),
                (_, Decay::Decoupled) => WeightDecay::Decoupled(mu),
            };
            let built = model_args.build(problem.dim(), q, ModelKind::OneSided, None)?;
            built.warn_if_infeasible(&problem, model_args.init);
            let (model, w0) = (built.model, built.w0.clone());
            let opt = Optimizer { method, lr, decay };
            // the steps to record: the nearest step to each sample time η·k (repeats dropped)
            let record: Vec<u64> = match (&sampling.times, sampling.samples) {
                (None, None) => vec![],
                _ => {
                    let times = sampling.times(lr * steps as f64)?;
                    let mut ks: Vec<u64> = times.iter().map(|t| (t / lr).round().max(1.0) as u64).collect();
                    ks.dedup();
                    if let Some(&k) = ks.last().filter(|&&k| k > steps as u64) {
                        return Err(InputError::new(
                            "--times",
                            format!("step {k} (flow time η·k) lies beyond --steps {steps}"),
                        ));
                    }
                    ks
                }
            };
            let sample = |s: &mirrorflow::discrete::OptState| {
                let x = model.x(&s.w);
                Sample { step: Some(s.k), t: lr * s.k as f64, loss: problem.loss(&x), x: x.as_slice().to_vec() }
            };
            // the same steps as Optimizer::run, with the states at the recorded steps kept
            let mut state = mirrorflow::discrete::OptState::new(&w0);
            let mut trajectory = vec![sample(&state)];
            let last = if record.is_empty() { steps as u64 } else { *record.last().expect("non-empty") };
            let mut next = record.iter().peekable();
            while state.k < last {
                opt.step(&problem, &model, &mut state);
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
            let balances = model.balances(&state.w, q);
            if format == RunFormat::Csv {
                print!("{}", trajectory_csv(&trajectory));
            } else if format == RunFormat::Json {
                let out = serde_json::json!({
                    "status": if finite { "ok" } else { "inconclusive" },
                    "reason": (!finite).then_some("the iterates diverged (non-finite loss or weights)"),
                    "x": x.as_slice(), "loss": loss, "steps": state.k, "balance": balances.as_slice(),
                    "balance_exponent": q, "w": state.w.as_slice(), "lr": lr, "flow_time": lr * state.k as f64,
                    "model": built.json(model_args.init, model_args.balance),
                    "trajectory": trajectory,
                });
                print_json(out);
            } else {
                let xs: Vec<String> = x.iter().map(|v| display_number(*v)).collect();
                println!("x = [{}]", xs.join(", "));
                println!(
                    "loss = {loss:.3e} after {} steps (flow time η·K = {})",
                    state.k,
                    display_number(lr * state.k as f64)
                );
            }
            if !finite {
                eprintln!("INCONCLUSIVE: the iterates diverged (non-finite loss or weights); lower --lr");
            }
            Ok(finite)
        }
        Command::Flow { data, model: model_args, q, weight_decay, decay, t_end, until_loss, sampling, format } => {
            let q = check_q("--q", q)?;
            let mu = check_nonnegative("--weight-decay", weight_decay)?;
            let t_end = check_positive("--t-end", t_end)?;
            if let Some(e) = until_loss {
                check_positive("--until-loss", e)?;
            }
            let times = sampling.times(t_end)?;
            let t_end = *times.last().expect("at least one sample time");
            let problem = data.load()?;
            let built = model_args.build(problem.dim(), q, ModelKind::OneSided, None)?;
            built.warn_if_infeasible(&problem, model_args.init);
            let (model, w0) = (built.model, built.w0.clone());
            let decay = match (mu, decay) {
                (0.0, _) => WeightDecay::None,
                (_, Decay::Coupled) => WeightDecay::Coupled(mu),
                (_, Decay::Decoupled) => WeightDecay::Decoupled(mu),
            };
            let flow = SteepestFlow { problem: &problem, model: &model, q, decay };
            let settings = Settings { rtol: 1e-12, atol: 1e-14, ..Settings::default() };
            // as run_until_loss, through the sample times
            let stop = |_t: f64, w: &nalgebra::DVector<f64>| until_loss.is_some_and(|e| flow.loss(w) <= e);
            let result = flow.run(&w0, &times, Some(&stop), &settings);
            let sample = |t: f64, w: &nalgebra::DVector<f64>| {
                let x = model.x(w);
                Sample { step: None, t, loss: problem.loss(&x), x: x.as_slice().to_vec() }
            };
            // the state reached and the status: a failed integration still reports its last state
            let (t, w, stats, status, stationary_at, trajectory) = match result {
                Ok(tr) => {
                    let trajectory: Vec<Sample> = tr.t.iter().zip(&tr.y).map(|(t, w)| sample(*t, w)).collect();
                    (tr.t_end(), tr.last().clone(), tr.stats, tr.status.clone(), tr.stationary_at, trajectory)
                }
                Err(e) => {
                    let (t, w) = e.last.clone().unwrap_or((0.0, w0.clone()));
                    let trajectory = vec![sample(0.0, &w0), sample(t, &w)];
                    let status = mirrorflow::ode::FlowStatus::Inconclusive { reason: e.to_string() };
                    (t, w, e.stats, status, None, trajectory)
                }
            };
            let x = model.x(&w);
            let loss = problem.loss(&x);
            let reached = until_loss.is_none_or(|e| loss <= e);
            let status = match status {
                mirrorflow::ode::FlowStatus::Ok if !reached => mirrorflow::ode::FlowStatus::Inconclusive {
                    reason: format!("loss {loss:.3e} above --until-loss at t_end = {t_end}"),
                },
                s => s,
            };
            let reason = match &status {
                mirrorflow::ode::FlowStatus::Inconclusive { reason } => Some(reason.clone()),
                mirrorflow::ode::FlowStatus::Ok => None,
            };
            if format == RunFormat::Csv {
                print!("{}", trajectory_csv(&trajectory));
            } else if format == RunFormat::Json {
                let out = serde_json::json!({
                    "status": status.label(), "reason": reason, "stationary_at": stationary_at,
                    "x": x.as_slice(), "loss": loss, "t": t, "reached": reached,
                    "w": w.as_slice(), "stats": stats,
                    "depth": built.depth, "q": q, "alpha": built.alpha, "balance": model_args.balance,
                    "model": built.json(model_args.init, model_args.balance),
                    "trajectory": trajectory,
                });
                print_json(out);
            } else {
                let xs: Vec<String> = x.iter().map(|v| display_number(*v)).collect();
                println!("x = [{}]", xs.join(", "));
                println!(
                    "loss = {loss:.3e} at t = {t:.6}   ({} steps, {} rhs evaluations, {} switching events)",
                    stats.steps, stats.rhs_evals, stats.events
                );
                if let Some(ts) = stationary_at {
                    println!(
                        "stationary point (∇f = 0 up to the integration tolerance) reached at t = {ts:.6}; held there"
                    );
                }
            }
            if let Some(r) = &reason {
                eprintln!("INCONCLUSIVE: {r}");
            }
            Ok(reason.is_none())
        }
        Command::Escape { depth, q, alpha, init, gradient, level, sweep, alphas, format } => {
            escape_command(depth, q, alpha, init, gradient, level, sweep, &alphas, format)
        }
        Command::SaddleToSaddle { data, max_jumps, format } => {
            let source = data.data.display().to_string();
            let face = mirrorflow::saddle::Face::SignConstrained;
            let r =
                mirrorflow::saddle::saddle_to_saddle(&data.load()?, max_jumps, face).map_err(|e| match e.location {
                    l if l == "max_jumps" => InputError::new("--max-jumps", e.message),
                    l => InputError::new(format!("{source}: {l}"), e.message),
                })?;
            if format == Format::Json {
                let mut v = serde_json::to_value(&r).expect("plain numbers serialise");
                v["status"] = "ok".into();
                println!("{v}");
            } else {
                println!("τ_0 = 0  f = {:.12e}  x = 0  s = 0", r.initial_loss);
                for k in 0..r.times.len() {
                    println!("τ_{} = {:.12}  f = {:.12e}", k + 1, r.times[k], r.losses[k]);
                    println!("  x = {:?}\n  s = {:?}", r.saddles[k], r.duals[k]);
                }
                println!("{}", if r.global_min { "global minimiser reached" } else { "stopped at --max-jumps" });
            }
            Ok(true)
        }
        cmd @ Command::Bias { .. } => bias(cmd),
        cmd @ Command::Margin { .. } => margin(cmd),
    }
}

/// `mirrorflow bias --optimizer gd`: the GD-limit prediction (THEORY §5.6).
#[allow(clippy::too_many_arguments)]
fn bias_gd(
    problem: &Problem,
    w0: &nalgebra::DVector<f64>,
    depth: usize,
    two_sided: bool,
    balance: f64,
    lr: Option<f64>,
    compare_flow: bool,
    format: Format,
) -> InputResult<bool> {
    use mirrorflow::checks::literature::gd_effective_init::{gd_prediction, MAX_STEPS};
    let lr = check_positive("--lr", lr.ok_or_else(|| InputError::new("--lr", "--optimizer gd needs --lr"))?)?;
    if depth != 2 || two_sided {
        return Err(InputError::new("--optimizer", "the GD prediction is for u ⊙ v: --depth 2, one-sided"));
    }
    if balance.is_nan() || balance <= 0.0 || compare_flow {
        let key = if compare_flow { "--compare-flow" } else { "--balance" };
        let why = "--optimizer gd needs --balance > 0 (δ_0 = u0² − v0² > 0) and compares with GD itself";
        return Err(InputError::new(key, why));
    }
    let p = gd_prediction(problem, w0, lr, 1e-26, MAX_STEPS).map_err(|e| InputError::new("--lr", e))?;
    let distance = (&p.x - &p.run.x).norm() / p.x.norm();
    let out = serde_json::json!({
        "x": p.x.as_slice(), "residual": p.residual, "converged": p.converged, "optimizer": "gd", "lr": lr,
        "effective_delta": p.run.delta.as_slice(), "shift": p.shift.as_slice(),
        "gd": { "x": p.run.x.as_slice(), "loss": p.run.loss, "steps": p.run.steps, "distance": distance },
    });
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
    } else {
        let xs: Vec<String> = p.x.iter().map(|v| display_number(*v)).collect();
        println!("x = [{}]   (GD limit predicted by the effective Bregman projection)", xs.join(", "));
        println!(
            "residual = {:.3e}   GD: loss {:.3e} after {} steps, relative distance to the prediction {:.3e}",
            p.residual, p.run.loss, p.run.steps, distance
        );
    }
    if !p.converged {
        eprintln!("INCONCLUSIVE: the dual solve did not converge (residual {:.3e})", p.residual);
    }
    Ok(p.converged)
}

/// `mirrorflow margin`: see the subcommand's doc.
fn margin(cmd: Command) -> InputResult<bool> {
    use mirrorflow::margin::{margin_exponent, max_margin, norm, prediction, signed_data, sweep_from};
    let Command::Margin { data, targets, model: model_args, q, times, support, format } = cmd else {
        unreachable!("margin subcommand")
    };
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
    let (depth, alpha) = (built.depth, built.alpha);
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
            "depth": depth, "q": q, "alpha": alpha, "model": built.json(model_args.init, model_args.balance),
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
    let names: Vec<String> = alive.iter().map(|i| (i + 1).to_string()).collect();
    println!("alive coordinates: {} of {} (|x_i| ≥ {support}·‖x‖∞)", names.join(", "), last.len());
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

/// Relative agreement demanded of the integrated escape time (the acceptance bound of issue 3;
/// the log-weight ODE at rtol 1e−11 measures ≤ 1e−11).
const ESCAPE_AGREEMENT: f64 = 1e-6;

#[allow(clippy::too_many_arguments)]
fn escape_command(
    depth: i64,
    q: f64,
    alpha: Option<f64>,
    init: EscapeInit,
    gradient: f64,
    level: f64,
    sweep: bool,
    alphas: &str,
    format: Format,
) -> InputResult<bool> {
    use mirrorflow::escape::{parse_alphas, LinearEscape};
    use std::io::IsTerminal;
    let depth = check_depth("--depth", depth)?;
    let q = check_q("--q", q)?;
    let gamma = check_positive("--gradient", gradient)?;
    if level == f64::INFINITY {
        if sweep {
            return Err(InputError::new("--level", "inf (the blow-up time) is for a single run, not with --sweep"));
        }
        if init == EscapeInit::Coercive {
            return Err(InputError::new("--level", "inf (the blow-up time) is supported for --init balanced only"));
        }
        let alpha = check_positive("--alpha", alpha.expect("clap requires --alpha without --sweep"))?;
        return escape_blow_up(depth, q, alpha, gamma, format);
    }
    let level = check_positive("--level", level)?;
    if init == EscapeInit::Coercive {
        if sweep {
            return Err(InputError::new("--sweep", "a sweep over α is for --init balanced only"));
        }
        let lambda = check_positive("--alpha", alpha.expect("clap requires --alpha without --sweep"))?;
        return escape_coercive(depth, q, lambda, gamma, level, format);
    }
    let p = LinearEscape { depth, q, gamma, level };
    let settings = Settings::default();
    let check_level = |alpha: f64| {
        if alpha.powi(depth as i32) >= level {
            Err(InputError::new("--level", format!("must exceed α^L = {:e} (α = {alpha})", alpha.powi(depth as i32))))
        } else {
            Ok(())
        }
    };
    if !sweep {
        let alpha = check_positive("--alpha", alpha.expect("clap requires --alpha without --sweep"))?;
        check_level(alpha)?;
        let closed = p.closed_form(alpha);
        let run = p.integrated(alpha, &settings);
        let (integrated, error, stats, reason) = match &run {
            Ok(r) => (Some(r.time), Some((r.time - closed).abs() / closed), Some(r.stats), None),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
        let ok = error.is_some_and(|e| e <= ESCAPE_AGREEMENT);
        if format == Format::Json {
            let out = serde_json::json!({
                "status": escape_status(ok, reason.is_some()), "init": "balanced", "depth": depth, "q": q, "alpha": alpha, "gradient": gamma, "level": level,
                "exponent": p.exponent(), "regime": p.regime().name(), "formula": p.formula(),
                "closed_form": closed, "integrated": integrated, "quadrature": p.quadrature(alpha),
                "relative_error": error, "stats": stats, "inconclusive": reason,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        } else {
            println!("regime: {} (e = q(L−1)/L = {})", p.regime().name(), round_sig(p.exponent(), 12));
            println!("closed form   T = {}  = {}", p.formula(), display_number(closed));
            print_integrated(integrated, error, stats, reason.as_deref());
        }
        if let Some(r) = reason {
            eprintln!("INCONCLUSIVE: {r}");
        }
        return Ok(ok);
    }
    let alphas = parse_alphas(alphas).map_err(|m| InputError::new("--alphas", m))?;
    for &a in &alphas {
        check_level(a)?;
    }
    let bar = if std::io::stdout().is_terminal() {
        let b = indicatif::ProgressBar::new(alphas.len() as u64);
        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = || bar.inc(1);
    let result = mirrorflow::escape::sweep(&p, &alphas, &settings, &tick);
    bar.finish_and_clear();
    let ok = result.rows.iter().all(|r| {
        r.integrated.as_ref().is_ok_and(|i| (i.time - r.closed_form).abs() <= ESCAPE_AGREEMENT * r.closed_form)
    });
    if format == Format::Json {
        let failed = result.rows.iter().any(|r| r.integrated.is_err());
        let out = serde_json::json!({
            "status": escape_status(ok, failed), "init": "balanced",
            "depth": depth, "q": q, "gradient": gamma, "level": level, "regime": p.regime().name(),
            "growth_exponent": mirrorflow::escape::growth_exponent(depth, q), "sweep": result,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        return Ok(ok);
    }
    println!(
        "regime: {}   predicted growth exponent κ = q(L−1) − L = {}",
        p.regime().name(),
        round_sig(mirrorflow::escape::growth_exponent(depth, q), 12)
    );
    println!("{:>12} {:>14} {:>14} {:>10} {:>7}", "alpha", "closed form", "integrated", "rel err", "steps");
    for r in &result.rows {
        match &r.integrated {
            Ok(i) => println!(
                "{:>12} {:>14} {:>14} {:>10.2e} {:>7}",
                format!("{:e}", round_sig(r.alpha, 6)),
                display_number(r.closed_form),
                display_number(i.time),
                (i.time - r.closed_form).abs() / r.closed_form,
                i.stats.steps
            ),
            Err(e) => {
                println!(
                    "{:>12} {:>14} INCONCLUSIVE: {e}",
                    format!("{:e}", round_sig(r.alpha, 6)),
                    display_number(r.closed_form)
                )
            }
        }
    }
    match (result.linear, result.power, result.increments) {
        (Some(l), Some(p), inc) => {
            println!(
                "fit T ≈ {} + {}·ln(1/α)   (max residual {:.2e})",
                display_number(l.intercept),
                display_number(l.slope),
                l.max_residual
            );
            println!(
                "fit ln T ≈ {} + {}·ln(1/α)   (max residual {:.2e})",
                display_number(p.intercept),
                display_number(p.slope),
                p.max_residual
            );
            if let Some(i) = inc {
                println!("growth exponent of dT/dln(1/α) (fit of increments): {}", display_number(i.slope));
            }
        }
        _ => println!("fits: not computed (an integration was inconclusive)"),
    }
    Ok(ok)
}

/// The `status` of an escape run: `inconclusive` if an integration failed, else `ok` when the
/// routes agree within [`ESCAPE_AGREEMENT`], `mismatch` when they do not.
fn escape_status(agree: bool, inconclusive: bool) -> &'static str {
    if inconclusive {
        "inconclusive"
    } else if agree {
        "ok"
    } else {
        "mismatch"
    }
}

/// `escape --init coercive` (THEORY §9, the paper's Cor. 4.10): `w_1 = 0`, `w_i = λ` (i ≥ 2), so
/// x_0 = 0 and every level x_1 > 0 is valid. Closed form: `T = ∫_0^{x_1} R''(x) dx / γ^{q−1}` by
/// quadrature of the per-layer-constants potential ([`CoerciveEscape::quadrature`]); integrated:
/// the parameter flow from `(0, λ, …, λ)`; coercivity `μ = λ^{q(L−1)}` and the bound
/// `T ≤ x_1/(μγ^{q−1})`.
///
/// [`CoerciveEscape::quadrature`]: mirrorflow::escape::CoerciveEscape::quadrature
fn escape_coercive(depth: usize, q: f64, lambda: f64, gamma: f64, level: f64, format: Format) -> InputResult<bool> {
    use mirrorflow::escape::CoerciveEscape;
    if depth < 2 {
        return Err(InputError::new("--depth", "the coercive init (w_1 = 0) needs depth L ≥ 2"));
    }
    let esc = CoerciveEscape { depth, q, lambda, gamma };
    let mu = esc.mu();
    if !(mu.is_finite() && mu > 0.0) {
        return Err(InputError::new("--alpha", format!("μ = λ^(q(L−1)) = {mu:e} is not a positive finite number")));
    }
    let closed = esc.quadrature(level);
    let bound = level / (mu * gamma.powf(q - 1.0));
    let run = esc.integrated(level, &Settings::default());
    let (integrated, error, stats, reason) = match &run {
        Ok(r) if closed.is_finite() => (Some(r.time), Some((r.time - closed).abs() / closed), Some(r.stats), None),
        Ok(_) => (None, None, None, Some(format!("the quadrature of R'' is not finite ({closed})"))),
        Err(e) => (None, None, None, Some(e.to_string())),
    };
    let ok = error.is_some_and(|e| e <= ESCAPE_AGREEMENT);
    if format == Format::Json {
        let out = serde_json::json!({
            "status": escape_status(ok, reason.is_some()), "init": "coercive",
            "depth": depth, "q": q, "alpha": lambda, "gradient": gamma, "level": level,
            "exponent": mirrorflow::geometry::mirror_exponent(depth, q),
            "closed_form": closed, "integrated": integrated, "coercivity": mu, "bound": bound,
            "relative_error": error, "stats": stats, "inconclusive": reason,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
    } else {
        println!("coercive init w = (0, {lambda}, …, {lambda}): x_0 = 0, μ = λ^(q(L−1)) = {}", display_number(mu));
        println!("closed form   T = ∫_0^x_1 R''(x) dx / γ^(q−1) (quadrature) = {}", display_number(closed));
        print_integrated(integrated, error, stats, reason.as_deref());
        println!("bound         T ≤ x_1/(μγ^(q−1)) = {}", display_number(bound));
    }
    if let Some(r) = reason {
        eprintln!("INCONCLUSIVE: {r}");
    }
    Ok(ok)
}

/// Where `escape --level inf` stops the integration; the analytic tail covers the rest.
const BLOW_UP_FAR: f64 = 1e150;

/// `escape --level inf` (THEORY §9, validity watershed): for `m = q(L−1)/L > 1` the balanced flow
/// on `f = −γx` blows up at `T* = x_0^{1−m}/(L(m−1)γ^{q−1})` ([`LinearEscape::blow_up_time`]);
/// measured by the log-weight flow to x = 1e150 ([`LinearEscape::integrated_in_log_weights`])
/// plus the analytic tail ([`LinearEscape::tail`]). For m ≤ 1 no blow-up (exit 0).
///
/// [`LinearEscape::blow_up_time`]: mirrorflow::escape::LinearEscape::blow_up_time
/// [`LinearEscape::integrated_in_log_weights`]: mirrorflow::escape::LinearEscape::integrated_in_log_weights
/// [`LinearEscape::tail`]: mirrorflow::escape::LinearEscape::tail
fn escape_blow_up(depth: usize, q: f64, alpha: f64, gamma: f64, format: Format) -> InputResult<bool> {
    use mirrorflow::escape::LinearEscape;
    let ln_x0 = depth as f64 * alpha.ln();
    if ln_x0 < f64::MIN_POSITIVE.ln() || ln_x0 >= BLOW_UP_FAR.ln() {
        return Err(InputError::new("--alpha", format!("x_0 = α^L = e^{ln_x0:.1} must lie in [1e-308, 1e150)")));
    }
    let p = LinearEscape { depth, q, gamma, level: BLOW_UP_FAR };
    let (m, regime) = (p.exponent(), p.regime().name());
    let Some(t_star) = p.blow_up_time(alpha) else {
        if format == Format::Json {
            let out = serde_json::json!({
                "status": "ok", "init": "balanced", "depth": depth, "q": q, "alpha": alpha, "gradient": gamma,
                "level": "inf", "exponent": m, "regime": regime, "blow_up": false,
                "closed_form": null, "integrated": null,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        } else {
            println!("regime: {regime} (e = m = q(L−1)/L = {})", round_sig(m, 12));
            println!("no blow-up: m ≤ 1, R' has an unbounded range and x exists for all time (T(∞) = ∞)");
        }
        return Ok(true);
    };
    let route = format!("ODE in log-weights to x = {BLOW_UP_FAR:e} + analytic tail");
    let run = p.integrated_in_log_weights(alpha, &Settings::default());
    let (integrated, error, stats, reason) = match &run {
        Ok(r) => {
            let t = r.time + p.tail(BLOW_UP_FAR);
            (Some(t), Some((t - t_star).abs() / t_star), Some(r.stats), None)
        }
        Err(e) => (None, None, None, Some(e.to_string())),
    };
    let ok = error.is_some_and(|e| e <= ESCAPE_AGREEMENT);
    if format == Format::Json {
        let out = serde_json::json!({
            "status": escape_status(ok, reason.is_some()), "init": "balanced", "depth": depth, "q": q,
            "alpha": alpha, "gradient": gamma, "level": "inf", "exponent": m, "regime": regime, "blow_up": true,
            "formula": "x_0^(1−m)/(L(m−1)γ^(q−1))", "closed_form": t_star, "integrated": integrated,
            "route": route, "relative_error": error, "stats": stats, "inconclusive": reason,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
    } else {
        println!("regime: {regime} (e = m = q(L−1)/L = {}): finite-time blow-up", round_sig(m, 12));
        println!("closed form   T* = x_0^(1−m)/(L(m−1)γ^(q−1)) = {}", display_number(t_star));
        match (integrated, error, stats) {
            (Some(t), Some(e), Some(s)) => println!(
                "integrated    T* = {}   ({route}; relative error {e:.2e}; {} steps)",
                display_number(t),
                s.steps
            ),
            _ => println!("integrated    INCONCLUSIVE: {}", reason.clone().unwrap_or_default()),
        }
    }
    if let Some(r) = reason {
        eprintln!("INCONCLUSIVE: {r}");
    }
    Ok(ok)
}

fn bias(cmd: Command) -> InputResult<bool> {
    let Command::Bias { data, model: model_args, q, two_sided, compare_flow, optimizer, lr, t_end, format } = cmd
    else {
        unreachable!("bias subcommand")
    };
    let q = check_q("--q", q)?;
    if q != 2.0 {
        return Err(InputError::new("--q", "the Bregman projection is the flow limit only for q = 2 (THEORY §5)"));
    }
    let t_end = check_positive("--t-end", t_end)?;
    let source = data.data.display().to_string();
    let problem = data.load()?;
    if problem.loss != mirrorflow::problem::Loss::Squared {
        return Err(InputError::new(format!("{source}: loss"), "the Bregman projection needs the squared loss"));
    }
    // finite entries whose norms overflow (e.g. 1e200): no residual or objective can be computed
    if !(problem.a.norm().is_finite() && problem.y.norm().is_finite()) {
        return Err(InputError::new(
            format!("{source}: a, y"),
            "the norms of the data overflow f64 (‖A‖ or ‖y‖ is infinite): rescale the data",
        ));
    }
    let default = if two_sided { ModelKind::TwoSided } else { ModelKind::OneSided };
    let built = model_args.build(problem.dim(), q, default, None)?;
    let (model, init, w0) = (built.model, built.init.clone(), built.w0.clone());
    let (depth, alpha, balance, two_sided) = (built.depth, built.alpha, model_args.balance, model.two_sided);
    if optimizer == BiasOptimizer::Gd {
        return bias_gd(&problem, &w0, depth, two_sided, balance, lr, compare_flow, format);
    } else if lr.is_some() {
        return Err(InputError::new("--lr", "a step size is read with --optimizer gd only"));
    }
    let (a, y) = (&problem.a, &problem.y);
    // infeasible data, said in words: no x at all (least squares, SVD), or no x ≥ 0 for a one-sided
    // model whose solve failed (NNLS: the balanced potential lives on x > 0)
    let ls = a.clone().svd(true, true).solve(y, 1e-12 * a.norm()).map(|x| (a * x - y).norm()).unwrap_or(f64::INFINITY);
    let infeasible = if ls > 1e-8 * y.norm() {
        Some((ls, format!("no x solves Ax = y: the least-squares residual min_x ‖Ax − y‖ is {ls:.3e}; the data are inconsistent and no model interpolates them")))
    } else {
        None
    };
    let proj = infeasible
        .is_none()
        .then(|| mirrorflow::checks::bias::predicted_limit(&model, &w0, q, &init.constants, a, a, y));
    let infeasible = infeasible.or_else(|| {
        let failed = proj.as_ref().is_some_and(|p| !p.converged && !p.x.iter().all(|v| v.is_finite()));
        if !failed || two_sided {
            return None;
        }
        mirrorflow::bias::nonnegative_infeasible(a, y).map(|r| {
            (r, format!("no x ≥ 0 solves Ax = y: the residual min_(x≥0) ‖Ax − y‖ is {r:.3e}, and the one-sided potential from this init lives on x > 0; use --model two-sided"))
        })
    });
    let model_json = built.json(model_args.init, model_args.balance);
    if let Some((residual, reason)) = infeasible {
        eprintln!("INCONCLUSIVE: {reason}");
        if format == Format::Json {
            print_json(serde_json::json!({
                "status": "inconclusive", "reason": reason, "x": null, "infeasibility_residual": residual,
                "converged": false, "depth": depth, "q": q, "alpha": alpha, "balance": balance,
                "two_sided": two_sided, "model": model_json,
            }));
        } else {
            println!("no interpolator: {reason}");
        }
        return Ok(false);
    }
    let proj = proj.expect("solved when feasible");
    let mut out = serde_json::json!({
        "status": if proj.converged { "ok" } else { "inconclusive" },
        "reason": (!proj.converged).then_some("the dual solve did not converge"),
        "x": proj.x.as_slice(), "residual": proj.residual, "objective": proj.objective, "gap": proj.gap,
        "converged": proj.converged, "stats": proj.stats,
        "depth": depth, "q": q, "alpha": alpha, "balance": balance, "two_sided": two_sided, "model": model_json,
    });
    let mut ok = proj.converged;
    if !proj.converged {
        eprintln!(
            "INCONCLUSIVE: the dual solve did not converge (residual {:.3e}, objective {:.3e})",
            proj.residual, proj.objective
        );
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
        print_json(out);
    } else {
        let xs: Vec<String> = proj.x.iter().map(|v| display_number(*v)).collect();
        println!("x = [{}]", xs.join(", "));
        println!(
            "residual = {:.3e}   D_R(x, x0) = {}   gap = {:.3e}   ({}: {} iterations, {} gradient, {} Hessian, {} cost evaluations)",
            proj.residual,
            display_number(proj.objective),
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

/// The built-in cards plus the user's (`--cards DIR`).
fn library(user: &Option<PathBuf>) -> InputResult<Vec<Card>> {
    mirrorflow::cards::library(user.as_deref())
}

/// Whether a command-line card name is a card file rather than an id.
fn is_card_file(name: &str) -> bool {
    name.ends_with(".toml") || std::path::Path::new(name).is_file()
}

/// The cards named by `ids` (ids or card files), or every card of the selected tiers with `all`.
fn select_cards(user: &Option<PathBuf>, ids: &[String], all: bool, paper_scale: bool) -> InputResult<Vec<Card>> {
    if !all && ids.is_empty() {
        return Err(InputError::new("check", "name card ids or card files, or pass --all"));
    }
    let mut cards = if all || ids.iter().any(|i| !is_card_file(i)) { library(user)? } else { vec![] };
    if all {
        cards.retain(|c| paper_scale || c.tier == mirrorflow::claims::Tier::Default);
        return Ok(cards);
    }
    let mut chosen = Vec::new();
    for id in ids {
        if is_card_file(id) {
            chosen.push(checks::load_card(std::path::Path::new(id))?);
        } else {
            let card = cards.iter().find(|c| &c.id == id);
            chosen.push(card.cloned().ok_or_else(|| InputError::new(id, "no such card (see `mirrorflow list`)"))?);
        }
    }
    Ok(chosen)
}

/// A rayon pool of `jobs` threads (default: all cores; at most 4 × cores).
fn pool(jobs: Option<usize>) -> InputResult<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match jobs {
        Some(0) => return Err(InputError::new("--jobs", "must be at least 1")),
        Some(j) if j > 4 * cores => {
            return Err(InputError::new("--jobs", format!("{j} exceeds the budget of 4 × {cores} cores")))
        }
        _ => {}
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| InputError::new("--jobs", e.to_string()))
}

/// A progress bar on stderr, hidden when `quiet` or stderr is not a terminal.
fn progress_bar(len: usize, quiet: bool, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{msg}}")).expect("template"),
    );
    bar
}

fn find(user: &Option<PathBuf>, id: &str) -> InputResult<Card> {
    library(user)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| InputError::new(id, "no such card (see `mirrorflow list`)"))
}

fn print_outcome(o: &Outcome, verbose: bool) {
    let mark = if o.matches { "" } else { "   <-- UNEXPECTED" };
    let power = if o.theorem.contains("/control-") { format!("  power {:.2e}", o.power) } else { String::new() };
    println!(
        "{:<13} {:<36} expect {:<8} {:>4} rows {:>7.2}s{power}{mark}",
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
        if verbose && e.verdict != mirrorflow::verdict::Verdict::Pass {
            println!("        {}", e.verdict.reason());
        }
    }
}

/// Prints a JSON object output with the schema version and the provenance of the run.
fn print_json(mut out: serde_json::Value) {
    if let Some(map) = out.as_object_mut() {
        map.insert("schema".into(), report::SCHEMA.into());
        map.insert("provenance".into(), serde_json::to_value(report::Provenance::now()).expect("serialisable"));
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
}

/// One outcome of `check --format json`: the outcome's own fields plus the schema version, the
/// provenance of the run, and the parameters it ran with (`control`: its negative control).
fn outcome_json(
    o: &Outcome,
    card: &Card,
    control: Option<usize>,
    sets: &[String],
    provenance: &report::Provenance,
) -> serde_json::Value {
    let mut v = serde_json::to_value(o).expect("serialisable");
    let assignment = card.assignment(control);
    let json = |m: &std::collections::BTreeMap<String, toml::Value>| -> serde_json::Map<String, serde_json::Value> {
        m.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null))).collect()
    };
    let (parameters, grid) = (json(&assignment.fixed), json(&assignment.axes));
    let seeds: serde_json::Map<String, serde_json::Value> = parameters
        .iter()
        .chain(&grid)
        .filter(|(k, _)| k.contains("seed"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(map) = v.as_object_mut() {
        map.insert("schema".into(), report::SCHEMA.into());
        map.insert("provenance".into(), serde_json::to_value(provenance).expect("serialisable"));
        map.insert("parameters".into(), parameters.into());
        map.insert("grid".into(), grid.into());
        map.insert("seeds".into(), seeds.into());
        map.insert("overrides".into(), sets.into());
    }
    v
}

/// Reads a saved report.json.
fn read_report(path: &std::path::Path) -> InputResult<Report> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
    Report::from_json(&source, &text)
}

/// Writes `text` to `dir/name` (creating `dir`).
fn write_file(dir: &std::path::Path, name: &str, text: &str) -> InputResult<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| InputError::new(dir.display().to_string(), format!("cannot create: {e}")))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| InputError::new(path.display().to_string(), format!("cannot write: {e}")))
}

/// `old` as a shard sees it: for a sharded `new`, only the old cards this shard ran (the other
/// shards compare the rest; the merged report's `--diff` sees every card).
fn in_shard(old: &Report, new: &Report) -> Report {
    let mut old = old.clone();
    if new.shard.is_some() {
        old.cards.retain(|c| new.cards.iter().any(|n| n.id == c.id));
    }
    old
}

/// Prints the changes from `old` to `new` (verdicts first); false on a regression.
fn print_diff(old: &Report, new: &Report, path: &std::path::Path) -> bool {
    let changes = report::diff(old, new);
    if changes.is_empty() {
        println!("no change against {}", path.display());
    }
    for c in &changes {
        println!("{c}");
    }
    !report::regressed(&changes)
}

/// The options of `report` besides the cards and the output folder.
struct ReportRun {
    format: ReportFormat,
    diff: Option<PathBuf>,
    no_plots: bool,
    quiet: bool,
    jobs: Option<usize>,
    shard: Option<String>,
    merge: Vec<PathBuf>,
}

fn report(user: &Option<PathBuf>, ids: &[String], out: &std::path::Path, run: ReportRun) -> InputResult<bool> {
    let ReportRun { format, diff, no_plots, quiet, jobs, shard, merge } = run;
    let mut shard = shard.as_deref().map(mirrorflow::shard::Shard::parse).transpose()?;
    let old = diff.as_deref().map(read_report).transpose()?;
    let built = if merge.is_empty() {
        let mut cards = if ids.is_empty() { library(user)? } else { select_cards(user, ids, false, true)? };
        if let Some(k) = shard.as_mut() {
            cards = k.select(cards);
            if !quiet {
                eprintln!("shard {k}: {} of {} cards", cards.len(), k.selected);
            }
        }
        let pool = pool(jobs)?;
        let bar = progress_bar(cards.len(), quiet, "cards");
        let mut built = pool.install(|| {
            report::build(&cards, &|id| {
                bar.set_message(id.to_string());
                bar.inc(1);
            })
        })?;
        bar.finish_and_clear();
        built.shard = shard;
        built
    } else {
        if let Some(id) = ids.first() {
            return Err(InputError::new("--merge", format!("runs no cards, got '{id}': name report.json files only")));
        }
        let inputs =
            merge.iter().map(|p| Ok((p.display().to_string(), read_report(p)?))).collect::<InputResult<Vec<_>>>()?;
        report::merge(&inputs)?
    };
    std::fs::create_dir_all(out)
        .map_err(|e| InputError::new(out.display().to_string(), format!("cannot create: {e}")))?;
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text)
            .map_err(|e| InputError::new(path.display().to_string(), format!("cannot write: {e}")))
    };
    let mut plots = Vec::new();
    // the plots do not depend on the cards: a shard leaves them to the merge
    if !no_plots && shard.is_none() {
        for (file, caption, make) in figures::all() {
            match make().and_then(|chart| chart.write(&out.join(file))) {
                Ok(()) => plots.push((file.to_string(), caption.to_string())),
                Err(e) => eprintln!("plot {file} not written: {e}"),
            }
        }
    }
    write("report.json", &built.to_json())?;
    write("report.md", &built.to_markdown(&plots))?;
    if format == ReportFormat::Html {
        write("report.html", &built.to_html(&plots))?;
    }
    if !quiet {
        print!("{}", built.summary_table());
        println!("wrote {} ({} plots)", out.display(), plots.len());
    }
    match (old, diff) {
        (Some(old), Some(path)) => Ok(print_diff(&in_shard(&old, &built), &built, &path)),
        _ => Ok(built.all_as_expected()),
    }
}

/// `sweep`: the card's grid points of this shard not yet in the resume file, run in parallel, one
/// JSON line each as it finishes (to stdout, or appended to the resume file).
fn sweep(
    user: &Option<PathBuf>,
    id: &str,
    sets: &[String],
    shard: Option<String>,
    resume: Option<PathBuf>,
    jobs: Option<usize>,
) -> InputResult<bool> {
    use mirrorflow::sweep;
    use rayon::prelude::*;
    use std::io::Write;
    let shard = shard.as_deref().map(mirrorflow::shard::Shard::parse).transpose()?;
    let mut card = select_cards(user, &[id.to_string()], false, true)?.remove(0);
    if !sets.is_empty() {
        card.apply_sets(sets)?;
    }
    checks::validate_card(&card)?;
    let pool = pool(jobs)?;
    let points = sweep::points(&card)?;
    let (done, mut sink): (_, Box<dyn Write + Send>) = match &resume {
        Some(path) => {
            let name = path.display().to_string();
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(InputError::new("--resume", format!("cannot read {name}: {e}"))),
            };
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| InputError::new("--resume", format!("cannot append to {name}: {e}")))?;
            if !text.is_empty() && !text.ends_with('\n') {
                // a line cut short by a killed job stays alone on its line (and is ignored)
                writeln!(file).map_err(|e| InputError::new("--resume", format!("cannot append to {name}: {e}")))?;
            }
            (sweep::done(&card, &text), Box::new(file))
        }
        None => (Default::default(), Box::new(std::io::stdout())),
    };
    let todo: Vec<(usize, &mirrorflow::claims::GridPoint)> = points
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|k| i % k.count == k.index - 1))
        .filter(|(_, p)| !done.contains(&sweep::key(&card, p)))
        .collect();
    let sink = std::sync::Mutex::new(&mut sink);
    pool.install(|| {
        todo.par_iter().try_for_each(|(i, p)| -> InputResult<()> {
            let outcome = sweep::run_point(&card, p)?;
            let line = sweep::line(&card, *i, p, &outcome);
            let mut out = sink.lock().expect("no panic while writing");
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| InputError::new("sweep", format!("cannot write: {e}")))
        })
    })?;
    Ok(true)
}
