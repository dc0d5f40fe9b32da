//! The `mirrorflow` command line: one file per command, each parsing its flags into the engine's
//! argument structs (shared groups by `#[command(flatten)]`), calling the engine ([`mirrorflow::api`],
//! [`mirrorflow::report`], …) and printing through [`output`].

mod bench;
mod bias;
mod cards;
mod check;
mod escape;
mod flow;
mod margin;
mod output;
mod report;
mod saddle_to_saddle;
mod selftest;
mod sweep;
mod train;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use mirrorflow::api::{self, LossScaleArg, ModelArgs};
use mirrorflow::error::InputResult;
use mirrorflow::problem::Problem;
use std::path::PathBuf;

/// The command line.
#[derive(Parser)]
#[command(
    name = "mirrorflow",
    version,
    about = "Falsifiable checks of 'Never Saddle for Reparameterized Steepest Descent as Mirror Flow'"
)]
pub struct Cli {
    /// A folder of your own theorem cards (*.toml), added to the cards built into mirrorflow (an id
    /// that is already taken is an error naming both files).
    #[arg(long, global = true, value_name = "DIR")]
    cards: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Text or JSON output.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// The output of `report`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// Markdown.
    Md,
    /// JSON.
    Json,
    /// Also HTML.
    Html,
}

/// The output of `flow` and `train`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RunFormat {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
    /// The trajectory as CSV.
    Csv,
}

/// `--data`, `--targets`, `--loss-scale`: the data of the regression commands.
#[derive(clap::Args)]
pub struct DataArgs {
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
        self.loss_scale.apply(Problem::load_data(&self.data, self.targets.as_deref())?)
    }
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
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
        /// Override a parameter: key=value (TOML value syntax; `grid.key=[…]` sets a grid axis),
        /// repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[command(flatten)]
        run: check::CheckRun,
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
        args: api::flow::FlowArgs,
        /// Output format (csv: the trajectory).
        #[arg(long, value_enum, default_value = "text")]
        format: RunFormat,
    },
    /// Saddle escape time of the steepest flow on f(x) = −γx (THEORY §4, §9): closed form vs the
    /// integrated parameter flow, at one α or over a sweep; `--init coercive` starts at the saddle
    /// x = 0 (w_1 = 0, the other layers at α); `--level inf` gives the blow-up time of m > 1.
    Escape {
        #[command(flatten)]
        args: api::escape::EscapeArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Train a deep diagonal model on your data with a discrete optimizer (GD, SignGD, Adam, AdamW, SGD).
    #[command(after_help = "Examples:
  mirrorflow train --data data.json --optimizer gd --lr 0.01 --steps 10000 --depth 2 --alpha 0.1
  mirrorflow train --data data.json --optimizer adamw --lr 1e-3 --steps 5000 --depth 2 --alpha 0.1 --weight-decay 1e-2
  mirrorflow train --data data.json --optimizer gd --lr 0.01 --steps 10000 --depth 2 --alpha 0.1 --samples 20 --format csv
  mirrorflow train --data data.json --optimizer sgd --batch 1 --seed 7 --lr 0.01 --steps 10000 --depth 2 --alpha 0.1")]
    Train {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        args: api::train::TrainArgs,
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
        args: api::bias::BiasArgs,
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

/// Runs a parsed command line: Ok(true) when every outcome is as expected (exit 0), Ok(false)
/// when a claim failed or a run was inconclusive (exit 1), Err on bad input (exit 2).
pub fn run(cli: Cli) -> InputResult<bool> {
    let user = cli.cards.as_deref();
    match cli.command {
        Command::List => cards::list(user),
        Command::Claims { id } => cards::claims(id),
        Command::Show { id } => cards::show(user, &id),
        Command::Check { ids, sets, run } => check::run(user, &ids, &sets, run),
        Command::Report { table: Some(path), .. } => {
            print!("{}", output::read_report(&path)?.summary_table());
            Ok(true)
        }
        Command::Report { ids, out, format, diff, no_plots, quiet, jobs, shard, merge, table: None } => {
            let run = report::ReportRun { format, diff, no_plots, quiet, jobs, shard, merge };
            report::run(user, &ids, &out, run)
        }
        Command::Diff { old, new } => report::diff(&old, &new),
        Command::Sweep { id, sets, shard, resume, jobs } => sweep::run(user, &id, &sets, shard, resume, jobs),
        Command::Selftest { table, jobs } => selftest::run(user, table, jobs),
        Command::Bench { format } => bench::run(user, format),
        Command::Flow { data, args, format } => flow::run(&data, &args, format),
        Command::Train { data, args, format } => train::run(&data, &args, format),
        Command::Bias { data, args, format } => bias::run(&data, &args, format),
        Command::Escape { args, format } => escape::run(&args, format),
        Command::SaddleToSaddle { data, max_jumps, format } => saddle_to_saddle::run(&data, max_jumps, format),
        Command::Margin { data, targets, model, q, times, support, format } => {
            margin::run(margin::MarginRun { data, targets, model, q, times, support, format })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mirrorflow", &mut std::io::stdout());
            Ok(true)
        }
    }
}
