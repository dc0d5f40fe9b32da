//! `check`: theorem cards run with their negative controls, the outcomes in card order whatever the
//! number of threads, each outcome serialisable with the parameters it ran with.

use crate::checks::{self, Outcome, RunOptions};
use crate::claims::{Card, Tier};
use crate::error::{InputError, InputResult};
use crate::report::{self, Provenance};
use std::path::Path;

/// Whether a command-line card name is a card file rather than an id.
pub fn is_card_file(name: &str) -> bool {
    name.ends_with(".toml") || Path::new(name).is_file()
}

/// The cards named by `ids` (ids or card files, looked up among the built-in cards plus the user's
/// folder), or every card of the selected tiers with `all`.
pub fn select_cards(user: Option<&Path>, ids: &[String], all: bool, paper_scale: bool) -> InputResult<Vec<Card>> {
    if !all && ids.is_empty() {
        return Err(InputError::new("check", "name card ids or card files, or pass --all"));
    }
    let mut cards = if all || ids.iter().any(|i| !is_card_file(i)) { crate::cards::library(user)? } else { vec![] };
    if all {
        cards.retain(|c| paper_scale || c.tier == Tier::Default);
        return Ok(cards);
    }
    let mut chosen = Vec::new();
    for id in ids {
        if is_card_file(id) {
            chosen.push(checks::load_card(Path::new(id))?);
        } else {
            let card = cards.iter().find(|c| &c.id == id);
            chosen.push(card.cloned().ok_or_else(|| InputError::new(id, "no such card (see `mirrorflow list`)"))?);
        }
    }
    Ok(chosen)
}

/// Applies the `--set key=value` overrides to every card and validates the result.
pub fn apply_sets(cards: &mut [Card], sets: &[String]) -> InputResult<()> {
    if sets.is_empty() {
        return Ok(());
    }
    for card in cards {
        card.apply_sets(sets)?;
        checks::validate_card(card)?;
    }
    Ok(())
}

/// Every card (and within it every control and grid point) in parallel on the current rayon pool;
/// the outcomes per card, in card order. `tick` is called once per finished run.
pub fn run(cards: &[Card], options: &RunOptions, tick: &(dyn Fn() + Sync)) -> InputResult<Vec<Vec<Outcome>>> {
    use rayon::prelude::*;
    cards.par_iter().map(|card| checks::run_with_controls(card, options, tick)).collect()
}

/// One outcome as `check --format json` prints it: the outcome's own fields plus the schema
/// version, the provenance of the run, and the parameters it ran with (`control`: its negative
/// control).
pub fn outcome_json(
    o: &Outcome,
    card: &Card,
    control: Option<usize>,
    sets: &[String],
    provenance: &Provenance,
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

/// The outcomes of `cards` as `check --format json` lists them (card order; each card, then its
/// controls).
pub fn outcomes_json(
    cards: &[Card],
    batches: &[Vec<Outcome>],
    sets: &[String],
    provenance: &Provenance,
) -> Vec<serde_json::Value> {
    cards
        .iter()
        .zip(batches)
        .flat_map(|(card, batch)| {
            batch.iter().enumerate().map(move |(i, o)| outcome_json(o, card, i.checked_sub(1), sets, provenance))
        })
        .collect()
}
