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

/// The value kind of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A real number.
    Real,
    /// An integer.
    Int,
    /// A string.
    Text,
    /// A list of reals (a grid axis is then a list of lists).
    Reals,
}

/// A parameter a check understands, with its constraint.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The key.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Validation of one value (reals: each element); returns the reason on failure.
    pub valid: fn(&Value) -> Result<(), String>,
    /// What it means.
    pub doc: &'static str,
}

/// Common parameter constraints.
pub mod constraint {
    use toml::Value;

    fn real(v: &Value) -> Result<f64, String> {
        match v {
            Value::Float(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(format!("expected a number, got {other}")),
        }
    }

    /// Any finite number.
    pub fn any(v: &Value) -> Result<(), String> {
        match v {
            Value::Array(a) => a.iter().try_for_each(any),
            Value::String(_) => Ok(()),
            _ => real(v).and_then(|x| if x.is_finite() { Ok(()) } else { Err("must be finite".into()) }),
        }
    }

    /// q ∈ [1, 2].
    pub fn q(v: &Value) -> Result<(), String> {
        let x = real(v)?;
        if (1.0..=2.0).contains(&x) {
            Ok(())
        } else {
            Err(format!("q must lie in [1, 2], got {x}"))
        }
    }

    /// An integer ≥ 1.
    pub fn at_least_one(v: &Value) -> Result<(), String> {
        match v {
            Value::Integer(i) if *i >= 1 => Ok(()),
            other => Err(format!("must be an integer ≥ 1, got {other}")),
        }
    }

    /// A finite number > 0.
    pub fn positive(v: &Value) -> Result<(), String> {
        let x = real(v)?;
        if x.is_finite() && x > 0.0 {
            Ok(())
        } else {
            Err(format!("must be positive, got {x}"))
        }
    }

    /// A finite number ≥ 0.
    pub fn nonnegative(v: &Value) -> Result<(), String> {
        let x = real(v)?;
        if x.is_finite() && x >= 0.0 {
            Ok(())
        } else {
            Err(format!("must be non-negative, got {x}"))
        }
    }
}

/// One point of a card's parameter grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Point {
    values: BTreeMap<String, Value>,
}

impl Point {
    /// A point from explicit values.
    pub fn new(values: BTreeMap<String, Value>) -> Self {
        Self { values }
    }

    fn get(&self, key: &str) -> InputResult<&Value> {
        self.values.get(key).ok_or_else(|| InputError::new(format!("parameters.{key}"), "missing"))
    }

    /// Whether the key is set.
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A real parameter.
    pub fn real(&self, key: &str) -> InputResult<f64> {
        match self.get(key)? {
            Value::Float(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            v => Err(InputError::new(format!("parameters.{key}"), format!("expected a number, got {v}"))),
        }
    }

    /// A real parameter with a default.
    pub fn real_or(&self, key: &str, default: f64) -> InputResult<f64> {
        if self.has(key) {
            self.real(key)
        } else {
            Ok(default)
        }
    }

    /// An integer parameter.
    pub fn int(&self, key: &str) -> InputResult<i64> {
        match self.get(key)? {
            Value::Integer(i) => Ok(*i),
            v => Err(InputError::new(format!("parameters.{key}"), format!("expected an integer, got {v}"))),
        }
    }

    /// An integer parameter with a default.
    pub fn int_or(&self, key: &str, default: i64) -> InputResult<i64> {
        if self.has(key) {
            self.int(key)
        } else {
            Ok(default)
        }
    }

    /// A string parameter with a default.
    pub fn text_or(&self, key: &str, default: &str) -> InputResult<String> {
        match self.values.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(InputError::new(format!("parameters.{key}"), format!("expected a string, got {v}"))),
        }
    }

    /// A list-of-reals parameter (empty if absent).
    pub fn reals(&self, key: &str) -> InputResult<Vec<f64>> {
        match self.values.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Float(f) => Ok(*f),
                    Value::Integer(i) => Ok(*i as f64),
                    v => Err(InputError::new(format!("parameters.{key}"), format!("expected numbers, got {v}"))),
                })
                .collect(),
            Some(v) => Err(InputError::new(format!("parameters.{key}"), format!("expected a list, got {v}"))),
        }
    }

    /// A short label, e.g. `L=3 q=1`, from the keys that vary over the grid.
    pub fn label(&self, keys: &[String]) -> String {
        keys.iter().filter_map(|k| self.values.get(k).map(|v| format!("{k}={}", show(v)))).collect::<Vec<_>>().join(" ")
    }
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

    /// Whether the card binds to a typed claim (`family/claim`) rather than a legacy check kind.
    pub fn is_typed(&self) -> bool {
        self.check.contains('/')
    }

    /// Validates a legacy card's parameters and its controls against the kind's spec.
    pub fn validate_legacy(&self, spec: &CheckSpec) -> InputResult<()> {
        for name in spec.tolerances {
            if !self.tolerances.contains_key(*name) {
                return Err(InputError::new(format!("{}: tolerance.{name}", self.source), "missing"));
            }
        }
        self.validate(spec, &self.parameters)?;
        for (i, control) in self.negative_controls.iter().enumerate() {
            let mutated = self.with_overrides(&control.set);
            self.validate(spec, &mutated).map_err(|e| {
                InputError::new(format!("{}: negative_control[{i}].set ({})", self.source, e.location), e.message)
            })?;
        }
        Ok(())
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

    fn validate(&self, spec: &CheckSpec, params: &BTreeMap<String, Value>) -> InputResult<()> {
        for (key, value) in params {
            let location = match line_of(&self.text, Some("parameters"), key) {
                Some(l) => format!("{}:{l}: parameters.{key}", self.source),
                None => format!("{}: parameters.{key}", self.source),
            };
            let p =
                spec.params.iter().find(|p| p.name == key).ok_or_else(|| {
                    InputError::new(&location, format!("unknown parameter for check '{}'", self.check))
                })?;
            for v in axis(p.kind, value) {
                let kind_ok = match (p.kind, v) {
                    (Kind::Real, Value::Float(_) | Value::Integer(_)) => true,
                    (Kind::Int, Value::Integer(_)) => true,
                    (Kind::Text, Value::String(_)) => true,
                    (Kind::Reals, Value::Array(a)) => {
                        a.iter().all(|x| matches!(x, Value::Float(_) | Value::Integer(_)))
                    }
                    _ => false,
                };
                if !kind_ok {
                    return Err(InputError::new(&location, format!("expected {:?}, got {v}", p.kind)));
                }
                let each: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                for x in each {
                    (p.valid)(x).map_err(|m| InputError::new(&location, m))?;
                }
            }
        }
        Ok(())
    }

    /// The parameters with `set` applied (keys replaced whole).
    pub fn with_overrides(&self, set: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        let mut p = self.parameters.clone();
        for (k, v) in set {
            p.insert(k.clone(), v.clone());
        }
        p
    }

    /// Applies `key=value` overrides (value in TOML syntax; `grid.key=[…]` sets a grid axis).
    /// Typed cards are re-validated by the caller ([`crate::checks::load_card`] rules); legacy
    /// cards against `spec`.
    pub fn apply_sets(&mut self, sets: &[String], spec: Option<&CheckSpec>) -> InputResult<()> {
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
            if self.is_typed() {
                let mut a =
                    Assignment { fixed: std::mem::take(&mut self.parameters), axes: std::mem::take(&mut self.grid) };
                a.set(key, value);
                if let Some(axis) = a.axes.get(key.trim_start_matches("grid.")) {
                    check_axis(axis).map_err(|m| InputError::new(format!("--set {key}"), m))?;
                }
                self.parameters = a.fixed;
                self.grid = a.axes;
                self.overridden.insert(key.trim_start_matches("grid.").to_string());
            } else {
                self.parameters.insert(key.to_string(), value);
            }
        }
        match spec {
            Some(spec) => {
                let params = self.parameters.clone();
                self.validate(spec, &params).map_err(|e| InputError::new(format!("--set ({})", e.location), e.message))
            }
            None => Ok(()),
        }
    }

    /// The grid points of `params` (a card's own or a control's): the cartesian product of axes.
    pub fn grid(params: &BTreeMap<String, Value>, spec: &CheckSpec) -> (Vec<Point>, Vec<String>) {
        let mut points = vec![BTreeMap::new()];
        let mut varying = vec![];
        for (key, value) in params {
            let kind = spec.params.iter().find(|p| p.name == key).map_or(Kind::Real, |p| p.kind);
            let options = axis(kind, value);
            if options.len() > 1 {
                varying.push(key.clone());
            }
            points = points
                .into_iter()
                .flat_map(|p| {
                    options.iter().map(move |o| {
                        let mut q = p.clone();
                        q.insert(key.clone(), (*o).clone());
                        q
                    })
                })
                .collect();
        }
        (points.into_iter().map(Point::new).collect(), varying)
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

/// The options of one grid axis: a list is an axis, except for list-valued parameters where a
/// list of lists is.
fn axis(kind: Kind, value: &Value) -> Vec<&Value> {
    match (kind, value) {
        (Kind::Reals, Value::Array(a)) if a.iter().all(|x| matches!(x, Value::Array(_))) && !a.is_empty() => {
            a.iter().collect()
        }
        (Kind::Reals, v) => vec![v],
        (_, Value::Array(a)) => a.iter().collect(),
        (_, v) => vec![v],
    }
}

/// What a check kind accepts.
#[derive(Debug, Clone, Copy)]
pub struct CheckSpec {
    /// The parameters it understands.
    pub params: &'static [ParamSpec],
    /// The tolerance names it needs.
    pub tolerances: &'static [&'static str],
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: CheckSpec = CheckSpec {
        params: &[
            ParamSpec { name: "q", kind: Kind::Real, valid: constraint::q, doc: "" },
            ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "" },
            ParamSpec { name: "constants", kind: Kind::Reals, valid: constraint::any, doc: "" },
        ],
        tolerances: &["trajectory"],
    };

    const CARD: &str = r#"id = "t"
title = "T"
provenance = "derived"
reference = "THEORY §3"
statement = "s"
check = "k"

[parameters]
q = [1.0, 2]
depth = 3
constants = [[0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]

[tolerance]
trajectory = 1e-6
why = "integration tolerance"

[[negative_control]]
description = "wrong"
set = { q = 1.5 }
"#;

    fn parse(text: &str) -> InputResult<Card> {
        let card = Card::parse("t.toml", text)?;
        card.validate_legacy(&SPEC)?;
        Ok(card)
    }

    #[test]
    fn parses_and_expands_the_grid() {
        let card = parse(CARD).unwrap();
        let (points, varying) = Card::grid(&card.parameters, &SPEC);
        assert_eq!(points.len(), 4);
        assert_eq!(varying, vec!["constants".to_string(), "q".to_string()]);
        assert_eq!(points[0].reals("constants").unwrap(), vec![0.1, 0.0, 0.0]);
    }

    #[test]
    fn errors_name_field_and_line() {
        let bad = CARD.replace("q = [1.0, 2]", "q = 2.5");
        let e = parse(&bad).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:9: parameters.q") && e.contains("[1, 2]"), "{e}");
        let e = parse(&CARD.replace("depth = 3", "depth = 0")).unwrap_err().to_string();
        assert!(e.contains("parameters.depth"), "{e}");
        let e = parse(&CARD.replace("title = \"T\"", "title = ")).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:2"), "{e}");
        let e = parse(&CARD.replace("why = \"integration tolerance\"", "")).unwrap_err();
        assert!(e.to_string().contains("why"), "{e}");
        let e = parse(&CARD.replace("{ q = 1.5 }", "{ q = 3.0 }")).unwrap_err();
        assert!(e.to_string().contains("negative_control[0]"), "{e}");
    }

    #[test]
    fn overrides_are_validated() {
        let mut card = parse(CARD).unwrap();
        card.apply_sets(&["q=1.25".into()], Some(&SPEC)).unwrap();
        assert_eq!(card.parameters["q"], Value::Float(1.25));
        assert!(card.apply_sets(&["q=7".into()], Some(&SPEC)).is_err());
        assert!(card.apply_sets(&["nonsense".into()], Some(&SPEC)).is_err());
    }
}
