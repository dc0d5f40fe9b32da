//! The `sparsity` family (claim `sparsity/depth-concentration`): the paper's depth-10 sparsity
//! figure under SignGF, SignGD and Adam (an `open` card: reproduced or INCONCLUSIVE, never FAIL);
//! the shallow-sparse control must FAIL. Evidence snapshotted.
mod common;

#[test]
fn sparsity_card_is_reported_and_control_fails() {
    let views = common::run_family("sparsity");
    common::snapshot("sparsity", &serde_json::Value::Array(views));
}
