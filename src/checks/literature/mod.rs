//! The `literature` family: the diagonal-network implicit-bias canon (issue 14) as executable
//! claims, each re-derived in THEORY §5.5–§5.7 and checked by two independent routes:
//! - [`exact_trajectories::ExactTrajectories`]: scalar u·v under GF, the balanced logistic and the
//!   λ-balanced closed-form trajectory and time to a level (through a sign change of x);
//! - [`gd_effective_init::GdEffectiveInit`]: GD on u⊙v, the exact per-coordinate identity and the
//!   GD limit as a Bregman projection with an effective scale and a shifted reference;
//! - [`depth_tie_break::DepthTieBreak`]: when the min-ℓ1 set is a face, the small-α limit of the
//!   two-sided depth-D model selects argmin Σ|x|ln|x| (D = 2) or argmax Σ|x|^{2/D} (D ≥ 3) on it;
//! - [`saddle_to_saddle::SaddleToSaddleClaim`]: GF on the two-sided depth-2 model as α → 0 in the
//!   time t/ln(1/α) against Algorithm 1 of Pesme & Flammarion (jump times, saddles, inactive sizes).

pub mod depth_tie_break;
pub mod exact_trajectories;
pub mod gd_effective_init;
pub mod saddle_to_saddle;

/// `case` and `more`, space-separated (either may be empty).
pub(crate) fn label(case: &str, more: &str) -> String {
    [case, more].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}
