//! The `convergence` family: the paper's convergence statement (Thm 4.2, THEORY §9) along steepest
//! flows on random least squares, one claim per file:
//! - [`bound::Bound`]: `∫‖∇f‖²dt ≤ B^{2−q}(f_0 − f_∞)/μ` and the linear rate
//!   `f − f* ≤ (f_0 − f*)e^{−2σμB^{q−2}t}` from the coercive initialisation.

pub mod bound;
