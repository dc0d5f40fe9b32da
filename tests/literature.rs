//! The `literature` family (the diagonal-network canon of issue 14): every card as expected, every
//! negative control as expected, evidence snapshotted.
mod common;

#[test]
fn literature_cards_match_their_expectations() {
    let views = common::run_family("literature");
    common::snapshot("literature", &serde_json::Value::Array(views));
}
