//! The `literature` family: the diagonal-network implicit-bias canon (issue 14) as executable
//! claims, each re-derived in THEORY §5.5–§5.12 and checked by two independent routes:
//! - [`exact_trajectories::ExactTrajectories`]: scalar u·v under GF, the balanced logistic and the
//!   λ-balanced closed-form trajectory and time to a level (through a sign change of x);
//! - [`gd_effective_init::GdEffectiveInit`]: GD on u⊙v, the exact per-coordinate identity and the
//!   GD limit as a Bregman projection with an effective scale and a shifted reference;
//! - [`depth_tie_break::DepthTieBreak`]: when the min-ℓ1 set is a face, the small-α limit of the
//!   two-sided depth-D model selects argmin Σ|x|ln|x| (D = 2) or argmax Σ|x|^{2/D} (D ≥ 3) on it;
//! - [`sgd_effective_init::SgdEffectiveInit`]: mini-batch SGD on u⊙v, the same identity along every
//!   path and a limit closer to min-ℓ1 than GD's at the same step;
//! - [`depth_rate::DepthRate`]: the rate at which the two-sided depth-D GF limit approaches min-ℓ1
//!   as α → 0 (α^D K for D ≥ 3, α^{2c_i} off the support for D = 2);
//! - [`gd_logistic_asymptotics::GdLogisticAsymptotics`]: GD on the exponential loss,
//!   w_k = ŵ ln(ηk) + w̃ + o(1) with its constants and the order of the remainder (§5.10);
//! - [`adam_epsilon_margin::AdamEpsilonMargin`]: Adam on the logistic loss tends to the ℓ∞
//!   max-margin direction for ε = 0, and drifts towards ℓ2 for ε > 0 (§5.11);
//! - [`saddle_to_saddle::SaddleToSaddleClaim`]: GF on the two-sided depth-2 model as α → 0 in the
//!   time t/ln(1/α) against Algorithm 1 of Pesme & Flammarion (jump times, saddles, inactive sizes;
//!   §5.12);
//! - [`label_noise::LabelNoise`]: label-noise GD with annealed noise ends at the column-weighted
//!   ℓ1 minimiser argmin Σ‖A_j‖²|x_j| whatever α (§5.13).

pub mod adam_epsilon_margin;
pub mod depth_rate;
pub mod depth_tie_break;
pub mod exact_trajectories;
pub mod gd_effective_init;
pub mod gd_logistic_asymptotics;
pub mod label_noise;
pub mod saddle_to_saddle;
pub mod sgd_effective_init;

/// `case` and `more`, space-separated (either may be empty).
pub(crate) fn label(case: &str, more: &str) -> String {
    [case, more].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}
