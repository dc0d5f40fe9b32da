//! The `balance` family: every card passes, every negative control gives its expected verdict,
//! evidence snapshotted.
mod common;

#[test]
fn balance_cards_pass_and_controls_fail() {
    let views = common::run_family("balance");
    common::snapshot("balance", &serde_json::Value::Array(views));
}
