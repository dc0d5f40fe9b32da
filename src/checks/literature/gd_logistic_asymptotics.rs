//! `literature/gd-logistic-asymptotics` (Soudry, Hoffer, Nacson, Gunasekar, Srebro, JMLR 2018;
//! THEORY §5.10): gradient descent `w ← w + η Σ_n exp(−z_nᵀw) z_n` on the exponential loss
//! `L(w) = Σ_n exp(−z_nᵀw)` of separable signed samples `z_n = y_n a_n`, linear model (depth 1).
//!
//! Claim: `w_k = ŵ ln(ηk) + w̃ + r_k` with `r_k → 0`, where ŵ is the ℓ2 max-margin point
//! (`min ‖w‖₂ s.t. z_nᵀw ≥ 1`), `ŵ = Σ_{n∈S} α_n z_n` (α ≥ 0 on the support vectors S, the
//! constraints active at ŵ) and `exp(−z_nᵀw̃) = α_n` on S. When S spans R^d these are d linear
//! equations `z_nᵀw̃ = −ln α_n`; linearising in s = ln(ηk) gives `dr/ds = −H r + …`,
//! `H = Σ_S α_n z_n z_nᵀ` (`Hŵ = ŵ`), so `‖r_k‖ ~ C (ηk)^{−ν}`, `ν = min(λ_min(H), θ − 1)` with
//! θ the smallest non-support margin `z_nᵀŵ` (the Euler error of GD is O(1/k) and λ_min(H) ≤ 1).
//!
//! Routes: ŵ from clarabel's QP (or the claimed ℓ∞ LP) against the GD secant
//! `(w_K − w_{K/10})/ln 10`; α from NNLS on the support against the QP's multipliers; w̃ from the
//! linear solve (no GD input) in the residual `w_K − ŵ ln(ηK) − w̃`; ν from the eigenvalues of H
//! and the margins against the fitted slope of ln|u·r_k| over ln k, u the eigenvector of λ_min(H)
//! (orthogonal to ŵ): the remainder's leading component, which must carry most of r_K.

use super::label;
use crate::checks::{Claim, Numerics};
use crate::discrete::{Method, OptState, Optimizer};
use crate::error::{check_positive, InputError, InputResult};
use crate::fit::fit_line;
use crate::flow::WeightDecay;
use crate::margin::{max_margin, nnls};
use crate::problem::{check_size, Loss, Problem};
use crate::reparam::DeepDiagonal;
use crate::verdict::{Evidence, Metric};
use nalgebra::{DMatrix, DVector};
use schemars::JsonSchema;
use serde::Deserialize;

/// The most GD steps a point may take.
pub const MAX_STEPS: usize = 2_000_000;

/// The largest dimension and sample count of the hand-given data.
pub const MAX_DIM: usize = 8;

/// The claimed asymptotic direction ŵ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The ℓ2 max-margin point (Soudry et al.).
    L2,
    /// The ℓ∞ max-margin point (a wrong claim for GD: sign descent's).
    LInf,
}

impl Direction {
    fn exponent(self) -> f64 {
        match self {
            Direction::L2 => 2.0,
            Direction::LInf => f64::INFINITY,
        }
    }
}

/// The claimed clock of the logarithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// `ŵ ln(ηk)`: gradient-flow time t = ηk, with `exp(−z_nᵀw̃) = α_n`.
    EtaK,
    /// `ŵ ln k` with the same w̃ (the step η dropped: a wrong constant).
    K,
}

/// The claimed order of the remainder `‖r_k‖ ~ k^{−ν}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Rate {
    /// `ν = min(λ_min(H), θ − 1)` (THEORY §5.10).
    Spectral,
    /// `ν = 1` (the order of GD's Euler error alone: a wrong claim when λ_min(H) < 1).
    OneOverK,
}

fn default_points() -> Vec<Vec<f64>> {
    vec![vec![1.0, 0.1], vec![0.25, 1.0], vec![3.0, 1.5], vec![1.5, 3.0]]
}

fn default_init() -> Vec<f64> {
    vec![1.0, -1.0]
}

fn default_lr() -> f64 {
    0.1
}

fn default_steps() -> usize {
    1_000_000
}

fn default_fit_from() -> usize {
    10_000
}

fn l2() -> Direction {
    Direction::L2
}

fn eta_k() -> Clock {
    Clock::EtaK
}

fn spectral() -> Rate {
    Rate::Spectral
}

/// GD on the exponential loss: `w_k = ŵ ln(ηk) + w̃ + o(1)` with the constants of THEORY §5.10.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GdLogisticAsymptotics {
    /// The signed samples `z_n = y_n a_n`, one row each (the problem has `a = z`, labels +1); they
    /// must be linearly separable.
    #[serde(default = "default_points")]
    pub points: Vec<Vec<f64>>,
    /// The start w_0 (length d).
    #[serde(default = "default_init")]
    pub init: Vec<f64>,
    /// Step size η > 0.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Steps K (≤ 2e6).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// First step of the fit window [fit_from, K] of the remainder's order (K/fit_from ≥ 10).
    #[serde(default = "default_fit_from")]
    pub fit_from: usize,
    /// The claimed direction ŵ.
    #[serde(default = "l2")]
    pub direction: Direction,
    /// The claimed clock of the logarithm.
    #[serde(default = "eta_k")]
    pub clock: Clock,
    /// The claimed order of the remainder.
    #[serde(default = "spectral")]
    pub rate: Rate,
}

/// The tolerances of `literature/gd-logistic-asymptotics`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GdLogisticTolerance {
    /// Relative distance ‖ŵ_GD − ŵ‖/‖ŵ‖ of the secant slope `(w_K − w_{K/10})/ln 10`.
    pub direction: f64,
    /// Relative residual of `ŵ = Σ_S α_n z_n` (NNLS) and relative distance of α to the QP's
    /// multipliers.
    pub multipliers: f64,
    /// The remainder ‖w_K − ŵ ln(ηK) − w̃‖ at the last step (absolute).
    pub residual: f64,
    /// |fitted − predicted| order ν of the remainder (the fit and each decade's ratio).
    pub exponent: f64,
}

/// The constants of the asymptotic form for a claimed direction ŵ.
#[derive(Debug, Clone)]
pub struct Asymptotics {
    /// The max-margin point ŵ (margins ≥ 1).
    pub w_hat: DVector<f64>,
    /// The support S: samples with `z_nᵀŵ ≤ 1 + 1e−6`.
    pub support: Vec<usize>,
    /// α ≥ 0 on S by NNLS of `Z_Sᵀα = ŵ`.
    pub alpha: DVector<f64>,
    /// `‖Z_Sᵀα − ŵ‖/‖ŵ‖`: zero iff ŵ is a KKT point of the ℓ2 problem.
    pub stationarity: f64,
    /// w̃ with `z_nᵀw̃ = −ln α_n` on S, when S spans R^d (|S| = d, Z_S invertible, α > 0).
    pub w_tilde: Option<DVector<f64>>,
    /// `H = Σ_S α_n z_n z_nᵀ`'s smallest eigenvalue.
    pub lambda_min: f64,
    /// Its unit eigenvector (the slow mode of the remainder).
    pub slow_mode: DVector<f64>,
    /// The smallest non-support margin θ (∞ without non-support samples).
    pub theta: f64,
}

/// The constants for the claimed max-margin point: ŵ from [`max_margin`] in the ℓ_r norm, then
/// the support, α by [`nnls`], w̃ by the linear solve and the spectrum of H — no GD input.
pub fn asymptotics(z: &DMatrix<f64>, r: f64) -> InputResult<Asymptotics> {
    let w_hat = max_margin(z, r)?.x;
    let margins = z * &w_hat;
    let support: Vec<usize> = (0..z.nrows()).filter(|&n| margins[n] <= 1.0 + 1e-6).collect();
    let zs = z.select_rows(&support);
    // an exhausted active-set budget leaves α undefined: NaN figures, an INCONCLUSIVE row
    let alpha = nnls(&zs.transpose(), &w_hat).unwrap_or_else(|| DVector::from_element(support.len(), f64::NAN));
    let stationarity = (zs.transpose() * &alpha - &w_hat).norm() / w_hat.norm();
    let h = zs.transpose() * DMatrix::from_diagonal(&alpha) * &zs;
    let eig = h.symmetric_eigen();
    let slowest = eig.eigenvalues.imin();
    let (lambda_min, slow_mode) = (eig.eigenvalues[slowest], eig.eigenvectors.column(slowest).into_owned());
    let theta = (0..z.nrows()).filter(|n| !support.contains(n)).map(|n| margins[n]).fold(f64::INFINITY, f64::min);
    let d = z.ncols();
    let w_tilde = if support.len() == d && alpha.iter().all(|&a| a > 0.0) {
        zs.clone().lu().solve(&alpha.map(|a| -a.ln())).filter(|w| w.iter().all(|v| v.is_finite()))
    } else {
        None
    };
    Ok(Asymptotics { w_hat, support, alpha, stationarity, w_tilde, lambda_min, slow_mode, theta })
}

/// GD iterates at the requested steps (ascending, ≥ 1), from the engine's optimizer on the depth-1
/// (linear) model; stops early at a non-finite iterate.
pub fn gd_checkpoints(problem: &Problem, w0: &DVector<f64>, lr: f64, at: &[usize]) -> Vec<(usize, DVector<f64>)> {
    let model = DeepDiagonal::new(1, problem.dim());
    let gd = Optimizer { method: Method::Gd, lr, decay: WeightDecay::None };
    let mut s = OptState::new(w0);
    let mut out = Vec::with_capacity(at.len());
    let mut k = 0;
    for &target in at {
        while k < target {
            gd.step(problem, &model, &mut s);
            k += 1;
        }
        if s.w.iter().any(|v| !v.is_finite()) {
            break;
        }
        out.push((k, s.w.clone()));
    }
    out
}

impl GdLogisticAsymptotics {
    fn data(&self) -> DMatrix<f64> {
        let d = self.points[0].len();
        DMatrix::from_fn(self.points.len(), d, |n, j| self.points[n][j])
    }
}

impl Claim for GdLogisticAsymptotics {
    const ID: &'static str = "literature/gd-logistic-asymptotics";
    type Tolerance = GdLogisticTolerance;

    fn validate(&self) -> InputResult<()> {
        let d = self.points.first().map_or(0, Vec::len);
        check_size(self.points.len(), d).map_err(|e| InputError::new("points", e.message))?;
        if self.points.len() > MAX_DIM * 4 || d > MAX_DIM {
            return Err(InputError::new("points", format!("at most {} samples of dimension ≤ {MAX_DIM}", MAX_DIM * 4)));
        }
        if self.points.iter().any(|p| p.len() != d || p.iter().any(|v| !v.is_finite())) {
            return Err(InputError::new("points", format!("every row needs {d} finite entries")));
        }
        if self.init.len() != d || self.init.iter().any(|v| !v.is_finite()) {
            return Err(InputError::new("init", format!("needs {d} finite entries (the dimension of points)")));
        }
        check_positive("lr", self.lr)?;
        if !(10..=MAX_STEPS).contains(&self.steps) {
            return Err(InputError::new("steps", format!("must lie in [10, {MAX_STEPS}]")));
        }
        if self.fit_from == 0 || self.fit_from.saturating_mul(10) > self.steps {
            return Err(InputError::new("fit_from", "must be ≥ 1 and ≤ steps/10 (a decade to fit)"));
        }
        Ok(())
    }

    fn evidence(&self, case: &str, tol: &GdLogisticTolerance, _numerics: &Numerics) -> InputResult<Vec<Evidence>> {
        let z = self.data();
        let d = z.ncols();
        let problem = Problem::new(z.clone(), DVector::from_element(z.nrows(), 1.0), Loss::Exponential)
            .map_err(|e| InputError::new("points", e.message))?;
        let case = label(case, "");
        let r = self.direction.exponent();
        let truth = asymptotics(&z, 2.0).map_err(|e| InputError::new("points", e.message))?;
        let claim = if self.direction == Direction::L2 {
            truth.clone()
        } else {
            asymptotics(&z, r).map_err(|e| InputError::new("points", e.message))?
        };
        let mut rows = Vec::new();
        let name = format!("{:?}", self.direction).to_lowercase();
        rows.push(Evidence::observe(
            &case,
            "support vectors |S|",
            claim.support.len() as f64,
            &format!("{name} max-margin point"),
        ));
        rows.push(Evidence::observe(
            &case,
            "λ_min(H), H = Σ_S α_n z_n z_nᵀ",
            truth.lambda_min,
            "ℓ2 QP + NNLS, eigenvalues",
        ));
        rows.push(Evidence::observe(&case, "θ − 1 (smallest non-support margin)", truth.theta - 1.0, "ℓ2 QP"));

        let beta = problem.loss(&DVector::from_vec(self.init.clone()))
            * (0..z.nrows()).map(|n| z.row(n).norm_squared()).fold(0.0, f64::max);
        rows.push(Evidence::observe(
            &case,
            "ηβ, β = L(w_0)·max‖z_n‖² (Hessian bound on the sublevel set; the theorem assumes ηβ < 2)",
            self.lr * beta,
            "loss at the start",
        ));

        // checkpoints: K/10, and 4 per decade from fit_from to K
        let k_end = self.steps;
        let decades = (k_end as f64 / self.fit_from as f64).log10();
        let per = (4.0 * decades).floor() as usize;
        let mut at: Vec<usize> =
            (0..=per).map(|j| (self.fit_from as f64 * 10f64.powf(j as f64 / 4.0)).round() as usize).collect();
        at.push(k_end / 10);
        at.push(k_end);
        at.sort_unstable();
        at.dedup();
        let w0 = DVector::from_vec(self.init.clone());
        let run = gd_checkpoints(&problem, &w0, self.lr, &at);
        let gd_route = format!("GD (engine optimizer, depth 1, η = {}) to K = {k_end}", self.lr);
        if run.len() < at.len() {
            rows.push(Evidence::inconclusive(&case, "GD iterates", &gd_route, "a non-finite iterate (η too large?)"));
            return Ok(rows);
        }
        let at_k = |k: usize| run.iter().find(|(j, _)| *j == k).map(|(_, w)| w.clone()).expect("recorded");

        // (a) the direction: secant slope over the last decade
        let secant = (at_k(k_end) - at_k(k_end / 10)) / 10f64.ln();
        rows.push(Evidence::with_error(
            &case,
            "ŵ: secant (w_K − w_{K/10})/ln 10 vs the max-margin point (relative distance)",
            claim.w_hat.norm(),
            secant.norm(),
            (&secant - &claim.w_hat).norm() / claim.w_hat.norm(),
            tol.direction,
            &format!("{name} max-margin point (clarabel) vs {gd_route}"),
        ));

        // (b) the multipliers: stationarity of the claimed point, and NNLS against the QP
        rows.push(Evidence::with_error(
            &case,
            "ŵ = Σ_S α_n z_n with α ≥ 0 (relative residual)",
            0.0,
            claim.stationarity,
            claim.stationarity,
            tol.multipliers,
            &format!("NNLS on the support of the {name} max-margin point"),
        ));
        if self.direction == Direction::L2 {
            let qp = max_margin(&z, 2.0).map_err(|e| InputError::new("points", e.message))?;
            let nu = DVector::from_iterator(claim.support.len(), claim.support.iter().map(|&n| qp.nu[n].abs()));
            rows.push(Evidence::with_error(
                &case,
                "α: NNLS vs the QP's multipliers (relative distance)",
                nu.norm(),
                claim.alpha.norm(),
                (&nu - &claim.alpha).norm() / nu.norm(),
                tol.multipliers,
                "clarabel QP multipliers vs NNLS of Z_Sᵀα = ŵ",
            ));
        }

        // (c) the remainder with w̃ from the linear solve
        let Some(w_tilde) = claim.w_tilde.clone() else {
            let why = format!(
                "the support ({} vectors) does not span R^{d} with α > 0: w̃ is not fixed by exp(−z_nᵀw̃) = α_n",
                claim.support.len()
            );
            rows.push(Evidence::inconclusive(&case, "w̃", "linear solve on the support", why));
            return Ok(rows);
        };
        rows.push(Evidence::observe(&case, "‖w̃‖", w_tilde.norm(), "z_nᵀw̃ = −ln α_n on S (LU)"));
        let clock = |k: usize| match self.clock {
            Clock::EtaK => (self.lr * k as f64).ln(),
            Clock::K => (k as f64).ln(),
        };
        let remainders: Vec<(usize, DVector<f64>)> =
            run.iter().map(|(k, w)| (*k, w - &claim.w_hat * clock(*k) - &w_tilde)).collect();
        let remainder: Vec<(usize, f64)> = remainders.iter().map(|(k, r)| (*k, r.norm())).collect();
        let r_end = remainder.last().expect("K recorded").1;
        let slow_share = truth.slow_mode.dot(&remainders.last().expect("K recorded").1).abs() / r_end;
        let clock_name = match self.clock {
            Clock::EtaK => "ln(ηK)",
            Clock::K => "ln K",
        };
        rows.push(Evidence::with_error(
            &case,
            &format!("‖w_K − ŵ {clock_name} − w̃‖ (remainder at K)"),
            0.0,
            r_end,
            r_end,
            tol.residual,
            &format!("w̃ from the linear solve (no GD input) vs {gd_route}"),
        ));

        // (d) its order: fit over [fit_from, K] and decade by decade
        let competing = (truth.theta - 1.0).min(1.0);
        let nu = match self.rate {
            Rate::Spectral => truth.lambda_min.min(truth.theta - 1.0),
            Rate::OneOverK => 1.0,
        };
        // the slow component u·r_k (u ⟂ ŵ, the eigenvector of λ_min(H)): the remainder's leading term
        let window: Vec<(usize, f64)> = remainders
            .iter()
            .filter(|(k, _)| *k >= self.fit_from)
            .map(|(k, r)| (*k, truth.slow_mode.dot(r).abs()))
            .collect();
        let fit_quantity = "order ν of the remainder: −slope of ln|u·r_k| over ln k";
        let route = "eigenvalues of H and margins (QP) vs least-squares fit of GD's remainder";
        rows.push(Evidence::observe(
            &case,
            "|u·r_K|/‖r_K‖ (share of H's slow mode u in the remainder)",
            slow_share,
            "eigenvector of H",
        ));
        if slow_share < 0.5 {
            let why = format!(
                "the slow mode carries only {slow_share:.2} of the remainder at K: this start barely excites it, so the window sees the faster orders"
            );
            rows.push(Evidence::inconclusive(&case, fit_quantity, route, why));
            return Ok(rows);
        }
        if competing - truth.lambda_min < 0.2 {
            let why = format!(
                "the competing orders min(θ − 1, 1) = {competing:.3} and λ_min(H) = {:.3} lie within 0.2: the window cannot separate them",
                truth.lambda_min
            );
            rows.push(Evidence::inconclusive(&case, fit_quantity, route, why));
            return Ok(rows);
        }
        let points: Vec<(f64, f64)> = window.iter().map(|(k, r)| ((*k as f64).ln(), r.ln())).collect();
        let fit = fit_line(&points);
        rows.push(Evidence::compare(&case, fit_quantity, nu, -fit.slope, tol.exponent, Metric::Absolute, route));
        for (k, r) in &window {
            let Some((_, r10)) = window.iter().find(|(j, _)| *j == 10 * k) else { continue };
            let local = (r / r10).log10();
            rows.push(Evidence::with_error(
                &case,
                &format!("|u·r_{{10k}}|/|u·r_k|, k = {k:e}"),
                10f64.powf(-nu),
                r10 / r,
                (local - nu).abs(),
                tol.exponent,
                "10^{−ν} vs GD's remainder along u (error: |local order − ν|)",
            ));
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_support_vectors_by_hand() {
        // z1 = (1, 0), z2 = (0, 2): ŵ = (1, 1/2), α = (1, 1/4), w̃ = (0, ln 4 / 2), H = diag(1, 1)
        let z = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 2.0, 3.0, 3.0]);
        let a = asymptotics(&z, 2.0).unwrap();
        assert!((&a.w_hat - DVector::from_vec(vec![1.0, 0.5])).norm() < 1e-7, "{}", a.w_hat);
        assert_eq!(a.support, vec![0, 1]);
        assert!((&a.alpha - DVector::from_vec(vec![1.0, 0.25])).norm() < 1e-7);
        let w = a.w_tilde.unwrap();
        assert!((w[0]).abs() < 1e-6 && (w[1] - 4f64.ln() / 2.0).abs() < 1e-6, "{w}");
        assert!((a.lambda_min - 1.0).abs() < 1e-6 && (a.theta - 4.5).abs() < 1e-6);
    }

    #[test]
    fn gd_steps_follow_the_exponential_loss_update() {
        // one step by hand: w_1 = w_0 + η Σ_n exp(−z_nᵀw_0) z_n
        let z = DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 2.0]);
        let p = Problem::new(z, DVector::from_element(2, 1.0), Loss::Exponential).unwrap();
        let w0 = DVector::from_vec(vec![0.5, -0.25]);
        let run = gd_checkpoints(&p, &w0, 0.1, &[1]);
        let expected = DVector::from_vec(vec![0.5 + 0.1 * (-0.5f64).exp(), -0.25 + 0.1 * 2.0 * 0.5f64.exp()]);
        assert!((&run[0].1 - expected).amax() < 1e-15);
        // orthogonal support vectors: H = I, and the remainder falls at least like (ηk)^{−1/2} here
        let a = asymptotics(&p.a, 2.0).unwrap();
        let w_tilde = a.w_tilde.unwrap();
        let run = gd_checkpoints(&p, &w0, 0.1, &[1000, 100_000]);
        let r: Vec<f64> = run.iter().map(|(k, w)| (w - &a.w_hat * (0.1 * *k as f64).ln() - &w_tilde).norm()).collect();
        assert!(r[1] < 0.1 * r[0] && r[1] < 1e-3, "{r:?}");
    }

    #[test]
    fn w_hat_is_an_eigenvector_of_h_with_eigenvalue_one() {
        // Hŵ = Σ α_n z_n (z_nᵀŵ) = Σ α_n z_n = ŵ on the support
        let p = GdLogisticAsymptotics {
            points: default_points(),
            init: default_init(),
            lr: 0.1,
            steps: 100,
            fit_from: 10,
            direction: Direction::L2,
            clock: Clock::EtaK,
            rate: Rate::Spectral,
        };
        let z = p.data();
        let a = asymptotics(&z, 2.0).unwrap();
        let zs = z.select_rows(&a.support);
        let h = zs.transpose() * DMatrix::from_diagonal(&a.alpha) * &zs;
        assert!((&h * &a.w_hat - &a.w_hat).norm() < 1e-6 * a.w_hat.norm());
    }
}
