//! `mirrorflow report` and `diff`: report.md/json/html with plots, merges of shards, comparisons of
//! saved reports.

use super::output::{in_shard, pool, print_diff, progress_bar, read_report};
use super::ReportFormat;
use mirrorflow::api::check::select_cards;
use mirrorflow::error::{InputError, InputResult};
use mirrorflow::{figures, report};
use std::path::{Path, PathBuf};

/// `diff OLD NEW`: the changes between two saved reports; Ok(false) on a regression.
pub fn diff(old: &Path, new: &Path) -> InputResult<bool> {
    let (before, after) = (read_report(old)?, read_report(new)?);
    Ok(print_diff(&before, &after, old))
}

/// The options of `report` besides the cards and the output folder.
pub struct ReportRun {
    pub format: ReportFormat,
    pub diff: Option<PathBuf>,
    pub no_plots: bool,
    pub quiet: bool,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub merge: Vec<PathBuf>,
}

pub fn run(user: Option<&Path>, ids: &[String], out: &Path, run: ReportRun) -> InputResult<bool> {
    let ReportRun { format, diff, no_plots, quiet, jobs, shard, merge } = run;
    let mut shard = shard.as_deref().map(mirrorflow::shard::Shard::parse).transpose()?;
    let old = diff.as_deref().map(read_report).transpose()?;
    let built = if merge.is_empty() {
        let mut cards =
            if ids.is_empty() { mirrorflow::cards::library(user)? } else { select_cards(user, ids, false, true)? };
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
