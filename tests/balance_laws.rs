//! The `balance-laws` family: every card passes, every negative control fails, evidence snapshotted.
mod common;

#[test]
fn balance_cards_pass_and_controls_fail() {
    let views = common::run_family("balance-laws");
    common::snapshot("balance_laws", &serde_json::Value::Array(views));
}
