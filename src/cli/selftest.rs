//! `mirrorflow selftest`: the table of wrong claims; none may PASS.

use super::output::pool;
use mirrorflow::error::{InputError, InputResult};
use std::path::{Path, PathBuf};

/// Runs every wrong claim of the table (the built-in one, or `table`); Ok(true) iff none is PASS.
pub fn run(user: Option<&Path>, table: Option<PathBuf>, jobs: Option<usize>) -> InputResult<bool> {
    let wrong = match &table {
        Some(path) => {
            let source = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
            mirrorflow::selftest::parse(&source, &text)?
        }
        None => mirrorflow::selftest::parse("tests/wrong_claims.toml", mirrorflow::selftest::TABLE)?,
    };
    let cards = mirrorflow::cards::library(user)?;
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
