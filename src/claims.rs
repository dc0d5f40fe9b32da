//! Theorem cards (`theorems/*.toml`): parsing, validation with field-and-line errors, parameter
//! grids and overrides.
//!
//! A card is data: `id`, `title`, `provenance`, `reference`, `statement`, `check` (the check kind),
//! `expect` (holds | refuted | open), `[parameters]` (a grid: a list is an axis, a scalar is fixed),
//! `[tolerance]` (named tolerances and a `why`), and one or more `[[negative_control]]` tables, each
//! a `description`, the overrides `set = { … }` that make the claim wrong, and the verdict the
//! mutated card must give (`expect`, default "fail").

use crate::error::{InputError, InputResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Value;

/// Where a statement comes from (THEORY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Confirmed from the paper.
    Paper,
    /// Derived here from the paper's definitions.
    Derived,
    /// From earlier literature.
    Literature,
}

/// What the card expects the check to show (THEORY §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The claim holds: PASS expected.
    #[default]
    Holds,
    /// The claim is false and the check must show it: FAIL expected.
    Refuted,
    /// Not established: any verdict is reported, none is expected.
    Open,
}

/// The verdict a negative control must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ControlExpect {
    /// The mutated claim must FAIL.
    #[default]
    Fail,
    /// The mutated claim must PASS (controls of refuted cards).
    Pass,
}

/// Which runs include a card: `check --all` runs the default tier, `--paper-scale` adds the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Seconds: part of every `check --all` and of `cargo test`.
    #[default]
    Default,
    /// The paper's own scale (minutes): `check --all --paper-scale`.
    PaperScale,
}

/// A deliberately wrong variant of a card.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeControl {
    /// What is wrong in it.
    pub description: String,
    /// Parameter overrides that make it wrong (a key `grid.k` sets the grid axis `k`).
    pub set: BTreeMap<String, Value>,
    /// The verdict it must give.
    #[serde(default)]
    pub expect: ControlExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardFile {
    #[serde(default)]
    schema: Option<i64>,
    id: String,
    title: String,
    provenance: Provenance,
    reference: String,
    statement: String,
    check: String,
    #[serde(default)]
    expect: Expect,
    #[serde(default)]
    tier: Tier,
    #[serde(default)]
    parameters: BTreeMap<String, Value>,
    #[serde(default)]
    grid: BTreeMap<String, Value>,
    tolerance: BTreeMap<String, Value>,
    negative_control: Vec<NegativeControl>,
}

/// A validated theorem card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    /// Identifier (the file stem by convention).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// paper / derived / literature.
    pub provenance: Provenance,
    /// Section of the paper or citation.
    pub reference: String,
    /// The statement in words and formula.
    pub statement: String,
    /// The claim this card binds to: `family/claim` (legacy cards: a check kind).
    pub check: String,
    /// The expected outcome.
    pub expect: Expect,
    /// Which runs include it.
    pub tier: Tier,
    /// Fixed parameters (legacy cards: the grid, a list being an axis).
    pub parameters: BTreeMap<String, Value>,
    /// Grid axes: each a non-empty list of values; the claim runs on their cartesian product.
    pub grid: BTreeMap<String, Value>,
    /// Named tolerances.
    pub tolerances: BTreeMap<String, f64>,
    /// The justification of the tolerances.
    pub tolerance_why: String,
    /// Deliberately wrong variants.
    pub negative_controls: Vec<NegativeControl>,
    /// The file it came from.
    #[serde(skip)]
    pub source: String,
    #[serde(skip)]
    text: String,
    /// Keys overridden by `--set` (their errors name the flag).
    #[serde(skip)]
    overridden: std::collections::BTreeSet<String>,
}

fn show(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(",")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
fn line_of(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut in_section = section.is_none();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.starts_with('[') {
            in_section = section.is_some_and(|s| l.trim_start_matches('[').starts_with(s));
            continue;
        }
        if in_section && l.starts_with(key) && l[key.len()..].trim_start().starts_with('=') {
            return Some(i + 1);
        }
    }
    None
}

/// The card schema this build reads (`schema = 2`: typed claims with `[grid]` axes).
pub const CARD_SCHEMA: i64 = 2;

/// A card key renamed in schema 2, with the message that names its new spelling.
const RENAMED: [(&str, &str); 1] = [("kind", "check")];

impl Card {
    /// Parses a card: the envelope (metadata, tolerances and their justification, controls, grid
    /// axes). The parameters are validated against the claim by [`crate::checks::load_card`].
    pub fn parse(source: &str, text: &str) -> InputResult<Card> {
        let file: CardFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(1);
            let mut message = e.message().trim().to_string();
            for (old, new) in RENAMED {
                if message.contains(&format!("unknown field `{old}`")) {
                    message = format!("the key `{old}` is now spelled `{new}`");
                }
            }
            InputError::new(format!("{source}:{line}"), format!("malformed card: {message}"))
        })?;
        let at = |section: Option<&str>, key: &str| match line_of(text, section, key) {
            Some(l) => format!("{source}:{l}: {}{key}", section.map(|s| format!("{s}.")).unwrap_or_default()),
            None => format!("{source}: {}{key}", section.map(|s| format!("{s}.")).unwrap_or_default()),
        };
        if let Some(v) = file.schema {
            if v != CARD_SCHEMA {
                return Err(InputError::new(
                    at(None, "schema"),
                    format!("this build reads card schema {CARD_SCHEMA}, got {v}"),
                ));
            }
        }
        for (key, value) in
            [("id", &file.id), ("title", &file.title), ("reference", &file.reference), ("statement", &file.statement)]
        {
            if value.trim().is_empty() {
                return Err(InputError::new(at(None, key), "must not be empty"));
            }
        }
        let mut tolerances = BTreeMap::new();
        let mut why = String::new();
        for (k, v) in &file.tolerance {
            let number = match v {
                Value::Float(f) => Some(*f),
                Value::Integer(i) => Some(*i as f64),
                _ => None,
            };
            match (k.as_str(), v, number) {
                ("why", Value::String(s), _) => why = s.clone(),
                (_, _, Some(f)) if f.is_finite() && f > 0.0 => {
                    tolerances.insert(k.clone(), f);
                }
                _ => {
                    return Err(InputError::new(
                        at(Some("tolerance"), k),
                        format!("must be a positive finite number, got {v}"),
                    ))
                }
            }
        }
        if why.trim().is_empty() {
            return Err(InputError::new(at(Some("tolerance"), "why"), "a one-line justification is required"));
        }
        if file.negative_control.is_empty() {
            return Err(InputError::new(format!("{source}: negative_control"), "at least one is required"));
        }
        for (key, value) in &file.grid {
            check_axis(value).map_err(|m| InputError::new(at(Some("grid"), key), m))?;
            if file.parameters.contains_key(key) {
                return Err(InputError::new(at(Some("grid"), key), "also set in [parameters]: give it once"));
            }
        }
        Ok(Card {
            id: file.id,
            title: file.title,
            provenance: file.provenance,
            reference: file.reference,
            statement: file.statement,
            check: file.check,
            expect: file.expect,
            tier: file.tier,
            parameters: file.parameters,
            grid: file.grid,
            tolerances,
            tolerance_why: why,
            negative_controls: file.negative_control,
            source: source.to_string(),
            text: text.to_string(),
            overridden: Default::default(),
        })
    }

    /// The parameters of the card itself (`None`) or of negative control `i`: fixed values and
    /// grid axes after the control's overrides.
    pub fn assignment(&self, control: Option<usize>) -> Assignment {
        let mut a = Assignment { fixed: self.parameters.clone(), axes: self.grid.clone() };
        if let Some(i) = control {
            for (k, v) in &self.negative_controls[i].set {
                a.set(k, v.clone());
            }
        }
        a
    }

    /// Where the value of `key` came from, for an error message: the `--set` flag, the control's
    /// `set`, the card line, or the card file when the key is missing.
    pub fn locate(&self, key: &str, control: Option<usize>) -> String {
        let key = key.trim_start_matches("parameters.").trim_start_matches("grid.");
        if let Some(i) = control {
            let set = &self.negative_controls[i].set;
            let nested = set.get("grid").and_then(Value::as_table).is_some_and(|t| t.contains_key(key));
            if nested || set.contains_key(key) || set.contains_key(&format!("grid.{key}")) {
                return format!("{}: negative_control[{i}].set.{key}", self.source);
            }
        }
        if self.overridden.contains(key) {
            return format!("--set {key}");
        }
        for section in ["grid", "parameters"] {
            if let Some(l) = line_of(&self.text, Some(section), key) {
                return format!("{}:{l}: {section}.{key}", self.source);
            }
        }
        format!("{}: parameters.{key}", self.source)
    }

    /// The line of the card's `check`, for error messages.
    pub fn locate_check(&self) -> String {
        match line_of(&self.text, None, "check") {
            Some(l) => format!("{}:{l}: check", self.source),
            None => format!("{}: check", self.source),
        }
    }

    /// The line of `[tolerance] key`, for error messages.
    pub fn locate_tolerance(&self, key: &str) -> String {
        match line_of(&self.text, Some("tolerance"), key) {
            Some(l) => format!("{}:{l}: tolerance.{key}", self.source),
            None => format!("{}: tolerance.{key}", self.source),
        }
    }

    /// Loads a card file.
    pub fn load(path: &Path) -> InputResult<Card> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&source, format!("cannot read: {e}")))?;
        Card::parse(&source, &text)
    }

    /// Applies `key=value` overrides (value in TOML syntax; `grid.key=[…]` sets a grid axis), as
    /// a negative control's `set` does. The card is re-validated by [`crate::checks::validate_card`]
    /// (errors then name the `--set` key).
    pub fn apply_sets(&mut self, sets: &[String]) -> InputResult<()> {
        for s in sets {
            let (k, v) =
                s.split_once('=').ok_or_else(|| InputError::new("--set", format!("expected key=value, got '{s}'")))?;
            let key = k.trim();
            let value: Value = toml::from_str::<BTreeMap<String, Value>>(&format!("v = {}", v.trim()))
                .map_err(|e| {
                    InputError::new(format!("--set {key}"), format!("bad value '{v}': {}", e.message().trim()))
                })?
                .remove("v")
                .expect("parsed key");
            let mut a =
                Assignment { fixed: std::mem::take(&mut self.parameters), axes: std::mem::take(&mut self.grid) };
            a.set(key, value);
            let axis = a.axes.get(key.trim_start_matches("grid.")).map(check_axis);
            self.parameters = a.fixed;
            self.grid = a.axes;
            if let Some(Err(m)) = axis {
                return Err(InputError::new(format!("--set {key}"), m));
            }
            self.overridden.insert(key.trim_start_matches("grid.").to_string());
        }
        Ok(())
    }
}

/// A grid axis must be a non-empty list.
fn check_axis(value: &Value) -> Result<(), String> {
    match value {
        Value::Array(a) if !a.is_empty() => Ok(()),
        Value::Array(_) => Err("an empty grid axis: give at least one value".into()),
        other => Err(format!("a grid axis is a list of values, got {other}")),
    }
}

/// Most grid points a card may expand to (a budget: more is bad input, not an hour-long run).
pub const MAX_GRID_POINTS: usize = 10_000;

/// One grid point: the parameter values and the label naming the varying axes.
pub type GridPoint = (BTreeMap<String, Value>, String);

/// A card's parameters after overrides: fixed values and grid axes (typed cards).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assignment {
    /// Fixed values, one per key.
    pub fixed: BTreeMap<String, Value>,
    /// Grid axes: key → non-empty list of values.
    pub axes: BTreeMap<String, Value>,
}

impl Assignment {
    /// Sets `key`: `grid.k` makes `k` an axis; a key already on the grid takes a list as its new
    /// axis and a single value as a fixed value; any other key is fixed.
    pub fn set(&mut self, key: &str, value: Value) {
        if let (Some("grid"), Value::Table(axes)) = (Some(key), &value) {
            // `set = { grid.q = […] }` in TOML is the nested table `grid = { q = […] }`
            for (k, v) in axes {
                self.set(&format!("grid.{k}"), v.clone());
            }
            return;
        }
        if let Some(k) = key.strip_prefix("grid.") {
            self.fixed.remove(k);
            self.axes.insert(k.to_string(), value);
        } else if self.axes.contains_key(key) && matches!(value, Value::Array(_)) {
            self.axes.insert(key.to_string(), value);
        } else {
            self.axes.remove(key);
            self.fixed.insert(key.to_string(), value);
        }
    }

    /// The grid points (fixed values plus one value per axis, cartesian product) with labels
    /// naming the axes' values, e.g. `depth=3 q=1.5`.
    pub fn points(&self) -> Result<Vec<GridPoint>, InputError> {
        let mut count = 1usize;
        for (k, v) in &self.axes {
            let n = match v {
                Value::Array(a) if !a.is_empty() => a.len(),
                _ => return Err(InputError::new(format!("grid.{k}"), "a grid axis is a non-empty list")),
            };
            count = count.saturating_mul(n);
        }
        if count > MAX_GRID_POINTS {
            return Err(InputError::new(
                "grid",
                format!("{count} grid points exceed the budget of {MAX_GRID_POINTS} per card"),
            ));
        }
        let mut points = vec![(self.fixed.clone(), Vec::<String>::new())];
        for (key, value) in &self.axes {
            let Value::Array(options) = value else { unreachable!("checked above") };
            let vary = options.len() > 1;
            points = points
                .into_iter()
                .flat_map(|(p, label)| {
                    options.iter().map(move |o| {
                        let mut p = p.clone();
                        p.insert(key.clone(), o.clone());
                        let mut label = label.clone();
                        if vary {
                            label.push(format!("{key}={}", show(o)));
                        }
                        (p, label)
                    })
                })
                .collect();
        }
        Ok(points.into_iter().map(|(p, l)| (p, l.join(" "))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r#"schema = 2
id = "t"
title = "T"
provenance = "derived"
reference = "THEORY §3"
statement = "s"
check = "family/claim"

[parameters]
depth = 3
constants = [0.1, 0.0, 0.0]

[grid]
q = [1.0, 2]
alpha = [0.1, 0.2, 0.3]

[tolerance]
trajectory = 1e-6
why = "integration tolerance"

[[negative_control]]
description = "wrong"
set = { q = 1.5, grid = { depth = [2, 4] } }
"#;

    #[test]
    fn parses_and_expands_the_grid() {
        let card = Card::parse("t.toml", CARD).unwrap();
        let points = card.assignment(None).points().unwrap();
        assert_eq!(points.len(), 6);
        assert_eq!(points[0].1, "alpha=0.1 q=1.0");
        assert_eq!(points[0].0["constants"], Value::Array(vec![0.1.into(), 0.0.into(), 0.0.into()]));
        // the control: q fixed, depth an axis
        let control = card.assignment(Some(0)).points().unwrap();
        assert_eq!(control.len(), 6);
        assert_eq!(control[5].1, "alpha=0.3 depth=4");
        assert_eq!(card.locate("depth", Some(0)), "t.toml: negative_control[0].set.depth");
        assert_eq!(card.locate("alpha", None), "t.toml:15: grid.alpha");
        assert_eq!(card.locate("depth", None), "t.toml:10: parameters.depth");
    }

    #[test]
    fn envelope_errors_name_field_and_line() {
        let e = Card::parse("t.toml", &CARD.replace("title = \"T\"", "title = ")).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:3"), "{e}");
        let e = Card::parse("t.toml", &CARD.replace("why = \"integration tolerance\"", "")).unwrap_err();
        assert!(e.to_string().contains("why"), "{e}");
        let e = Card::parse("t.toml", &CARD.replace("alpha = [0.1, 0.2, 0.3]", "alpha = []")).unwrap_err();
        assert!(e.to_string().starts_with("t.toml:15: grid.alpha"), "{e}");
        let e = Card::parse("t.toml", &CARD.replace("trajectory = 1e-6", "trajectory = -1")).unwrap_err();
        assert!(e.to_string().contains("tolerance.trajectory"), "{e}");
        let e = Card::parse("t.toml", &CARD.replace("schema = 2", "schema = 1")).unwrap_err();
        assert!(e.to_string().contains("schema"), "{e}");
        let e = Card::parse("t.toml", &CARD.replace("check = \"family/claim\"", "kind = \"x\"")).unwrap_err();
        assert!(e.to_string().contains("now spelled `check`"), "{e}");
    }

    #[test]
    fn overrides_replace_axes_and_fixed_values() {
        let mut card = Card::parse("t.toml", CARD).unwrap();
        card.apply_sets(&["q=1.25".into(), "grid.depth=[2, 3]".into(), "alpha=[0.5]".into()]).unwrap();
        assert_eq!(card.parameters["q"], Value::Float(1.25));
        assert!(!card.grid.contains_key("q") && card.grid.contains_key("depth"));
        assert_eq!(card.assignment(None).points().unwrap().len(), 2);
        assert_eq!(card.locate("q", None), "--set q");
        assert!(card.apply_sets(&["alpha=[]".into()]).is_err());
        assert!(card.apply_sets(&["nonsense".into()]).is_err());
    }
}
