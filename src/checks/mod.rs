//! Theorem modules: each check kind turns a card's grid point into [`Evidence`]; this module binds
//! kinds to cards, runs grids (in parallel) and negative controls, and compares outcomes with the
//! card's expectation.

pub mod balance;
pub mod bias;
pub mod escape;
pub mod margin;
pub mod mirror_flow;
pub mod sparsity;
pub mod weight_decay;

use crate::claims::{constraint, Card, CheckSpec, ControlExpect, Expect, Kind, ParamSpec, Point};
use crate::error::{check_depth, check_q, InputError, InputResult};
use crate::problem::Problem;
use crate::reparam::{DeepDiagonal, Initialization};
use crate::verdict::{Evidence, Verdict};
use nalgebra::DVector;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A theorem module.
pub trait Check: Sync {
    /// The parameters and tolerances it understands.
    fn spec(&self) -> CheckSpec;
    /// Runs one grid point; `case` labels the evidence rows.
    fn run(&self, point: &Point, case: &str, tol: &Tolerances) -> InputResult<Vec<Evidence>>;
}

/// The named tolerances of a card.
pub struct Tolerances<'a>(pub &'a BTreeMap<String, f64>);

impl Tolerances<'_> {
    /// The tolerance `name` (validated present at parse time).
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(f64::NAN)
    }
}

/// All check kinds.
pub fn registry() -> Vec<(&'static str, &'static dyn Check)> {
    vec![
        ("mirror-flow", &mirror_flow::MirrorFlowCheck),
        ("balance-laws", &balance::BalanceCheck),
        ("saddle-escape", &escape::EscapeCheck),
        ("weight-decay", &weight_decay::WeightDecayCheck),
        ("implicit-bias", &bias::BiasCheck),
        ("margin", &margin::MarginCheck),
        ("depth-sparsity", &sparsity::SparsityCheck),
    ]
}

/// The check bound to a kind.
pub fn lookup(kind: &str) -> Option<&'static dyn Check> {
    registry().into_iter().find(|(k, _)| *k == kind).map(|(_, c)| c)
}

/// The spec of a kind (for card parsing).
pub fn spec_of(kind: &str) -> Option<CheckSpec> {
    lookup(kind).map(|c| c.spec())
}

/// The result of running a card (or one of its negative controls).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Card id (controls: `id/control-N`).
    pub theorem: String,
    /// Card title or control description.
    pub title: String,
    /// The verdict over all grid points.
    pub verdict: Verdict,
    /// Why, for FAIL and INCONCLUSIVE.
    pub reason: String,
    /// What was expected: holds/refuted/open, or fail/pass for a control.
    pub expected: String,
    /// Whether the verdict is the expected one.
    pub matches: bool,
    /// The evidence rows.
    pub evidence: Vec<Evidence>,
    /// Wall time.
    pub seconds: f64,
}

/// Loads every card in `dir`, sorted by id; duplicate ids are errors.
pub fn load_cards(dir: &Path) -> InputResult<Vec<Card>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| InputError::new(dir.display().to_string(), format!("cannot read the card folder: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut cards = Vec::new();
    for p in paths {
        let card = Card::load(&p, &spec_of)?;
        if cards.iter().any(|c: &Card| c.id == card.id) {
            return Err(InputError::new(card.source.clone(), format!("duplicate card id '{}'", card.id)));
        }
        cards.push(card);
    }
    cards.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cards)
}

fn run_params(card: &Card, params: &BTreeMap<String, toml::Value>) -> InputResult<(Verdict, Vec<Evidence>)> {
    let check = lookup(&card.check).ok_or_else(|| InputError::new(&card.source, "unknown check"))?;
    let spec = check.spec();
    let (points, varying) = Card::grid(params, &spec);
    let tol = Tolerances(&card.tolerances);
    let rows: Vec<InputResult<Vec<Evidence>>> =
        points.par_iter().map(|p| check.run(p, &p.label(&varying), &tol)).collect();
    let mut evidence = Vec::new();
    for r in rows {
        evidence.extend(r.map_err(|e| InputError::new(format!("{}: {}", card.source, e.location), e.message))?);
    }
    let verdict = Verdict::combine(evidence.iter().map(|e| &e.verdict));
    Ok((verdict, evidence))
}

/// Runs a card over its grid.
pub fn run_card(card: &Card) -> InputResult<Outcome> {
    let start = Instant::now();
    let (verdict, evidence) = run_params(card, &card.parameters)?;
    let matches = match card.expect {
        Expect::Holds => verdict == Verdict::Pass,
        Expect::Refuted => matches!(verdict, Verdict::Fail(_)),
        Expect::Open => true,
    };
    let expected = format!("{:?}", card.expect).to_lowercase();
    Ok(Outcome {
        theorem: card.id.clone(),
        title: card.title.clone(),
        reason: verdict.reason().to_string(),
        verdict,
        expected,
        matches,
        evidence,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs negative control `index` of a card: the mutated card must give the control's verdict.
pub fn run_control(card: &Card, index: usize) -> InputResult<Outcome> {
    let start = Instant::now();
    let control = &card.negative_controls[index];
    let (verdict, evidence) = run_params(card, &card.with_overrides(&control.set))?;
    let matches = match control.expect {
        ControlExpect::Fail => matches!(verdict, Verdict::Fail(_)),
        ControlExpect::Pass => verdict == Verdict::Pass,
    };
    Ok(Outcome {
        theorem: format!("{}/control-{}", card.id, index + 1),
        title: control.description.clone(),
        reason: verdict.reason().to_string(),
        verdict,
        expected: format!("{:?}", control.expect).to_lowercase(),
        matches,
        evidence,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Parameters shared by the checks that build a random regression on a deep diagonal model.
pub const MODEL_PARAMS: [ParamSpec; 8] = [
    ParamSpec { name: "depth", kind: Kind::Int, valid: constraint::at_least_one, doc: "depth L" },
    ParamSpec { name: "q", kind: Kind::Real, valid: constraint::q, doc: "steepest-descent exponent q ∈ [1, 2]" },
    ParamSpec { name: "alpha", kind: Kind::Real, valid: constraint::positive, doc: "initial scale α" },
    ParamSpec { name: "balance", kind: Kind::Real, valid: constraint::any, doc: "λ: layer 1 at (α^q + λ)^{1/q}" },
    ParamSpec { name: "constants", kind: Kind::Reals, valid: constraint::any, doc: "per-layer constants λ_i" },
    ParamSpec { name: "seed", kind: Kind::Int, valid: constraint::nonnegative, doc: "seed of the random problem" },
    ParamSpec { name: "samples", kind: Kind::Int, valid: constraint::at_least_one, doc: "number of samples n" },
    ParamSpec { name: "dim", kind: Kind::Int, valid: constraint::at_least_one, doc: "dimension d" },
];

/// A random regression on a deep diagonal model, built from a grid point.
pub struct Setup {
    /// The regression problem.
    pub problem: Problem,
    /// The model.
    pub model: DeepDiagonal,
    /// The initialisation.
    pub init: Initialization,
    /// q.
    pub q: f64,
    /// The initial parameters.
    pub w0: DVector<f64>,
}

impl Setup {
    /// Reads `depth, q, alpha, balance | constants, seed, samples, dim` (defaults: seed 1, n 5, d 10).
    pub fn from_point(p: &Point) -> InputResult<Self> {
        let depth = check_depth("parameters.depth", p.int("depth")?)?;
        let q = check_q("parameters.q", p.real("q")?)?;
        let alpha = p.real("alpha")?;
        let constants = if p.has("constants") {
            let c = p.reals("constants")?;
            if c.len() != depth {
                return Err(InputError::new("parameters.constants", format!("{} values for depth {depth}", c.len())));
            }
            c
        } else {
            Initialization::lambda(alpha, depth, p.real_or("balance", 0.0)?).constants
        };
        let init = Initialization { alpha, constants };
        let n = p.int_or("samples", 5)? as usize;
        let d = p.int_or("dim", 10)? as usize;
        let problem = Problem::random_regression(p.int_or("seed", 1)? as u64, n, d, 0);
        let model = DeepDiagonal::new(depth, d);
        let w0 = model.init(&init, q).map_err(|e| InputError::new(format!("parameters.{}", e.location), e.message))?;
        Ok(Self { problem, model, init, q, w0 })
    }
}
