//! The `weight-decay` family: coupled vs decoupled weight decay (equilibria, separation,
//! time-dependent mirror potential) and the discrete optimizers against their flows. Every card
//! matches its expectation, every negative control gives its expected verdict, evidence snapshotted.
mod common;

use common::mirrorflow;

#[test]
fn weight_decay_cards_match_and_controls_fail() {
    let views = common::run_family("weight-decay");
    common::snapshot("weight_decay", &serde_json::Value::Array(views));
}

use std::path::PathBuf;
use std::process::Output;

fn scalar_data(y: f64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mirrorflow-wd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("y{y}.json"));
    std::fs::write(&path, format!(r#"{{"a": [[1]], "y": [{y}]}}"#)).unwrap();
    path
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Acceptance (issue 5): f = (x − y)²/2, L = 2, μ = 0.1, positive balanced init: decoupled SignGF
/// ends at min(y, μ^(−2)) = min(y, 100), coupled SignGF at the soft threshold max(y − 0.1, 0),
/// both to 1e−3 absolute, with the default horizon t_end = 1e4 (no step limit is hit).
#[test]
fn sign_flow_limits_under_coupled_and_decoupled_decay() {
    for y in [0.05, 0.1, 0.5, 2.0, 99.0, 150.0, 200.0] {
        let data = scalar_data(y);
        let d = data.to_str().unwrap();
        for (decay, expected) in [("decoupled", y.min(100.0)), ("coupled", (y - 0.1f64).max(0.0))] {
            let args = [
                "flow",
                "--data",
                d,
                "--depth",
                "2",
                "--q",
                "1",
                "--alpha",
                "0.1",
                "--weight-decay",
                "0.1",
                "--decay",
                decay,
                "--format",
                "json",
            ];
            let v = json_of(&mirrorflow(&args));
            let x = v["x"][0].as_f64().unwrap();
            assert!((x - expected).abs() < 1e-3, "y = {y}, {decay}: x = {x}, expected {expected}");
            assert_eq!(v["t"].as_f64(), Some(1e4), "the flow ran to its horizon");
        }
    }
}

#[test]
fn train_runs_the_optimizers_and_rejects_bad_input() {
    let data = scalar_data(200.0);
    let d = data.to_str().unwrap();
    let base = ["train", "--data", d, "--depth", "2", "--alpha", "0.5", "--format", "json"];
    let run = |extra: &[&str]| mirrorflow(&[&base[..], extra].concat());
    // AdamW ends in the box |w| ≤ 1/μ: x → μ^(−2) = 100. It approaches 1/μ at rate ημ = 1e−3 per
    // step while v̂ forgets at rate 1 − β2 = 1e−3 too (a double root: error ~ k e^(−k/1000)):
    // after 40 000 steps ≈ 40·e^(−40) relative
    let v = json_of(&run(&["--optimizer", "adamw", "--lr", "0.01", "--steps", "40000", "--weight-decay", "0.1"]));
    assert!((v["x"][0].as_f64().unwrap() - 100.0).abs() < 1e-3, "{v}");
    assert_eq!(v["steps"].as_u64(), Some(40000));
    assert!(v["loss"].as_f64().is_some() && v["balance"].is_array());
    // Adam with β1 = β2 = 0 and ε = 0 is SignGD step for step (identical JSON x)
    let adam = json_of(&run(&[
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--steps",
        "300",
        "--beta1",
        "0",
        "--beta2",
        "0",
        "--eps",
        "0",
    ]));
    let sign = json_of(&run(&["--optimizer", "signgd", "--lr", "0.01", "--steps", "300"]));
    assert_eq!(adam["x"], sign["x"]);
    for (extra, field) in [
        (&["--optimizer", "gd", "--lr", "-0.1", "--steps", "10"][..], "--lr"),
        (&["--optimizer", "gd", "--lr", "0.1", "--steps", "0"][..], "--steps"),
        (&["--optimizer", "adam", "--lr", "0.1", "--steps", "10", "--beta2", "1.5"][..], "--beta2"),
        (&["--optimizer", "adamw", "--lr", "0.1", "--steps", "10", "--weight-decay", "-1"][..], "--weight-decay"),
    ] {
        let out = run(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(field) && !err.contains("panicked"), "{err}");
    }
    let bad = mirrorflow(&[
        "train",
        "--data",
        d,
        "--depth",
        "0",
        "--alpha",
        "0.5",
        "--optimizer",
        "gd",
        "--lr",
        "0.1",
        "--steps",
        "5",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
