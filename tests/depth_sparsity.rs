//! The `depth-sparsity` family: the paper's depth-10 sparsity figure under SignGF, SignGD and Adam
//! (an `open` card: reproduced or INCONCLUSIVE, never FAIL); the shallow-sparse control must FAIL.
//! Evidence snapshotted.
mod common;

#[test]
fn depth_sparsity_card_is_reported_and_control_fails() {
    let views = common::run_family("depth-sparsity");
    common::snapshot("depth_sparsity", &serde_json::Value::Array(views));
}
