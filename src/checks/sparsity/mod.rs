//! The `sparsity` family: does depth make sign descent concentrate on the relevant feature of a
//! separable problem (THEORY §5, §8, §9)? Three claims:
//! - [`depth_concentration::DepthConcentration`]: the paper's figure (L = 10 concentrated, L = 1
//!   dense) on a setup of our own, reproduced or INCONCLUSIVE;
//! - [`finite_time::FiniteTime`]: SignGF's exact finite-time law `x_j = (α_j + z_j)^L` and its
//!   concentration ratios `((t − c_j)/(t − c_*))^L`, sharper with L, relaxing in t;
//! - [`depth_margin::DepthMargin`]: the paper's classification setup at its scale (k = 80, a sparse
//!   teacher, L ∈ {1, 2, 3, 5, 10}): recovery and margins over time reported (open), the sign-descent
//!   identity `x_j = (α + z_j)^L − (α − z_j)^L` checked.
//!
//! Shared here: the concentration figures of a direction ([`Concentration`]).

pub mod depth_concentration;
pub mod depth_margin;
pub mod finite_time;

use crate::geometry::sign;
use crate::verdict::{worst, worst_abs};
use nalgebra::DVector;

/// The concentration figures of a direction x (see the module docs); NaN for x = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concentration {
    /// `C = 1 − ‖x/‖x‖∞ − sign(x_1) e_1‖∞` (the relevant feature is coordinate 0).
    pub on_relevant: f64,
    /// `max_{j ≠ argmax} |x_j| / ‖x‖∞`.
    pub runner_up: f64,
    /// `‖x‖₁ / ‖x‖∞`.
    pub effective: f64,
    /// The index of the largest `|x_j|` (ties: the smallest index).
    pub argmax: usize,
}

impl Concentration {
    /// Measures x (length ≥ 2); every figure is NaN when `‖x‖∞` is 0 or not finite.
    pub fn of(x: &DVector<f64>) -> Self {
        let top = worst_abs(x);
        if !(top.is_finite() && top > 0.0) {
            return Self { on_relevant: f64::NAN, runner_up: f64::NAN, effective: f64::NAN, argmax: 0 };
        }
        let u = x / top;
        let argmax = (0..u.len()).find(|&j| u[j].abs() == 1.0).unwrap_or(0);
        let runner_up = (0..u.len()).filter(|&j| j != argmax).map(|j| u[j].abs()).fold(0.0, worst);
        let mut off = u.clone();
        off[0] -= sign(u[0]);
        let distance = worst_abs(&off);
        Self { on_relevant: 1.0 - distance, runner_up, effective: u.iter().map(|v| v.abs()).sum(), argmax }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concentration_figures() {
        let e1 = Concentration::of(&DVector::from_vec(vec![-2.0, 0.0, 0.0]));
        assert_eq!((e1.on_relevant, e1.runner_up, e1.effective, e1.argmax), (1.0, 0.0, 1.0, 0));
        let dense = Concentration::of(&DVector::from_vec(vec![1.0, -1.0, 0.5]));
        assert_eq!((dense.on_relevant, dense.runner_up, dense.effective), (0.0, 1.0, 2.5));
        let other = Concentration::of(&DVector::from_vec(vec![0.2, 4.0, 1.0]));
        assert_eq!((other.on_relevant, other.runner_up, other.argmax), (0.0, 0.25, 1));
        let partial = Concentration::of(&DVector::from_vec(vec![4.0, 1.0, -0.5]));
        assert_eq!((partial.on_relevant, partial.runner_up), (0.75, 0.25));
        assert!(Concentration::of(&DVector::zeros(3)).on_relevant.is_nan());
        assert!(Concentration::of(&DVector::from_vec(vec![1.0, f64::NAN])).runner_up.is_nan());
    }
}
