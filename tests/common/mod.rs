//! Shared test helpers: run cards, assert outcomes, snapshot rounded evidence.
#![allow(dead_code)]

use mirrorflow::checks::{self, Outcome};
use mirrorflow::claims::Card;
use mirrorflow::verdict::{magnitude, round_sig, Verdict};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository's card folder.
pub fn cards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("theorems")
}

/// All default-tier cards of a family (typed cards: `check = "family/claim"`; legacy cards: the
/// kind). Cards of `tier = "paper-scale"` are left to CI's `check --all --paper-scale` run (with
/// their controls, compared with snapshots/report.json), so that `cargo test` stays fast.
pub fn cards_of(family: &str) -> Vec<Card> {
    cards_of_tier(family, mirrorflow::claims::Tier::Default)
}

/// The cards of a family in one tier.
pub fn cards_of_tier(family: &str, tier: mirrorflow::claims::Tier) -> Vec<Card> {
    checks::load_cards(&cards_dir())
        .expect("cards parse")
        .into_iter()
        .filter(|c| c.tier == tier)
        .filter(|c| c.check == family || c.check.split('/').next() == Some(family))
        .collect()
}

/// A stable, machine-independent view of an outcome: 6 significant digits for figures, orders of
/// magnitude for noise-level errors (THEORY §8), the tolerance of every row (a loosened tolerance
/// shows in review), observations marked; no step counts (those belong to the integrators' own
/// unit tests).
pub fn snapshot_view(o: &Outcome) -> Value {
    let rows: Vec<Value> = o
        .evidence
        .iter()
        .map(|e| {
            // an error measure with a zero prediction is a distance, and a figure below 1e-12 of
            // the prediction's scale is rounding noise (a coordinate decayed to 1e-21): only their
            // order of magnitude is stable across machines
            let noise = e.measured.abs() < 1e-12 * e.predicted.abs().max(1.0);
            let measured = if e.predicted == 0.0 || noise {
                json!(order_of_magnitude(e.measured))
            } else {
                json!(round_sig(e.measured, 6))
            };
            if e.observation {
                // an observed figure below 1e-9 is an error at the engines' own level (a residual
                // ‖Ax − y‖/‖y‖ of 2e-11 at the end of a sign flow, a dual solve's 1e-15): its
                // digits move with the last bits of any kernel or event time, so only its decade
                // is stable across machines (an exact 0, e.g. a count, stays 0). The smallest
                // figure that is a trend, not noise, is an escape time's α-asymptotic error of 3e-9
                let observed = if e.measured != 0.0 && e.measured.abs() < 1e-9 {
                    json!(order_of_magnitude(e.measured))
                } else {
                    json!(round_sig(e.measured, 6))
                };
                return json!({ "case": e.case, "quantity": e.quantity, "observed": observed });
            }
            json!({
                "case": e.case,
                "quantity": e.quantity,
                "predicted": round_sig(e.predicted, 6),
                "measured": measured,
                "tolerance": e.tolerance,
                "verdict": e.verdict.label(),
            })
        })
        .collect();
    json!({ "theorem": o.theorem, "verdict": o.verdict.label(), "expected": o.expected, "rows": rows })
}

/// `~1e-9` for 3.7e-9: the decade of a noise-level figure, written without float noise; below
/// 1e-12 only `<1e-12` (rounding noise, which may be 0 or 1e-16 on another machine).
pub fn order_of_magnitude(v: f64) -> String {
    let m = magnitude(v);
    if m < 1e-12 {
        "<1e-12".to_string()
    } else if !m.is_finite() {
        format!("{m}")
    } else {
        format!("~1e{}", m.log10().round() as i32)
    }
}

/// Runs every default-tier card of a kind with its negative controls; asserts expectations;
/// returns the snapshot views. Paper-scale cards (`tier = "paper-scale"`) are left to
/// [`run_paper_scale`], whose tests are `#[ignore]`d (CI runs those cards through
/// `check --all --paper-scale`).
pub fn run_family(kind: &str) -> Vec<Value> {
    run_cards(kind, mirrorflow::claims::Tier::Default)
}

/// Runs the paper-scale cards of a kind, as [`run_family`] does the default tier.
pub fn run_paper_scale(kind: &str) -> Vec<Value> {
    run_cards(kind, mirrorflow::claims::Tier::PaperScale)
}

fn run_cards(kind: &str, tier: mirrorflow::claims::Tier) -> Vec<Value> {
    let cards = cards_of_tier(kind, tier);
    assert!(!cards.is_empty(), "no {tier:?} cards for {kind}");
    let mut views = Vec::new();
    for card in &cards {
        let o = checks::run_card(card).expect("card runs");
        assert!(o.matches, "{}: expected {}, got {}", card.id, o.expected, o.verdict);
        if card.expect == mirrorflow::claims::Expect::Holds {
            assert_eq!(o.verdict, Verdict::Pass, "{}", card.id);
        }
        views.push(snapshot_view(&o));
        assert!(!card.negative_controls.is_empty(), "{} has no negative control", card.id);
        for i in 0..card.negative_controls.len() {
            let c = checks::run_control(card, i).expect("control runs");
            assert!(c.matches, "{}: negative control must give {}, got {}", c.theorem, c.expected, c.verdict);
            views.push(snapshot_view(&c));
        }
    }
    views
}

/// Asserts a YAML snapshot stored in the top-level `snapshots/` folder.
pub fn snapshot(name: &str, value: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_yaml_snapshot!(name, value));
}

/// Runs the `mirrorflow` binary with `args`.
pub fn mirrorflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirrorflow")).args(args).output().expect("binary runs")
}

/// Asserts exit code 2 with a one-line error naming `needle`, and no panic.
pub fn assert_bad_input(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one-line error expected, got: {err}");
    assert!(err.contains(needle), "error should name '{needle}': {err}");
    assert!(!err.contains("panicked"), "{err}");
}
