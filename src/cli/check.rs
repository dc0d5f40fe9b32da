//! `mirrorflow check`: cards with their negative controls; exit 0 iff every outcome is as expected.

use super::output::{in_shard, pool, print_diff, progress_bar, read_report, write_file};
use super::Format;
use mirrorflow::api::check::{apply_sets, outcomes_json, select_cards};
use mirrorflow::checks::{Outcome, RunOptions};
use mirrorflow::error::InputResult;
use mirrorflow::report;
use std::path::{Path, PathBuf};

/// The flags of `check` besides the cards and the overrides.
#[derive(clap::Args)]
pub struct CheckRun {
    /// Check every card of the default tier (add --paper-scale for the rest).
    #[arg(long)]
    pub all: bool,
    /// Include the cards at the paper's own scale (`tier = "paper-scale"`, minutes each).
    #[arg(long)]
    pub paper_scale: bool,
    /// Skip the negative controls (by default each must give its expected verdict).
    #[arg(long)]
    pub no_controls: bool,
    /// Re-solve every card at 10× tighter integration tolerances: a row whose error moves by
    /// more than a tenth of its tolerance becomes INCONCLUSIVE.
    #[arg(long)]
    pub verify_numerics: bool,
    /// Worker threads (default: all cores; at most 4 × cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print every evidence row.
    #[arg(long, short)]
    pub verbose: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Compare with a saved report.json (exit 1 on a regression: a verdict no longer as
    /// expected, a card or control missing, an unknown verdict).
    #[arg(long)]
    pub diff: Option<PathBuf>,
    /// Run only shard K of N (1 ≤ K ≤ N): the selected cards sorted by id, every N-th from the
    /// K-th (a card is never split). Write each shard's report with --out and join them with
    /// `report --merge`. A shard with no cards is a valid, empty run.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Also write report.json and report.md to this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs the selected cards (in parallel, printed in card order) and compares with `--diff`.
pub fn run(user: Option<&Path>, ids: &[String], sets: &[String], run: CheckRun) -> InputResult<bool> {
    let CheckRun { all, paper_scale, no_controls, verify_numerics, jobs, verbose, quiet, diff, shard, out, format } =
        run;
    let mut shard = shard.as_deref().map(mirrorflow::shard::Shard::parse).transpose()?;
    let old = diff.as_deref().map(read_report).transpose()?;
    let mut cards = select_cards(user, ids, all, paper_scale)?;
    if let Some(k) = shard.as_mut() {
        cards = k.select(cards);
        if !quiet {
            eprintln!("shard {k}: {} of {} cards", cards.len(), k.selected);
        }
    }
    apply_sets(&mut cards, sets)?;
    let pool = pool(jobs)?;
    let runs = cards.iter().map(|c| 1 + if no_controls { 0 } else { c.negative_controls.len() }).sum::<usize>();
    let bar = progress_bar(runs, quiet, "runs");
    let options = RunOptions { controls: !no_controls, verify_numerics };
    let provenance = report::Provenance::now();
    let batches = pool.install(|| mirrorflow::api::check::run(&cards, &options, &|| bar.inc(1)))?;
    bar.finish_and_clear();
    if format == Format::Text {
        batches.iter().flatten().for_each(|o| print_outcome(o, verbose));
    }
    let entries = cards
        .iter()
        .zip(&batches)
        .map(|(card, batch)| {
            let mut entry = report::entry(card, batch);
            entry.overrides = sets.to_vec();
            entry
        })
        .collect();
    let mut built = report::from_entries(entries);
    built.provenance = Some(provenance.clone());
    built.shard = shard;
    if let Some(dir) = &out {
        write_file(dir, "report.json", &built.to_json())?;
        write_file(dir, "report.md", &built.to_markdown(&[]))?;
    }
    let outcomes: Vec<&Outcome> = batches.iter().flatten().collect();
    let mut ok = outcomes.iter().all(|o| o.matches);
    if let (Some(old), Some(path)) = (&old, &diff) {
        ok &= print_diff(&in_shard(old, &built), &built, path);
    }
    if format == Format::Json {
        let json = outcomes_json(&cards, &batches, sets, &provenance);
        println!("{}", serde_json::to_string_pretty(&json).expect("serialisable"));
    } else {
        let matched = outcomes.iter().filter(|o| o.matches).count();
        println!("{matched} of {} outcomes as expected", outcomes.len());
    }
    Ok(ok)
}

/// One outcome in text: verdict, name, expectation, rows, seconds (controls: power), the reason,
/// and the worst row of each quantity (every row with `verbose`).
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
