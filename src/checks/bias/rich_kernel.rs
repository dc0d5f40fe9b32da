//! `bias/rich-kernel`: for the two-sided depth-2 model under GF (Woodworth et al. 2020), the
//! Bregman projection x(α) over a sweep of α tends to the min-ℓ1 interpolator as α → 0 with
//! `‖x(α) − x_ℓ1‖ ≈ C α^{2c}` (THEORY §8: c the smallest off-support slack `1 − |Aᵀν|` of the ℓ1
//! dual certificate ν), and to the min-ℓ2 interpolator as α grows (x0 = 0).
//!
//! Rows: the log-log slope of the distance to the claimed small-α limit over the two smallest α
//! against `2c`; the trend along the sweep (the distance to the small-α limit grows, the one to
//! the large-α limit shrinks); at the largest α the ratio of the distance to the large-α limit to
//! the distance to the small-α limit.

use super::{one_seed, predicted_limit, regression, Model};
use crate::bias;
use crate::checks::{Claim, Numerics};
use crate::error::{finite, InputError, InputResult};
use crate::verdict::{Evidence, Metric};
use schemars::JsonSchema;
use serde::Deserialize;

/// The interpolators the projection is claimed to tend to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// `argmin ‖x‖₁ s.t. Ax = y` (clarabel LP).
    MinL1,
    /// `argmin ‖x‖₂ s.t. Ax = y` (clarabel QP).
    MinL2,
}

fn min_l1() -> Limit {
    Limit::MinL1
}

fn four() -> usize {
    4
}

fn eight() -> usize {
    8
}

/// Two-sided depth-2 GF: small α → min-ℓ1 at the rate α^{2c}, large α → min-ℓ2.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichKernel {
    /// The α sweep (at least three values, increasing); the rate is fitted on the two smallest,
    /// the kernel end is the largest.
    pub alphas: Vec<f64>,
    /// Seed of the random regression.
    #[serde(default = "one_seed")]
    pub seed: u64,
    /// Number of samples n.
    #[serde(default = "four")]
    pub samples: usize,
    /// Dimension d.
    #[serde(default = "eight")]
    pub dim: usize,
    /// y = A x* with a k-sparse positive x* (0: Gaussian y).
    #[serde(default)]
    pub sparsity: usize,
    /// The claimed small-α limit: `min-l1` (the theory) or `min-l2`; the large-α limit claimed is
    /// the other one.
    #[serde(default = "min_l1")]
    pub small_limit: Limit,
    /// The claimed rate exponent as a multiple of 2c (default 1: THEORY §8).
    pub rate_exponent: Option<f64>,
}

/// The tolerances of `bias/rich-kernel`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichKernelTolerance {
    /// Relative error of the fitted rate exponent.
    pub rate: f64,
    /// Largest ratio ‖x − x_large‖/‖x − x_small‖ at the largest α.
    pub limit: f64,
}

/// The trend row counts violations (integers): any violation is ≥ 1, so half a count separates.
const COUNT_TOLERANCE: f64 = 0.5;

impl Claim for RichKernel {
    const ID: &'static str = "bias/rich-kernel";
    type Tolerance = RichKernelTolerance;

    fn validate(&self) -> InputResult<()> {
        regression(Model::TwoSided, 2, 2.0, 1.0, 0.0, self.seed, self.samples, self.dim, self.sparsity)?;
        if let Some(a) = self.alphas.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
            return Err(InputError::new("alphas", format!("every α must be positive and finite, got {a}")));
        }
        if self.alphas.len() < 3 || self.alphas.windows(2).any(|w| w[1] <= w[0]) {
            return Err(InputError::new("alphas", "needs at least three increasing values"));
        }
        if self.alphas.len() > 50 {
            return Err(InputError::new("alphas", "at most 50 values (a budget)"));
        }
        if let Some(r) = self.rate_exponent {
            finite("rate_exponent", r)?;
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &RichKernelTolerance, _: &Numerics) -> InputResult<Vec<Evidence>> {
        let s = regression(Model::TwoSided, 2, 2.0, 1.0, 0.0, self.seed, self.samples, self.dim, self.sparsity)?;
        let (a, y) = (&s.problem.a, &s.problem.y);
        let alphas = &self.alphas;
        let l1 = match bias::min_l1(a, y) {
            Ok(r) => r,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "min-ℓ1", "clarabel LP", e.message)]),
        };
        let l2 = match bias::euclidean_projection(a, y, &nalgebra::DVector::zeros(s.model.dim)) {
            Ok(r) => r,
            Err(e) => return Ok(vec![Evidence::inconclusive(case, "min-ℓ2", "clarabel QP", e.message)]),
        };
        // off-support slack of the certificate: support = |x_l1| > 1e-8 ‖x_l1‖∞
        let corr = a.tr_mul(&l1.nu).map(f64::abs);
        let xmax = l1.x.amax();
        let c = (0..s.model.dim)
            .filter(|&k| l1.x[k].abs() <= 1e-8 * xmax)
            .map(|k| 1.0 - corr[k])
            .fold(f64::INFINITY, f64::min);
        let exponent = 2.0 * c * self.rate_exponent.unwrap_or(1.0);
        // (distance to min-ℓ1, distance to min-ℓ2) along the sweep
        let mut dist = Vec::new();
        for &alpha in alphas {
            let mut init = s.init.clone();
            init.alpha = alpha;
            let w0 = s.model.init(&init, 2.0)?;
            let proj = predicted_limit(&s.model, &w0, 2.0, &init.constants, a, a, y);
            if !proj.converged {
                return Ok(vec![Evidence::inconclusive(
                    case,
                    "Bregman projection",
                    "dual Newton",
                    format!("α = {alpha}: residual {:.3e}", proj.residual),
                )]);
            }
            dist.push(((&proj.x - &l1.x).norm(), (&proj.x - &l2.x).norm()));
        }
        let (small, large, small_name, large_name) = match self.small_limit {
            Limit::MinL1 => (0, 1, "min-ℓ1", "min-ℓ2"),
            Limit::MinL2 => (1, 0, "min-ℓ2", "min-ℓ1"),
        };
        let pick = |i: usize, which: usize| if which == 0 { dist[i].0 } else { dist[i].1 };
        let mut rows = Vec::new();
        // 1. the rate: log-log slope of the distance to the small-α limit over the two smallest α
        let slope = (pick(1, small) / pick(0, small)).ln() / (alphas[1] / alphas[0]).ln();
        rows.push(Evidence::compare(
            case,
            &format!(
                "slope of ln‖x(α) − x_{small_name}‖ vs ln α on [{:e}, {:e}] (2c, c = {c:.4})",
                alphas[0], alphas[1]
            ),
            exponent,
            slope,
            tol.rate,
            Metric::Relative,
            "dual Newton projections vs clarabel LP certificate",
        ));
        // 2. the trend: along the sweep the distance to the small-α limit grows and the one to the
        // large-α limit shrinks
        let violations = dist
            .windows(2)
            .enumerate()
            .filter(|(i, _)| pick(i + 1, small) < pick(*i, small) || pick(i + 1, large) > pick(*i, large))
            .count() as f64;
        rows.push(Evidence::compare(
            case,
            &format!("trend violations (‖x − x_{small_name}‖ decreasing or ‖x − x_{large_name}‖ increasing in α)"),
            0.0,
            violations,
            COUNT_TOLERANCE,
            Metric::Absolute,
            "dual Newton projections over the α sweep",
        ));
        // 3. the kernel end: the largest α is near the large-α limit
        let last = dist.len() - 1;
        let ratio = pick(last, large) / pick(last, small);
        rows.push(Evidence::with_error(
            case,
            &format!("large α = {:e}: ‖x − x_{large_name}‖/‖x − x_{small_name}‖", alphas[last]),
            0.0,
            ratio,
            ratio,
            tol.limit,
            "dual Newton projection vs clarabel QP and LP",
        ));
        Ok(rows)
    }
}
