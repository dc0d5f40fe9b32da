//! `mirrorflow sweep`: one card's grid, point by point, as JSON lines written as each point
//! finishes, so a long sweep can be sharded over grid points (`--shard K/N`: point i, in the order
//! of [`crate::claims::Assignment::points`], to shard i mod N + 1) and resumed (`--resume FILE`
//! skips the points whose line is already in FILE).
//!
//! A point runs as the card with every grid axis reduced to that point's value, through the same
//! claim code as `check` (its rows equal the rows of that point in the full run).

use crate::checks::{self, Outcome};
use crate::claims::{Card, GridPoint};
use crate::error::{InputError, InputResult};
use crate::report::Row;
use std::collections::BTreeSet;
use toml::Value;

/// The grid points of `card` (after its `--set` overrides), in the order `check` runs them.
pub fn points(card: &Card) -> InputResult<Vec<GridPoint>> {
    card.assignment(None).points().map_err(|e| InputError::new(card.locate(&e.location, None), e.message))
}

/// The axis values of a point as JSON (its key in a sweep file: `card` + `point`).
pub fn axes(card: &Card, point: &GridPoint) -> serde_json::Map<String, serde_json::Value> {
    card.grid
        .keys()
        .filter_map(|k| point.0.get(k).map(|v| (k.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null))))
        .collect()
}

/// The card reduced to one grid point: each axis a one-value list.
pub fn at(card: &Card, point: &GridPoint) -> Card {
    let mut single = card.clone();
    for (k, axis) in single.grid.iter_mut() {
        if let Some(v) = point.0.get(k) {
            *axis = Value::Array(vec![v.clone()]);
        }
    }
    single
}

/// Runs one grid point: the card's claim there, rows labelled with the point's label.
pub fn run_point(card: &Card, point: &GridPoint) -> InputResult<Outcome> {
    let mut outcome = checks::run_card(&at(card, point))?;
    for e in &mut outcome.evidence {
        e.case = point.1.clone();
    }
    Ok(outcome)
}

/// The JSON line of a finished point: `card`, `index` (position in the grid), `point` (the axis
/// values), `case` (its label), `verdict`, `reason`, `seconds` and `rows` (full precision, as in
/// report.json).
pub fn line(card: &Card, index: usize, point: &GridPoint, outcome: &Outcome) -> String {
    let rows: Vec<Row> = outcome.evidence.iter().map(Row::from).collect();
    let v = serde_json::json!({
        "card": card.id,
        "index": index,
        "point": axes(card, point),
        "case": point.1,
        "verdict": outcome.verdict.label(),
        "reason": outcome.verdict.reason(),
        "seconds": outcome.seconds,
        "rows": rows,
    });
    serde_json::to_string(&v).expect("serialisable")
}

/// The points of `card` already in a sweep file's text (lines of this card; lines that do not
/// parse — a line cut short when a job was killed — and other cards' lines are ignored), keyed
/// by their axis values.
pub fn done(card: &Card, text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["card"] == card.id.as_str() && v["verdict"].is_string())
        .map(|v| v["point"].to_string())
        .collect()
}

/// The key of a point in [`done`].
pub fn key(card: &Card, point: &GridPoint) -> String {
    serde_json::Value::Object(axes(card, point)).to_string()
}
