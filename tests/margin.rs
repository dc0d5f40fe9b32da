//! The `margin` family: exponential-loss GF on separable data vs the ℓ1 max-margin LP; the ℓ2
//! max-margin control must FAIL. Evidence snapshotted.
mod common;

#[test]
fn margin_cards_match_and_controls_fail() {
    let views = common::run_family("margin");
    common::snapshot("margin", &serde_json::Value::Array(views));
}
