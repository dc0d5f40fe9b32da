//! The `mirror-flow` family: (claim `mirror-flow/deep-diagonal`): every card passes, every negative control fails, evidence snapshotted.
mod common;

#[test]
fn mirror_flow_cards_pass_and_controls_fail() {
    let views = common::run_family("mirror-flow");
    common::snapshot("mirror_flow", &serde_json::Value::Array(views));
}
