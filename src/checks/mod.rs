//! Theorem modules. Each claim is a type: a serde struct of the parameters it reads
//! (`deny_unknown_fields`, an enum for every text value), validated once, whose
//! [`Claim::evidence`] turns one grid point into [`Evidence`]. A card names its claim as
//! `family/claim` (`check = "escape/escape-time"`); this module binds cards to claims, expands the
//! grid, runs it (in parallel) with the negative controls, and compares outcomes with the card's
//! expectation.

pub mod balance;
pub mod bias;
pub mod convergence;
pub mod docs;
pub mod escape;
pub mod literature;
pub mod margin;
pub mod mirror_flow;
pub mod regression;
pub mod sparsity;
pub mod weight_decay;

use crate::claims::{Card, ControlExpect, Expect};
use crate::error::{InputError, InputResult};
use crate::ode::Settings;
use crate::verdict::{Evidence, Verdict};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use toml::Value;

/// How tightly integrated figures are solved: `tighten = 1` for the normal run, `0.1` for the
/// re-solve of `check --verify-numerics` (every ODE tolerance ×0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Numerics {
    /// Factor on the integrators' relative and absolute tolerances.
    pub tighten: f64,
}

impl Default for Numerics {
    fn default() -> Self {
        Self { tighten: 1.0 }
    }
}

impl Numerics {
    /// The integrator settings of this run: the defaults with tolerances × `tighten`.
    pub fn settings(&self) -> Settings {
        self.scale(Settings::default())
    }

    /// `settings` with its tolerances × `tighten`.
    pub fn scale(&self, settings: Settings) -> Settings {
        Settings { rtol: settings.rtol * self.tighten, atol: settings.atol * self.tighten, ..settings }
    }
}

/// A claim of the paper (or derived, or from the literature) as a type: its fields are the card's
/// parameters at one grid point.
pub trait Claim: DeserializeOwned + JsonSchema + Send + Sync + Sized + 'static {
    /// `family/claim`, as cards write it in `check`.
    const ID: &'static str;
    /// The card's named tolerances (a struct with `deny_unknown_fields`).
    type Tolerance: DeserializeOwned + JsonSchema + Send + Sync;
    /// Validates the point once, before anything runs; an error's location names the key.
    fn validate(&self) -> InputResult<()> {
        Ok(())
    }
    /// The evidence at this grid point; `case` labels its rows.
    fn evidence(&self, case: &str, tol: &Self::Tolerance, numerics: &Numerics) -> InputResult<Vec<Evidence>>;
}

type Table = BTreeMap<String, Value>;

/// An error at a key of a grid point (None: the point as a whole) with its message.
type KeyError = (Option<String>, String);

/// A type-erased claim run: (grid point, tolerances, case label, numerics) → evidence.
type RunFn = fn(&Table, &Table, &str, &Numerics) -> Result<Vec<Evidence>, KeyError>;

/// A claim type with its type erased: what the registry holds.
pub struct ClaimType {
    /// `family/claim`.
    pub id: &'static str,
    /// The JSON schema of its parameters (keys, types, defaults and docs).
    pub schema: fn() -> schemars::Schema,
    /// The JSON schema of its tolerances.
    pub tolerance_schema: fn() -> schemars::Schema,
    parse: fn(&Table) -> Result<(), KeyError>,
    parse_tolerance: fn(&Table) -> Result<(), KeyError>,
    run: RunFn,
}

/// Deserialises `table` into `T`: unknown keys first (with the keys `T` has), then
/// `serde_path_to_error` names the key of any other error. The error is (key, message).
fn typed<T: DeserializeOwned + JsonSchema>(table: &Table) -> Result<T, KeyError> {
    let schema = schemars::schema_for!(T);
    let known: Vec<String> = schema
        .as_object()
        .and_then(|o| o.get("properties"))
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for key in table.keys() {
        if !known.contains(key) {
            return Err((Some(key.clone()), format!("not a key of this claim (its keys: {})", known.join(", "))));
        }
    }
    let value = Value::Table(table.clone().into_iter().collect());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().iter().next().map(|s| s.to_string()).filter(|k| !k.is_empty() && k != "?");
        let message = e.into_inner().to_string();
        (key, message.trim().replace('\n', " "))
    })
}

fn parse_point<C: Claim>(t: &Table) -> Result<C, KeyError> {
    let claim: C = typed(t)?;
    claim.validate().map_err(|e| (Some(e.location.trim_start_matches("parameters.").to_string()), e.message))?;
    Ok(claim)
}

/// The [`ClaimType`] of `C`.
pub fn claim_type<C: Claim>() -> ClaimType {
    ClaimType {
        id: C::ID,
        schema: || schemars::schema_for!(C),
        tolerance_schema: || schemars::schema_for!(C::Tolerance),
        parse: |t| parse_point::<C>(t).map(|_| ()),
        parse_tolerance: |t| typed::<C::Tolerance>(t).map(|_| ()),
        run: |t, tol, case, numerics| {
            let claim = parse_point::<C>(t)?;
            let tol: C::Tolerance = typed(tol)?;
            claim.evidence(case, &tol, numerics).map_err(|e| (Some(e.location), e.message))
        },
    }
}

/// Every typed claim.
pub fn claims() -> Vec<ClaimType> {
    vec![
        claim_type::<escape::escape_time::EscapeTime>(),
        claim_type::<escape::escape_integral::EscapeIntegral>(),
        claim_type::<escape::never_saddle::NeverSaddle>(),
        claim_type::<escape::learning_rate::LearningRate>(),
        claim_type::<escape::sign_flip::SignFlip>(),
        claim_type::<escape::plateaus::Plateaus>(),
        claim_type::<escape::coercivity::Coercivity>(),
        claim_type::<escape::blow_up::BlowUp>(),
        claim_type::<escape::paper_regression::PaperRegression>(),
        claim_type::<convergence::bound::Bound>(),
        claim_type::<weight_decay::equilibria::Equilibria>(),
        claim_type::<weight_decay::separation::Separation>(),
        claim_type::<weight_decay::time_mirror::TimeMirror>(),
        claim_type::<weight_decay::optimizer_order::OptimizerOrder>(),
        claim_type::<weight_decay::adam_beta2::AdamBeta2>(),
        claim_type::<weight_decay::adamw_box::AdamwBox>(),
        claim_type::<weight_decay::decoupled_regulariser::DecoupledRegulariser>(),
        claim_type::<weight_decay::decoupled_selection::DecoupledSelection>(),
        claim_type::<balance::conservation::Conservation>(),
        claim_type::<balance::decoupled_decay::DecoupledDecay>(),
        claim_type::<balance::scheduled_decay::ScheduledDecay>(),
        claim_type::<balance::coupled_sign::CoupledSign>(),
        claim_type::<balance::discrete::Discrete>(),
        claim_type::<margin::kkt_direction::KktDirection>(),
        claim_type::<margin::sign_max_margin::SignMaxMargin>(),
        claim_type::<bias::bregman::Bregman>(),
        claim_type::<bias::generalised::Generalised>(),
        claim_type::<bias::rich_kernel::RichKernel>(),
        claim_type::<mirror_flow::deep_diagonal::DeepDiagonalMirror>(),
        claim_type::<mirror_flow::perturbed_init::PerturbedInit>(),
        claim_type::<sparsity::depth_concentration::DepthConcentration>(),
        claim_type::<sparsity::finite_time::FiniteTime>(),
        claim_type::<sparsity::depth_margin::DepthMargin>(),
        claim_type::<literature::exact_trajectories::ExactTrajectories>(),
        claim_type::<literature::gd_effective_init::GdEffectiveInit>(),
        claim_type::<literature::depth_tie_break::DepthTieBreak>(),
        claim_type::<literature::depth_rate::DepthRate>(),
        claim_type::<literature::sgd_effective_init::SgdEffectiveInit>(),
        claim_type::<literature::label_noise::LabelNoise>(),
        claim_type::<literature::gd_logistic_asymptotics::GdLogisticAsymptotics>(),
        claim_type::<literature::adam_epsilon_margin::AdamEpsilonMargin>(),
        claim_type::<literature::saddle_to_saddle::SaddleToSaddleClaim>(),
    ]
}

/// The typed claim `id` (`family/claim`).
pub fn claim(id: &str) -> Option<ClaimType> {
    claims().into_iter().find(|c| c.id == id)
}

/// The tolerance table of a card as typed claims read it (without `why`).
fn tolerance_table(card: &Card) -> Table {
    card.tolerances.iter().map(|(k, v)| (k.clone(), Value::Float(*v))).collect()
}

/// Validates a card against its claim: every grid point of the card and of each negative control
/// deserialises and validates, and the tolerances are the claim's. Errors name the card line, the
/// control or the `--set` flag.
pub fn validate_card(card: &Card) -> InputResult<()> {
    let claim = claim(&card.check).ok_or_else(|| {
        InputError::new(card.locate_check(), format!("unknown claim '{}' (see `mirrorflow claims`)", card.check))
    })?;
    (claim.parse_tolerance)(&tolerance_table(card)).map_err(|(key, m)| match key {
        Some(k) => InputError::new(card.locate_tolerance(&k), m),
        None => InputError::new(format!("{}: tolerance", card.source), m),
    })?;
    for control in std::iter::once(None).chain((0..card.negative_controls.len()).map(Some)) {
        let points = card
            .assignment(control)
            .points()
            .map_err(|e| InputError::new(card.locate(&e.location, control), e.message))?;
        for (point, _) in &points {
            (claim.parse)(point).map_err(|(key, m)| match key {
                Some(k) => InputError::new(card.locate(&k, control), m),
                None => InputError::new(format!("{}: parameters", card.source), m),
            })?;
        }
    }
    Ok(())
}

/// Loads and validates one card file.
pub fn load_card(path: &Path) -> InputResult<Card> {
    let card = Card::load(path)?;
    validate_card(&card)?;
    Ok(card)
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
    /// The largest error/tolerance ratio over the rows that decide the verdict: for a negative
    /// control, how far beyond its tolerance the wrong claim lands (its power).
    pub power: f64,
    /// Wall time.
    pub seconds: f64,
}

/// The largest `error / tolerance` over the deciding rows (NaN if any is NaN).
pub fn power(evidence: &[Evidence]) -> f64 {
    evidence
        .iter()
        .filter(|e| !e.observation && e.tolerance > 0.0)
        .fold(0.0, |m, e| crate::verdict::worst(m, e.error / e.tolerance))
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
    if paths.is_empty() {
        return Err(InputError::new(dir.display().to_string(), "no theorem cards (*.toml) in this folder"));
    }
    let mut cards = Vec::new();
    for p in paths {
        let card = load_card(&p)?;
        if cards.iter().any(|c: &Card| c.id == card.id) {
            return Err(InputError::new(card.source.clone(), format!("duplicate card id '{}'", card.id)));
        }
        cards.push(card);
    }
    cards.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(cards)
}

/// Runs the grid of a typed card (`control`: one of its negative controls).
fn run_typed(card: &Card, control: Option<usize>, numerics: &Numerics) -> InputResult<(Verdict, Vec<Evidence>)> {
    let claim = claim(&card.check).ok_or_else(|| InputError::new(card.locate_check(), "unknown claim"))?;
    let points =
        card.assignment(control).points().map_err(|e| InputError::new(card.locate(&e.location, control), e.message))?;
    let tol = tolerance_table(card);
    let rows: Vec<InputResult<Vec<Evidence>>> = points
        .par_iter()
        .map(|(p, case)| {
            (claim.run)(p, &tol, case, numerics).map_err(|(key, m)| match key {
                Some(k) => InputError::new(card.locate(&k, control), m),
                None => InputError::new(&card.source, m),
            })
        })
        .collect();
    let mut evidence = Vec::new();
    for r in rows {
        evidence.extend(r?);
    }
    Ok((Verdict::combine(evidence.iter().filter(|e| !e.observation).map(|e| &e.verdict)), evidence))
}

/// What a run includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOptions {
    /// Run the negative controls after the card.
    pub controls: bool,
    /// Re-solve at 10× tighter integration tolerances ([`verify_numerics`]).
    pub verify_numerics: bool,
}

/// The factor on integration tolerances of the `--verify-numerics` re-solve.
pub const VERIFY_TIGHTEN: f64 = 0.1;

/// The largest share of a row's tolerance by which its error may move when re-solved at 10×
/// tighter integration tolerances: the numerical error must be well inside the tolerance.
pub const VERIFY_SHARE: f64 = 0.1;

/// Compares each row with its re-solve at tighter tolerances. A row is numerically settled when
/// its verdict is the same and its error moved by at most `VERIFY_SHARE × tolerance`, or — for a
/// row that fails both times — by at most `VERIFY_SHARE` of its distance beyond the tolerance (a
/// wrong claim far outside its tolerance stays wrong whatever the rounding). Anything else
/// becomes INCONCLUSIVE with the shift.
pub fn verify_numerics(rows: &mut [Evidence], tight: &[Evidence]) {
    for (row, again) in rows.iter_mut().zip(tight) {
        if row.observation || row.tolerance.is_nan() {
            continue;
        }
        let shift = (row.error - again.error).abs();
        let same = row.verdict.label() == again.verdict.label();
        let failing = matches!(row.verdict, Verdict::Fail(_)) && same;
        let room = if failing { (row.error - row.tolerance).max(row.tolerance) } else { row.tolerance };
        if !same || shift.is_nan() || shift > VERIFY_SHARE * room {
            row.verdict = Verdict::Inconclusive(format!(
                "{}: the error moved from {:.3e} to {:.3e} at 10× tighter integration tolerances (more than {} of the tolerance {:.1e})",
                row.quantity, row.error, again.error, VERIFY_SHARE, row.tolerance
            ));
        }
    }
}

fn outcome(card: &Card, control: Option<usize>, options: &RunOptions) -> InputResult<Outcome> {
    let start = Instant::now();
    let run = |numerics: &Numerics| run_typed(card, control, numerics);
    let (mut verdict, mut evidence) = run(&Numerics::default())?;
    if options.verify_numerics {
        let (_, tight) = run(&Numerics { tighten: VERIFY_TIGHTEN })?;
        if tight.len() == evidence.len() {
            verify_numerics(&mut evidence, &tight);
        } else {
            let reason =
                format!("the re-solve at tighter tolerances gave {} rows, not {}", tight.len(), evidence.len());
            evidence.push(Evidence::inconclusive("", "verify numerics", "re-solve", reason));
        }
        verdict = Verdict::combine(evidence.iter().filter(|e| !e.observation).map(|e| &e.verdict));
    }
    let (theorem, title, expected, matches) = match control {
        None => (
            card.id.clone(),
            card.title.clone(),
            format!("{:?}", card.expect).to_lowercase(),
            match card.expect {
                Expect::Holds => verdict == Verdict::Pass,
                Expect::Refuted => matches!(verdict, Verdict::Fail(_)),
                Expect::Open => true,
            },
        ),
        Some(i) => {
            let c = &card.negative_controls[i];
            (
                format!("{}/control-{}", card.id, i + 1),
                c.description.clone(),
                format!("{:?}", c.expect).to_lowercase(),
                match c.expect {
                    ControlExpect::Fail => matches!(verdict, Verdict::Fail(_)),
                    ControlExpect::Pass => verdict == Verdict::Pass,
                },
            )
        }
    };
    Ok(Outcome {
        theorem,
        title,
        reason: verdict.reason().to_string(),
        verdict,
        expected,
        matches,
        power: power(&evidence),
        evidence,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs a card over its grid.
pub fn run_card(card: &Card) -> InputResult<Outcome> {
    outcome(card, None, &RunOptions::default())
}

/// Runs negative control `index` of a card: the mutated card must give the control's verdict.
pub fn run_control(card: &Card, index: usize) -> InputResult<Outcome> {
    outcome(card, Some(index), &RunOptions::default())
}

/// Runs a card and, with `options.controls`, its negative controls; `tick` after each run.
/// The card and its controls run in parallel on the current rayon pool; the outcomes come back in
/// the fixed order card, control 1, control 2, … (the same for any number of threads).
pub fn run_with_controls(card: &Card, options: &RunOptions, tick: &(dyn Fn() + Sync)) -> InputResult<Vec<Outcome>> {
    let controls = if options.controls { card.negative_controls.len() } else { 0 };
    let runs: Vec<Option<usize>> = std::iter::once(None).chain((0..controls).map(Some)).collect();
    runs.par_iter()
        .map(|&control| {
            let o = outcome(card, control, options);
            tick();
            o
        })
        .collect()
}
