//! The `weight-decay` family: coupled vs decoupled weight decay (equilibria, separation,
//! time-dependent mirror potential) and the discrete optimizers against their flows. Every card
//! matches its expectation, every negative control gives its expected verdict, evidence snapshotted.
mod common;

#[test]
fn weight_decay_cards_match_and_controls_fail() {
    let views = common::run_family("weight-decay");
    common::snapshot("weight_decay", &serde_json::Value::Array(views));
}
