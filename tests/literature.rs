//! The `literature` family (the diagonal-network canon of issue 14): every card as expected, every
//! negative control as expected, evidence snapshotted.
mod common;

#[test]
fn literature_cards_match_their_expectations() {
    let views = common::run_family("literature");
    common::snapshot("literature", &serde_json::Value::Array(views));
}

#[test]
fn bias_cli_predicts_the_gd_limit() {
    // u ⊙ v from the λ-balanced start (u0 = √(α² + λ), v0 = α: x0 ≠ 0, so the reference is
    // asinh(2x0/δ0) + φ): the printed prediction against the GD iterate at loss ≤ 1e-26
    let p = mirrorflow::problem::Problem::random_regression(7, 4, 8, 2);
    let rows: Vec<Vec<f64>> = (0..p.a.nrows()).map(|i| p.a.row(i).iter().copied().collect()).collect();
    let dir = std::env::temp_dir().join(format!("mirrorflow-bias-gd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.json");
    std::fs::write(&data, serde_json::json!({ "a": rows, "y": p.y.as_slice() }).to_string()).unwrap();
    let d = data.to_str().unwrap();
    let base = ["bias", "--data", d, "--depth", "2", "--alpha", "0.1", "--balance", "0.02"];
    let out = common::mirrorflow(&[&base[..], &["--optimizer", "gd", "--lr", "0.05", "--format", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // the gd-effective-init card's tolerance (GD stops at loss 1e-26)
    assert!(v["gd"]["distance"].as_f64().unwrap() < 1e-9, "{v}");
    assert!(v["converged"].as_bool().unwrap() && v["x"].as_array().unwrap().len() == 8);
    for (extra, needle) in [
        (&["--optimizer", "gd"][..], "--lr"),
        (&["--lr", "0.05"][..], "--lr"),
        (&["--optimizer", "gd", "--lr", "3"][..], "--lr"),
        (&["--optimizer", "gd", "--lr", "0.05", "--two-sided"][..], "--optimizer"),
    ] {
        common::assert_bad_input(&common::mirrorflow(&[&base[..], extra].concat()), needle);
    }
    let balanced = ["bias", "--data", d, "--depth", "2", "--alpha", "0.1", "--optimizer", "gd", "--lr", "0.05"];
    common::assert_bad_input(&common::mirrorflow(&balanced), "--balance");
}
