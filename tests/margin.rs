//! The `margin` family: exponential-loss steepest flows on separable data vs the ℓ_{p/L}
//! max-margin problems — (L, q) = (2, 2) ℓ1 LP, (3, 2) nonconvex ℓ_{2/3} by vertex enumeration,
//! (2, 1.5) ℓ_{3/2} power cones, SignGF ℓ∞ LP at L = 1, 2, 3 — with wrong-exponent and
//! global-optimum controls that must FAIL. Evidence snapshotted.
mod common;

#[test]
fn margin_cards_match_and_controls_fail() {
    let views = common::run_family("margin");
    common::snapshot("margin", &serde_json::Value::Array(views));
}
