//! `mirrorflow sweep`: one card's grid point by point, a JSON line per point as it finishes.

use super::output::{pool, progress_bar};
use mirrorflow::api::check::select_cards;
use mirrorflow::checks;
use mirrorflow::error::{InputError, InputResult};
use std::path::{Path, PathBuf};

/// `sweep`: the card's grid points of this shard not yet in the resume file, run in parallel, one
/// JSON line each as it finishes (to stdout, or appended to the resume file).
pub fn run(
    user: Option<&Path>,
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
    let bar = progress_bar(todo.len(), false, "points");
    pool.install(|| {
        todo.par_iter().try_for_each(|(i, p)| -> InputResult<()> {
            let outcome = sweep::run_point(&card, p)?;
            let line = sweep::line(&card, *i, p, &outcome);
            let mut out = sink.lock().expect("no panic while writing");
            bar.inc(1);
            bar.suspend(|| writeln!(out, "{line}"))
                .and_then(|()| out.flush())
                .map_err(|e| InputError::new("sweep", format!("cannot write: {e}")))
        })
    })?;
    bar.finish_and_clear();
    Ok(true)
}
