//! The one output helper of the CLI: JSON with schema and provenance, trajectories as CSV, numbers
//! for text, progress bars, thread pools, report files.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mirrorflow::api::Sample;
use mirrorflow::error::{InputError, InputResult};
use mirrorflow::report::{self, Report};
use std::io::IsTerminal;

/// Prints a serialisable output as a JSON object with the schema version and the provenance.
pub fn print_output<T: serde::Serialize>(out: &T) {
    print_json(serde_json::to_value(out).expect("serialisable"));
}

/// The output of `flow` or `train`: the warning (if any) on stderr, then the trajectory as CSV, the
/// whole output as JSON, or `text` (which prints `x = [..]` first); the reason of an inconclusive
/// run on stderr. Ok(true) iff the run is not inconclusive.
pub fn print_run<T: serde::Serialize>(
    out: &T,
    x: &[f64],
    trajectory: &[Sample],
    warning: &Option<String>,
    reason: &Option<String>,
    format: super::RunFormat,
    text: impl FnOnce(),
) -> bool {
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    match format {
        super::RunFormat::Csv => print!("{}", trajectory_csv(trajectory)),
        super::RunFormat::Json => print_output(out),
        super::RunFormat::Text => {
            print_x("x", x, "");
            text();
        }
    }
    inconclusive(reason);
    reason.is_none()
}

/// Prints `x = [..]` in display numbers.
pub fn print_x(label: &str, x: &[f64], note: &str) {
    let xs: Vec<String> = x.iter().map(|v| mirrorflow::verdict::display_number(*v)).collect();
    println!("{label} = [{}]{note}", xs.join(", "));
}

/// The reason of an inconclusive run on stderr.
pub fn inconclusive(reason: &Option<String>) {
    if let Some(r) = reason {
        eprintln!("INCONCLUSIVE: {r}");
    }
}

/// A trajectory as CSV: `[step,]t,loss,x0,x1,…`, one row per sample, full precision.
pub fn trajectory_csv(samples: &[Sample]) -> String {
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
pub fn csv_number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e15).contains(&v.abs()) || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A rayon pool of `jobs` threads (default: all cores; at most 4 × cores).
pub fn pool(jobs: Option<usize>) -> InputResult<rayon::ThreadPool> {
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
pub fn progress_bar(len: usize, quiet: bool, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{msg}}")).expect("template"),
    );
    bar
}

/// Prints a JSON object output with the schema version and the provenance of the run.
pub fn print_json(mut out: serde_json::Value) {
    if let Some(map) = out.as_object_mut() {
        map.insert("schema".into(), report::SCHEMA.into());
        map.insert("provenance".into(), serde_json::to_value(report::Provenance::now()).expect("serialisable"));
    }
    println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
}

/// Reads a saved report.json.
pub fn read_report(path: &std::path::Path) -> InputResult<Report> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
    Report::from_json(&source, &text)
}

/// Writes `text` to `dir/name` (creating `dir`).
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> InputResult<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| InputError::new(dir.display().to_string(), format!("cannot create: {e}")))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| InputError::new(path.display().to_string(), format!("cannot write: {e}")))
}

/// `old` as a shard sees it: for a sharded `new`, only the old cards this shard ran (the other
/// shards compare the rest; the merged report's `--diff` sees every card).
pub fn in_shard(old: &Report, new: &Report) -> Report {
    let mut old = old.clone();
    if new.shard.is_some() {
        old.cards.retain(|c| new.cards.iter().any(|n| n.id == c.id));
    }
    old
}

/// Prints the changes from `old` to `new` (verdicts first); false on a regression.
pub fn print_diff(old: &Report, new: &Report, path: &std::path::Path) -> bool {
    let changes = report::diff(old, new);
    if changes.is_empty() {
        println!("no change against {}", path.display());
    }
    for c in &changes {
        println!("{c}");
    }
    !report::regressed(&changes)
}
