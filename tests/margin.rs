//! The `margin` family: exponential-loss steepest flows on separable data vs the ℓ_{p/L}
//! max-margin problems. `margin/kkt-direction`: the KKT conditions at the flow's direction —
//! (L, q) = (2, 2) ℓ1 (3 alive coordinates), (3, 2) nonconvex ℓ_{2/3} (3 alive), (2, 1.5) ℓ_{3/2}
//! (4 alive) — with wrong-exponent (1.2 vs 1, 1.4/1.6 vs 1.5, 0.5/1 vs 2/3), global-optimum and
//! support controls that must FAIL; `margin/sign-max-margin`: SignGF's ℓ∞ margin at L = 1, 2, 3.
//! Evidence snapshotted.
mod common;

#[test]
fn margin_cards_match_and_controls_fail() {
    let views = common::run_family("margin");
    common::snapshot("margin", &serde_json::Value::Array(views));
}
