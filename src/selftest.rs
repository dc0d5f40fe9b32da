//! Test the tester: a table of deliberately wrong claims (`tests/wrong_claims.toml`), each a card
//! with `--set` overrides that make its claim false. None may PASS: each must FAIL, be
//! INCONCLUSIVE, or be rejected as bad input (a key the claim does not have). `mirrorflow selftest`
//! runs the table; CI runs it.

use crate::checks::{self, Outcome};
use crate::claims::Card;
use crate::error::{InputError, InputResult};
use serde::Deserialize;

/// The committed table.
pub const TABLE: &str = include_str!("../tests/wrong_claims.toml");

/// One wrong claim.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrongClaim {
    /// The card it mutates.
    pub card: String,
    /// `key=value` overrides, as `check --set` takes them.
    pub set: Vec<String>,
    /// Why the mutated claim is wrong.
    pub why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    wrong: Vec<WrongClaim>,
}

/// Parses a table of wrong claims.
pub fn parse(source: &str, text: &str) -> InputResult<Vec<WrongClaim>> {
    let t: Table = toml::from_str(text).map_err(|e| InputError::new(source, e.message().trim().to_string()))?;
    Ok(t.wrong)
}

/// What a wrong claim gave.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The run's outcome (PASS is the tester's failure).
    Ran(Box<Outcome>),
    /// The overrides were rejected as bad input.
    Rejected(InputError),
}

impl Answer {
    /// Whether the wrong claim was caught (anything but PASS).
    pub fn caught(&self) -> bool {
        match self {
            Answer::Ran(o) => o.verdict != crate::verdict::Verdict::Pass,
            Answer::Rejected(_) => true,
        }
    }

    /// `FAIL`, `INCONCLUSIVE`, `PASS` or `REJECTED`.
    pub fn label(&self) -> &'static str {
        match self {
            Answer::Ran(o) => o.verdict.label(),
            Answer::Rejected(_) => "REJECTED",
        }
    }
}

/// Runs one wrong claim against `cards`.
pub fn run(cards: &[Card], wrong: &WrongClaim) -> InputResult<Answer> {
    let mut card = cards
        .iter()
        .find(|c| c.id == wrong.card)
        .cloned()
        .ok_or_else(|| InputError::new(&wrong.card, "the wrong-claims table names no such card"))?;
    if let Err(e) = card.apply_sets(&wrong.set).and_then(|_| checks::validate_card(&card)) {
        return Ok(Answer::Rejected(e));
    }
    match checks::run_card(&card) {
        Ok(o) => Ok(Answer::Ran(Box::new(o))),
        Err(e) => Ok(Answer::Rejected(e)),
    }
}
