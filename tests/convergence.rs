//! The `convergence` family (convergence-bound, convergence-bound-denominator): every card gives its
//! expected outcome, every negative control its expected verdict, evidence snapshotted.
mod common;

#[test]
fn convergence_cards_give_their_expected_outcomes() {
    let views = common::run_family("convergence");
    common::snapshot("convergence", &serde_json::Value::Array(views));
}
