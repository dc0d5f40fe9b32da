//! `mirrorflow list`, `claims`, `show`: the cards and the claims they bind to.

use mirrorflow::checks;
use mirrorflow::error::{InputError, InputResult};
use std::path::Path;

/// `list`: id, provenance and title of every card.
pub fn list(user: Option<&Path>) -> InputResult<bool> {
    for c in mirrorflow::cards::library(user)? {
        println!("{:<28} {:<10} {}", c.id, format!("{:?}", c.provenance).to_lowercase(), c.title);
    }
    Ok(true)
}

/// `claims`: the card format and each claim's keys (one claim with `id`).
pub fn claims(id: Option<String>) -> InputResult<bool> {
    match id {
        None => print!("{}", checks::docs::markdown()),
        Some(id) => {
            let c =
                checks::claim(&id).ok_or_else(|| InputError::new(&id, "no such claim (see `mirrorflow claims`)"))?;
            print!("{}", checks::docs::claim_section(&c));
        }
    }
    Ok(true)
}

/// `show`: a card's statement, parameters, tolerances and negative controls.
pub fn show(user: Option<&Path>, id: &str) -> InputResult<bool> {
    let card = mirrorflow::cards::library(user)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| InputError::new(id, "no such card (see `mirrorflow list`)"))?;
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
